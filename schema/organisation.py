"""Departments, posts and employees."""

from __future__ import annotations

import datetime as dt

import strawberry

from resolvers import ids, small_groups
from resolvers.anonymity import WithheldRole
from resolvers.errors import Forbidden, parse_id
from resolvers.organisation import ratings_received, ratings_withheld
from resolvers.records import DepartmentRow, EmployeeRow, PostRow, RatingRow, ResultRow, SchemeVersionRow
from schema import fields
from schema.info import Info
from schema.linked import CompensationRecord, TrainingRecord
from schema.permissions import COMPENSATION, NAMES, ORG_CHART, RATINGS, TRAINING_RECORDS, guarded, guarded_attribute
from schema.refs import AppraisalResultRef, ReceivedRatingRef, SchemeVersionRef, WithheldRatingsRef


@strawberry.type
class Department:
    id: strawberry.ID
    name: str
    code: str

    @fields.field(graphql_type="Department | None")
    async def parent(self, root: strawberry.Parent[DepartmentRow], info: Info) -> DepartmentRow | None:
        if root.parent_id is None:
            return None
        return await info.context.loaders.department_by_id.load(root.parent_id)

    @fields.field(graphql_type="list[Department]")
    async def children(self, root: strawberry.Parent[DepartmentRow], info: Info) -> list[DepartmentRow]:
        return await info.context.loaders.departments_by_parent.load(root.id)

    @fields.field(graphql_type="list[Post]")
    async def posts(self, root: strawberry.Parent[DepartmentRow], info: Info) -> list[PostRow]:
        return await info.context.loaders.posts_by_department.load(root.id)


@strawberry.type(description="A post (岗位): the job an employee holds, appraised under its own scheme.")
class Post:
    id: strawberry.ID
    code: str
    name: str
    family: str

    @fields.field(graphql_type=Department)
    async def department(self, root: strawberry.Parent[PostRow], info: Info) -> DepartmentRow | None:
        return await info.context.loaders.department_by_id.load(root.department_id)

    @fields.field(
        description="The scheme version in force today; null when the post has none yet.",
        graphql_type=SchemeVersionRef | None,
    )
    async def current_scheme(self, root: strawberry.Parent[PostRow], info: Info) -> SchemeVersionRow | None:
        return await info.context.loaders.current_scheme_by_post.load(root.id)

    @fields.field(graphql_type=list[SchemeVersionRef])
    async def scheme_versions(self, root: strawberry.Parent[PostRow], info: Info) -> list[SchemeVersionRow]:
        return await info.context.loaders.scheme_versions_by_post.load(root.id)


SMALL_GROUPS = (
    "Null with a FORBIDDEN error for an analyst without the 'names' grant when fewer than the minimum group "
    "size (PERFHUB_MIN_GROUP_SIZE) share the employee's department and post: the pair would single them out."
)


async def _check_grouping(info: Info, root: EmployeeRow, field: str) -> None:
    if not await small_groups.employee_grouping_shown(info.context, root):
        raise Forbidden(f"not allowed: {field} is withheld, too few people share this department and post")


@strawberry.type
class Employee:
    @fields.field(
        description="Stable for the caller. For an analyst without the 'names' grant it is a pseudonym keyed "
        "per deployment, not the row key: pass it back as it came."
    )
    def id(self, root: strawberry.Parent[EmployeeRow], info: Info) -> strawberry.ID:
        return strawberry.ID(ids.public_id(info.context, ids.EMPLOYEE, root.id))

    # Nullable on purpose, as is every field a rule may deny: a denial nulls this field only, never the
    # employee, the page and everything above it.
    employee_no: str | None = guarded_attribute(NAMES, "employeeNo")
    name: str | None = guarded_attribute(NAMES, "name")

    @fields.field(description="The employee's department. " + SMALL_GROUPS, graphql_type=Department | None)
    async def department(self, root: strawberry.Parent[EmployeeRow], info: Info) -> DepartmentRow | None:
        await _check_grouping(info, root, "department")
        return await info.context.loaders.department_by_id.load(root.department_id)

    @fields.field(description="The employee's current post. " + SMALL_GROUPS, graphql_type=Post | None)
    async def post(self, root: strawberry.Parent[EmployeeRow], info: Info) -> PostRow | None:
        await _check_grouping(info, root, "post")
        return await info.context.loaders.post_by_id.load(root.post_id)

    @guarded(ORG_CHART, "manager", "The employee's manager.", graphql_type="Employee | None")
    async def manager(self, root: strawberry.Parent[EmployeeRow], info: Info) -> EmployeeRow | None:
        if root.manager_id is None:
            return None
        return await info.context.loaders.employee_by_id.load(root.manager_id)

    @fields.field(
        description="The employee's result in a cycle; null when there is none, no such cycle, or the caller "
        "may not see it (employees see published cycles only).",
        graphql_type=AppraisalResultRef | None,
    )
    async def result(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> ResultRow | None:
        cycle_key = parse_id(cycle_id)
        if cycle_key is None:
            return None
        return await info.context.loaders.result_by_employee_cycle.load((root.id, cycle_key))

    @guarded(
        RATINGS,
        "ratingsReceived",
        "The ratings the employee received in a cycle, by indicator, role, value and comment (never by rater "
        "or time). Peer and subordinate raters are anonymous: rater and submittedAt are null, and a role's "
        "ratings are listed only when at least PERFHUB_MIN_ANONYMOUS_RATERS (default 3) distinct raters of "
        "that role rated the employee in the cycle, and the cycle is past OPEN (no rating can be singled out "
        "by arriving between two reads); otherwise they are left out and ratingsWithheld counts them "
        "(hr_admin sees every rating). The score counts every rating, listed or not.",
        graphql_type=list[ReceivedRatingRef] | None,
    )
    async def ratings_received(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> list[RatingRow]:
        return await ratings_received(info.context, root, cycle_id)

    @guarded(
        RATINGS,
        "ratingsWithheld",
        "The anonymous rater roles (peer, subordinate) whose ratings ratingsReceived leaves out because fewer "
        "than PERFHUB_MIN_ANONYMOUS_RATERS (default 3) distinct raters of the role rated the employee in the "
        "cycle, or because the cycle is still OPEN: the role, its number of raters and the reason only. Empty "
        "for hr_admin, who sees every rating.",
        graphql_type=list[WithheldRatingsRef] | None,
    )
    async def ratings_withheld(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> list[WithheldRole]:
        return await ratings_withheld(info.context, root, cycle_id)

    @fields.field(
        description="Every result of the employee the caller may see, oldest cycle first (employees see "
        "published cycles only).",
        graphql_type=list[AppraisalResultRef],
    )
    async def results(self, root: strawberry.Parent[EmployeeRow], info: Info) -> list[ResultRow]:
        return await info.context.loaders.results_by_employee.load(root.id)

    @guarded(
        TRAINING_RECORDS,
        "trainingRecords",
        "From the training system, fetched on demand. Null with an error when that system is unavailable.",
    )
    async def training_records(
        self, root: strawberry.Parent[EmployeeRow], info: Info, since: dt.date | None = None
    ) -> list[TrainingRecord] | None:
        return await info.context.loaders.training_records_by_employee.load((root.employee_no, since))

    @guarded(
        COMPENSATION,
        "compensationRecords",
        "From the payroll system, fetched on demand. Null with an error when that system is unavailable.",
    )
    async def compensation_records(
        self, root: strawberry.Parent[EmployeeRow], info: Info
    ) -> list[CompensationRecord] | None:
        return await info.context.loaders.compensation_records_by_employee.load(root.employee_no)
