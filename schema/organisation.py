"""Departments, posts and employees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, TypeVar

import strawberry
from strawberry.types.field import StrawberryField

from resolvers import ids, small_groups, tasks
from resolvers import organisation as employee_reads
from resolvers import trends as trend_reads
from resolvers.context import Context
from resolvers.errors import Forbidden, parse_id
from resolvers.loaders import tasks as task_rows
from resolvers.loaders.base import Missing
from resolvers.loaders.nominations import Nomination
from resolvers.records import DepartmentRow, EmployeeRow, PostAssignmentRow, PostRow, ResultRow, SchemeVersionRow
from schema import fields
from schema.enums import EmployeeStatus
from schema.info import Info
from schema.linked import CompensationRecord, TrainingRecord
from schema.nominations import PeerNomination
from schema.permissions import (
    COMPENSATION,
    EXPECTED_RATERS,
    NAMES,
    ORG_CHART,
    PEER_NOMINATIONS,
    RATING_TASKS,
    RATINGS,
    TRAINING_RECORDS,
    guarded,
    guarded_attribute,
)
from schema.record_fields import Loaded, Relations, public_id
from schema.refs import (
    AppraisalResultRef,
    EmployeeTrendPointRef,
    ReceivedRatingRef,
    SchemeVersionRef,
    WithheldRatingsRef,
)
from schema.tasks import RatersOfRole, RatingTask

V = TypeVar("V")


@strawberry.type
class Department:
    id: strawberry.ID
    name: str
    code: str

    parent = Relations[DepartmentRow].load(
        "Department | None", lambda loaders: loaders.department_by_id, lambda row: row.parent_id
    )
    children = Relations.load_by_own_id("list[Department]", lambda loaders: loaders.departments_by_parent)
    posts = Relations.load_by_own_id("list[Post]", lambda loaders: loaders.posts_by_department)


@strawberry.type(description="A post (岗位): the job an employee holds, appraised under its own scheme.")
class Post:
    id: strawberry.ID
    code: str
    name: str
    family: str

    department = Relations[PostRow].load(
        Department, lambda loaders: loaders.department_by_id, lambda row: row.department_id
    )
    current_scheme = Relations.load_by_own_id(
        SchemeVersionRef | None,
        lambda loaders: loaders.current_scheme_by_post,
        description="The scheme version in force today; null when the post has none yet.",
    )
    scheme_versions = Relations.load_by_own_id(list[SchemeVersionRef], lambda loaders: loaders.scheme_versions_by_post)


SMALL_GROUPS = (
    "Null with a FORBIDDEN error for an analyst without the 'names' grant when fewer than the minimum group "
    "size (PERFHUB_MIN_GROUP_SIZE) share the employee's department and post: the pair would single them out."
)


async def _check_grouping(info: Info, root: EmployeeRow, field: str) -> None:
    if not await small_groups.employee_grouping_shown(info.context, root):
        raise Forbidden(f"not allowed: {field} is withheld, too few people share this department and post")


async def _grouping_then(info: Info, root: EmployeeRow, field: str, load: Awaitable[V]) -> V:
    """``load``'s value once ``_check_grouping`` lets the field through."""
    await _check_grouping(info, root, field)
    return await load


async def _shown_results(info: Info, employee_id: int) -> list[ResultRow]:
    found = await info.context.loaders.results_by_employee.load(employee_id)
    return [result for result in found if await small_groups.result_shown(info.context, result)]


def _ratings_in_cycle(
    name: str,
    description: str,
    graphql_type: object,
    read: Callable[[Context, EmployeeRow, str], Awaitable[Sequence[object]]],
) -> StrawberryField:
    """One of the two halves of an employee's ratings in a cycle (listed, withheld), under the RATINGS rule:
    which ratings fall in which half is the resolvers' business (``resolvers.anonymity``)."""

    async def resolve(root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID) -> Sequence[object]:
        return await read(info.context, root, cycle_id)

    return guarded(RATINGS, name, description, graphql_type=graphql_type)(resolve)


