"""Departments, posts and employees."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import ids, small_groups
from resolvers.errors import Forbidden, parse_id
from resolvers.loaders.base import Record
from resolvers.organisation import ratings_received, ratings_withheld
from schema.info import Info
from schema.linked import CompensationRecord, TrainingRecord
from schema.permissions import COMPENSATION, NAMES, ORG_CHART, RATINGS, TRAINING_RECORDS, guarded

if TYPE_CHECKING:
    from schema.indicators import SchemeVersion
    from schema.ratings import ReceivedRating, WithheldRatings
    from schema.results import AppraisalResult

SchemeVersionRef = Annotated["SchemeVersion", strawberry.lazy("schema.indicators")]
AppraisalResultRef = Annotated["AppraisalResult", strawberry.lazy("schema.results")]
ReceivedRatingRef = Annotated["ReceivedRating", strawberry.lazy("schema.ratings")]
WithheldRatingsRef = Annotated["WithheldRatings", strawberry.lazy("schema.ratings")]


@strawberry.type
class Department:
    id: strawberry.ID
    name: str
    code: str

    @strawberry.field
    async def parent(self, root: strawberry.Parent[Record], info: Info) -> Department | None:
        if root.parent_id is None:
            return None
        return await info.context.loaders.department_by_id.load(root.parent_id)

    @strawberry.field
    async def children(self, root: strawberry.Parent[Record], info: Info) -> list[Department]:
        return await info.context.loaders.departments_by_parent.load(root.id)

    @strawberry.field
    async def posts(self, root: strawberry.Parent[Record], info: Info) -> list[Post]:
        return await info.context.loaders.posts_by_department.load(root.id)


@strawberry.type(description="A post (岗位): the job an employee holds, appraised under its own scheme.")
class Post:
    id: strawberry.ID
    code: str
    name: str
    family: str

    @strawberry.field
    async def department(self, root: strawberry.Parent[Record], info: Info) -> Department:
        return await info.context.loaders.department_by_id.load(root.department_id)

    @strawberry.field(description="The scheme version in force today; null when the post has none yet.")
    async def current_scheme(self, root: strawberry.Parent[Record], info: Info) -> SchemeVersionRef | None:
        return await info.context.loaders.current_scheme_by_post.load(root.id)

    @strawberry.field
    async def scheme_versions(self, root: strawberry.Parent[Record], info: Info) -> list[SchemeVersionRef]:
        return await info.context.loaders.scheme_versions_by_post.load(root.id)


SMALL_GROUPS = (
    "Null with a FORBIDDEN error for an analyst without the 'names' grant when fewer than the minimum group "
    "size (PERFHUB_MIN_GROUP_SIZE) share the employee's department and post: the pair would single them out."
)


async def _check_grouping(info: Info, root: Record, field: str) -> None:
    if not await small_groups.employee_grouping_shown(info.context, root):
        raise Forbidden(f"not allowed: {field} is withheld, too few people share this department and post")


@strawberry.type
class Employee:
    @strawberry.field(
        description="Stable for the caller. For an analyst without the 'names' grant it is a pseudonym keyed "
        "per deployment, not the row key: pass it back as it came."
    )
    def id(self, root: strawberry.Parent[Record], info: Info) -> strawberry.ID:
        return strawberry.ID(ids.public_id(info.context, ids.EMPLOYEE, root.id))

    # Nullable on purpose, as is every field a rule may deny: a denial nulls this field only, never the
    # employee, the page and everything above it.
    employee_no: str | None = guarded(NAMES, "employeeNo")
    name: str | None = guarded(NAMES, "name")

    @strawberry.field(description="The employee's department. " + SMALL_GROUPS)
    async def department(self, root: strawberry.Parent[Record], info: Info) -> Department | None:
        await _check_grouping(info, root, "department")
        return await info.context.loaders.department_by_id.load(root.department_id)

    @strawberry.field(description="The employee's current post. " + SMALL_GROUPS)
    async def post(self, root: strawberry.Parent[Record], info: Info) -> Post | None:
        await _check_grouping(info, root, "post")
        return await info.context.loaders.post_by_id.load(root.post_id)

    @guarded(ORG_CHART, "manager", "The employee's manager.")
    async def manager(self, root: strawberry.Parent[Record], info: Info) -> Employee | None:
        if root.manager_id is None:
            return None
        return await info.context.loaders.employee_by_id.load(root.manager_id)

    @strawberry.field(
        description="The employee's result in a cycle; null when there is none, no such cycle, or the caller "
        "may not see it (employees see published cycles only)."
    )
    async def result(
        self, root: strawberry.Parent[Record], info: Info, cycle_id: strawberry.ID
    ) -> AppraisalResultRef | None:
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
    )
    async def ratings_received(
        self, root: strawberry.Parent[Record], info: Info, cycle_id: strawberry.ID
    ) -> list[ReceivedRatingRef] | None:
        return await ratings_received(info.context, root, cycle_id)

    @guarded(
        RATINGS,
        "ratingsWithheld",
        "The anonymous rater roles (peer, subordinate) whose ratings ratingsReceived leaves out because fewer "
        "than PERFHUB_MIN_ANONYMOUS_RATERS (default 3) distinct raters of the role rated the employee in the "
        "cycle, or because the cycle is still OPEN: the role, its number of raters and the reason only. Empty "
        "for hr_admin, who sees every rating.",
    )
    async def ratings_withheld(
        self, root: strawberry.Parent[Record], info: Info, cycle_id: strawberry.ID
    ) -> list[WithheldRatingsRef] | None:
        return await ratings_withheld(info.context, root, cycle_id)

    @strawberry.field(
        description="Every result of the employee the caller may see, oldest cycle first (employees see "
        "published cycles only)."
    )
    async def results(self, root: strawberry.Parent[Record], info: Info) -> list[AppraisalResultRef]:
        return await info.context.loaders.results_by_employee.load(root.id)

    @guarded(
        TRAINING_RECORDS,
        "trainingRecords",
        "From the training system, fetched on demand. Null with an error when that system is unavailable.",
    )
    async def training_records(
        self, root: strawberry.Parent[Record], info: Info, since: dt.date | None = None
    ) -> list[TrainingRecord] | None:
        return await info.context.loaders.training_records_by_employee.load((root.employee_no, since))

    @guarded(
        COMPENSATION,
        "compensationRecords",
        "From the payroll system, fetched on demand. Null with an error when that system is unavailable.",
    )
    async def compensation_records(
        self, root: strawberry.Parent[Record], info: Info
    ) -> list[CompensationRecord] | None:
        return await info.context.loaders.compensation_records_by_employee.load(root.employee_no)
