"""Rating tasks as raters, managers and HR read them: what to rate, who has not rated yet, how far a cycle is."""

from __future__ import annotations

import strawberry

from hub.domain import RaterRole
from resolvers import ids
from resolvers.loaders import tasks as task_rows
from resolvers.records import IndicatorVersionRow, PersonRow, RatingRow
from schema import fields
from schema.indicators import IndicatorVersion
from schema.info import Info
from schema.ratings import ReceivedRating
from schema.record_fields import Relations
from schema.refs import DepartmentRef


@strawberry.type(
    description="Someone a rating task is about, as the rater needs to know them: a peer is usually outside "
    "the rater's row scope, so this is not an Employee."
)
class TaskPerson:
    employee_no: str
    name: str

    @fields.field(description="The employee's id (as Employee.id gives it to the caller).")
    def id(self, root: strawberry.Parent[PersonRow], info: Info) -> strawberry.ID:
        return strawberry.ID(ids.public_id(info.context, ids.EMPLOYEE, root.id))


@strawberry.type(description="One rater's task in a cycle: rate the ratee, in a role, on these indicators.")
class RatingTask:
    ratee: TaskPerson = strawberry.field(graphql_type=TaskPerson)
    role: RaterRole
    submitted: bool = strawberry.field(
        description="Whether every indicator of the task has the rater's rating (each can be replaced while the "
        "cycle is OPEN)."
    )
    ratings: list[RatingRow] = strawberry.field(
        graphql_type=list[ReceivedRating],
        description="The rater's own ratings in this task so far: theirs, so shown to them while the cycle is open.",
    )

    @fields.field(
        description="The people-rated indicators of the ratee's scheme pinned in the cycle, with their rating "
        "scales and anchors (the rule).",
        graphql_type=list[IndicatorVersion],
    )
    async def indicators(self, root: strawberry.Parent[task_rows.RatingTask], info: Info) -> list[IndicatorVersionRow]:
        found = await info.context.loaders.indicator_version_by_id.load_many(list(root.indicator_version_ids))
        return [version for version in found if version is not None]


@strawberry.type
class RoleCounts:
    """What the two progress views count per rater role (not in the schema itself: no field returns it)."""

    role: RaterRole
    expected: int = strawberry.field(description="How many rater-ratee pairs of this role are assigned.")
    submitted: int | None = strawberry.field(
        description="How many of those pairs have the rater's rating of every indicator; null for an anonymous "
        "role (peer, subordinate) while the cycle is DRAFT or OPEN, except for hr_admin: a count that grows as "
        "ratings arrive would time each of them."
    )


@strawberry.type(description="A ratee's raters of one role in a cycle.")
class RatersOfRole(RoleCounts):
    pending: list[PersonRow] | None = strawberry.field(
        graphql_type=list[TaskPerson] | None,
        description="Who has not rated every indicator yet; null for an anonymous role except for hr_admin.",
    )


@strawberry.type(description="How far a cycle's ratings are, for the ratees of one department, in one rater role.")
class RatingProgress(RoleCounts):
    department = Relations[task_rows.RatingProgress].load(
        DepartmentRef, lambda loaders: loaders.department_by_id, lambda progress: progress.department_id
    )