@strawberry.type
class Employee:
    id = public_id(
        ids.EMPLOYEE,
        "Stable for the caller. For an analyst without the 'names' grant it is a pseudonym keyed per deployment, "
        "not the row key: pass it back as it came.",
    )

    # Nullable on purpose, as is every field a rule may deny: a denial nulls this field only, never the
    # employee, the page and everything above it.
    employee_no: str | None = guarded_attribute(NAMES, "employeeNo")
    name: str | None = guarded_attribute(NAMES, "name")

    # Plain functions, like every relation (``schema.record_fields``): a value the page read ahead is returned at
    # once; only a pseudonymous caller's cell check, or a value not loaded yet, is awaited.
    @fields.field(description="The employee's department. " + SMALL_GROUPS, graphql_type=Department | None)
    def department(self, root: strawberry.Parent[EmployeeRow], info: Info) -> Loaded[DepartmentRow | None]:
        loader = info.context.loaders.department_by_id
        if info.context.pseudonyms is not None:
            return _grouping_then(info, root, "department", loader.load(root.department_id))
        return loader.peek_or_load(root.department_id)

    @fields.field(description="The employee's current post. " + SMALL_GROUPS, graphql_type=Post | None)
    def post(self, root: strawberry.Parent[EmployeeRow], info: Info) -> Loaded[PostRow | None]:
        loader = info.context.loaders.post_by_id
        if info.context.pseudonyms is not None:
            return _grouping_then(info, root, "post", loader.load(root.post_id))
        return loader.peek_or_load(root.post_id)

    @guarded(ORG_CHART, "manager", "The employee's manager.", graphql_type="Employee | None")
    def manager(self, root: strawberry.Parent[EmployeeRow], info: Info) -> Loaded[EmployeeRow | None]:
        if root.manager_id is None:
            return None
        return info.context.loaders.employee_by_id.peek_or_load(root.manager_id)

    @guarded(
        ORG_CHART,
        "directReports",
        "The people who report to the employee directly, in id order, less those outside the caller's scope "
        "(a manager's list never names a colleague the caller may not read by id) and, unless includeLeavers, "
        "less those who have left (status INACTIVE).",
        graphql_type="list[Employee] | None",
    )
    async def direct_reports(
        self,
        root: strawberry.Parent[EmployeeRow],
        info: Info,
        include_leavers: Annotated[
            bool, strawberry.argument(description="List the reports who have left (status INACTIVE) too.")
        ] = False,
    ) -> list[EmployeeRow]:
        # One load for both answers: a leaver still reports to their last manager in the table, and a portal's
        # "my team" should not show them.
        reports = await info.context.loaders.direct_reports_by_manager.load(root.id)
        if include_leavers:
            return reports
        return [report for report in reports if report.status != EmployeeStatus.INACTIVE]

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
        result = await info.context.loaders.result_by_employee_cycle.load((root.id, cycle_key))
        return result if result is None or await small_groups.result_shown(info.context, result) else None

    ratings_received = _ratings_in_cycle(
        "ratingsReceived",
        "The ratings the employee received in a cycle, by indicator, role, value and comment (never by rater "
        "or time). Peer and subordinate raters are anonymous: rater and submittedAt are null, and a role's "
        "ratings are listed only when at least PERFHUB_MIN_ANONYMOUS_RATERS (default 3) distinct raters of "
        "that role rated the employee in the cycle, and the cycle is past OPEN (no rating can be singled out "
        "by arriving between two reads); otherwise they are left out and ratingsWithheld counts them "
        "(hr_admin sees every rating). The score counts every rating, listed or not.",
        list[ReceivedRatingRef] | None,
        employee_reads.ratings_received,
    )
    ratings_withheld = _ratings_in_cycle(
        "ratingsWithheld",
        "The anonymous rater roles (peer, subordinate) whose ratings ratingsReceived leaves out because fewer "
        "than PERFHUB_MIN_ANONYMOUS_RATERS (default 3) distinct raters of the role rated the employee in the "
        "cycle, or because the cycle is still OPEN: the role, its number of raters and the reason only. Empty "
        "for hr_admin, who sees every rating.",
        list[WithheldRatingsRef] | None,
        employee_reads.ratings_withheld,
    )

    @fields.field(
        description="Every result of the employee the caller may see, oldest cycle first (employees see "
        "published cycles only).",
        graphql_type=list[AppraisalResultRef],
    )
    def results(self, root: strawberry.Parent[EmployeeRow], info: Info) -> Loaded[list[ResultRow]]:
        if info.context.pseudonyms is None:
            # Every result a loader reads is shown to a caller with names (``small_groups.result_shown``).
            found = info.context.loaders.results_by_employee.peek(root.id)
            if not isinstance(found, Missing):
                return list(found)
        return _shown_results(info, root.id)

    @fields.field(
        description="The employee's results the caller may see, oldest cycle first, each with its change from the "
        "one before (total and grade steps): the employee's trend across cycles.",
        graphql_type=list[EmployeeTrendPointRef],
    )
    async def trend(self, root: strawberry.Parent[EmployeeRow], info: Info) -> list[trend_reads.TrendPoint]:
        return await trend_reads.employee_trend(info.context, root.id)

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

    @fields.field(
        description="The scheme version that applies to the employee in a cycle (pinned for the post they hold at "
        "the period's end), with its indicators, rating scales and anchors: what they are rated and scored on, "
        "known before scoring. Null for an unknown cycle or one not opened yet. Null with a FORBIDDEN error for an "
        "analyst without the 'names' grant: the post of a past cycle may be one withheld from them.",
        graphql_type=SchemeVersionRef | None,
    )
    async def scheme(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> SchemeVersionRow | None:
        if info.context.scope.pseudonymous:
            # The scheme names the post held in that cycle, which may differ from today's (whose cell is what
            # _check_grouping can judge): a withheld past post would be named. Analysts read schemes by post.
            raise Forbidden("not allowed: scheme requires the 'names' grant for an analyst")
        await _check_grouping(info, root, "scheme")
        cycle_key = parse_id(cycle_id)
        if cycle_key is None:
            return None
        pinned = await info.context.loaders.pinned_scheme_by_employee_cycle.load((root.id, cycle_key))
        return None if pinned is None else await info.context.loaders.scheme_version_by_id.load(pinned)

    @guarded(
        RATING_TASKS,
        "ratingTasks",
        "The employee's tasks as a rater in a cycle, in ratee order: whom to rate, in which role, on which "
        "indicators (with their scales and anchors), and what they have submitted so far. Empty for an unknown "
        "cycle.",
        graphql_type=list[RatingTask] | None,
    )
    async def rating_tasks(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> list[task_rows.RatingTask]:
        return await tasks.rating_tasks(info.context, root, cycle_id)

    @guarded(
        EXPECTED_RATERS,
        "expectedRaters",
        "Who rates the employee in a cycle, by role: how many raters are assigned, how many have rated every "
        "indicator, and who has not yet. Null for an unknown cycle.",
        graphql_type=list[RatersOfRole] | None,
    )
    async def expected_raters(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> list[task_rows.RatersOfRole] | None:
        return await tasks.expected_raters(info.context, root.id, cycle_id)

    # Personal data like the name: whoever sees names sees these (an analyst only with the names grant).
    email: str | None = guarded_attribute(NAMES, "email", "Unique where set.")
    status: EmployeeStatus | None = guarded_attribute(
        NAMES, "status", "INACTIVE for a leaver, who keeps their results and joins no cycle opened afterwards."
    )
    left_on: dt.date | None = guarded_attribute(NAMES, "leftOn", "A leaver's last day; null while employed.")

    @guarded(
        NAMES,
        "postAssignments",
        "The employee's posts with their dates, newest first: a transfer ends one and starts the next.",
        graphql_type="list[PostAssignment] | None",
    )
    async def post_assignments(
        self, root: strawberry.Parent[EmployeeRow], info: Info
    ) -> list[PostAssignmentRow] | None:
        return await info.context.loaders.post_assignments_by_employee.load(root.id)

    @guarded(
        PEER_NOMINATIONS,
        "peerNominations",
        "The colleagues the employee proposed as peer raters in a cycle, in the order proposed, with their "
        "manager's decisions. Empty for an unknown cycle.",
        graphql_type=list[PeerNomination] | None,
    )
    async def peer_nominations(
        self, root: strawberry.Parent[EmployeeRow], info: Info, cycle_id: strawberry.ID
    ) -> list[Nomination]:
        cycle_key = parse_id(cycle_id)
        if cycle_key is None:
            return []
        return await info.context.loaders.peer_nominations_by_ratee_cycle.load((root.id, cycle_key))


@strawberry.type(description="One stretch of an employee in a post.")
class PostAssignment:
    start_date: dt.date
    end_date: dt.date | None = strawberry.field(description="The last day in the post; null for the current one.")

    post = Relations[PostAssignmentRow].load(Post, lambda loaders: loaders.post_by_id, lambda row: row.post_id)
