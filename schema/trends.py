"""Trends and comparisons: the types, ``Employee.trend``'s point, and the root fields (``TrendQueries``, a base of
``Query``)."""

from __future__ import annotations

import strawberry

from hub.domain import grade_steps
from resolvers import trends
from resolvers.cycle_ids import CYCLE_ID_ERRORS
from resolvers.records import ResultRow
from resolvers.results import ResultChange as ResultChangeRecord
from schema import fields
from schema.enums import Grade, GroupDimension
from schema.info import Info
from schema.permissions import GROUPED_FIGURES, guarded
from schema.record_fields import Relations
from schema.refs import AppraisalResultRef, PostRef, SchemeVersionRef
from schema.results import Cycle, ResultChange
from schema.rounding import ROUNDED_FIGURE, Scores
from schema.statistics import Withheld

_WITHHELD = (
    "Null when withheld (the reason in `withheld`): for everyone but hr_admin, a figure of fewer than the minimum "
    "group size (or one that, with the figures released beside it, would give one away) is withheld and its count "
    "kept."
)
_REASON = "Why the figure is null (scoreStatistics' reasons); null when it is released."


@strawberry.type(description="One result of an employee's trend, and how it moved from the one before it.")
class EmployeeTrendPoint:
    @fields.field(description="The result (its cycle, total and grade).", graphql_type=AppraisalResultRef)
    def result(self, root: strawberry.Parent[trends.TrendPoint]) -> ResultRow:
        return root.result

    @fields.field(
        description="The change from the previous point of the trend (the employee's result in the cycle before, "
        "among those the caller may see); null for the first.",
        graphql_type=ResultChange | None,
    )
    def change(self, root: strawberry.Parent[trends.TrendPoint]) -> ResultChangeRecord | None:
        return None if root.previous is None else ResultChangeRecord(current=root.result, previous=root.previous)


@strawberry.type(description="A group's results in one cycle of a trend.")
class GroupCycleMean:
    cycle = Relations[trends.GroupMean].load(Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id)
    count: int = strawberry.field(description="Results of the group in the cycle.")
    mean = Scores[trends.GroupMean].rounded(float | None, lambda row: row.mean, _WITHHELD, rounding=ROUNDED_FIGURE)
    change = Scores[trends.GroupMean].rounded(
        float | None,
        lambda row: row.change,
        "The mean less the group's mean in the previous cycle of the trend; null for the first, or when either "
        "is withheld.",
        rounding=ROUNDED_FIGURE,
    )
    withheld: Withheld | None = strawberry.field(description=_REASON)


@strawberry.type(description="A group's mean total across cycles, oldest cycle first.")
class GroupTrend:
    key: str = strawberry.field(description="The group (a department or post code, a post family); empty ungrouped.")
    cycles: list[GroupCycleMean]


@strawberry.type(description="How many people went from one grade in the earlier cycle to one in the later.")
class GradeMigration:
    from_grade: Grade
    to_grade: Grade
    count: int | None = strawberry.field(description=_WITHHELD)
    withheld: Withheld | None = strawberry.field(description=_REASON)


@strawberry.type(description="Someone who moved two grades or more between the two cycles.")
class GradeMove:
    @fields.field(description="The earlier cycle's result.", graphql_type=AppraisalResultRef)
    def before(self, root: strawberry.Parent[ResultChangeRecord]) -> ResultRow:
        return root.previous

    @fields.field(description="The later cycle's result (its employee: who moved).", graphql_type=AppraisalResultRef)
    def after(self, root: strawberry.Parent[ResultChangeRecord]) -> ResultRow:
        return root.current

    @fields.field(description="Grades moved: +2 for two better (C to A), -3 for three worse.")
    def steps(self, root: strawberry.Parent[ResultChangeRecord]) -> int:
        return grade_steps(Grade(root.previous.grade), Grade(root.current.grade))


@strawberry.type(description="Two cycles compared over the results the caller may see.")
class CycleComparison:
    earlier = Relations[trends.CycleComparison].load(
        Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.earlier_id
    )
    later = Relations[trends.CycleComparison].load(Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.later_id)
    groups: list[GroupTrend] = strawberry.field(
        description="Per group, its mean in each cycle; the later cycle's change is the mean shift."
    )
    migrations: list[GradeMigration] = strawberry.field(
        description="The grade migration matrix over the people with a result in both cycles, best grades first; "
        "pairs nobody made are left out."
    )
    moved_far: list[GradeMove] = strawberry.field(
        description="Who moved two grades or more, either way, in later-result order; names as the caller may "
        "read them (Employee.name's rule), and only results the result lists would show them."
    )


@strawberry.type(description="The results of a post scored under one scheme version.")
class SchemeUse:
    scheme_version = Relations[trends.SchemeUse].load(
        SchemeVersionRef, lambda loaders: loaders.scheme_version_by_id, lambda row: row.scheme_version_id
    )
    count: int


@strawberry.type(description="A post's results in a cycle on the unified 0-100 scale.")
class PostStanding:
    post = Relations[trends.PostStanding].load(PostRef, lambda loaders: loaders.post_by_id, lambda row: row.post_id)
    count: int
    mean = Scores[trends.PostStanding].rounded(float | None, lambda row: row.mean, _WITHHELD, rounding=ROUNDED_FIGURE)
    schemes: list[SchemeUse] = strawberry.field(description="The scheme versions its results were scored under.")
    withheld: Withheld | None = strawberry.field(description=_REASON)


@strawberry.type(description="Posts of one cycle side by side on the unified scale.")
class PostComparison:
    cycle = Relations[trends.PostComparison].load(Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id)
    posts: list[PostStanding]
    mixed_scheme_versions: bool = strawberry.field(
        description="True when the posts' results were scored under different scheme versions."
    )
    note: str | None = strawberry.field(description="What mixed scheme versions mean for the comparison.")


_SMALL_GROUPS = (
    "Figures follow scoreStatistics' small-group rule: except for hr_admin, a figure of fewer than the minimum "
    "group size is withheld (secondary suppression included); for an analyst without the names grant every figure "
    "also leaves out the people of small (department, post) cells."
)


@strawberry.type
class TrendQueries:
    """The root fields of trends and comparisons; ``Query`` inherits them."""

    @guarded(
        GROUPED_FIGURES,
        "scoreTrends",
        "Per group (or for everyone in scope, ungrouped), the mean total in each cycle, oldest first, and its change "
        "from the cycle before: one aggregate statement. groupBy is DEPARTMENT, POST or POST_FAMILY (as scored); "
        "cycleIds null: every cycle with results the caller may see. " + CYCLE_ID_ERRORS + " " + _SMALL_GROUPS,
        graphql_type=list[GroupTrend] | None,
    )
    async def score_trends(
        self, info: Info, group_by: GroupDimension | None = None, cycle_ids: list[strawberry.ID] | None = None
    ) -> list[trends.GroupTrend]:
        return await trends.score_trends(info.context, group_by, cycle_ids)

    @guarded(
        GROUPED_FIGURES,
        "cycleComparison",
        "Cycle a (earlier) against cycle b (later), over the caller's scope: the mean shift per group (groupBy "
        "DEPARTMENT, POST or POST_FAMILY, or none), the grade migration matrix, and who moved two grades or more. "
        + CYCLE_ID_ERRORS
        + " "
        + _SMALL_GROUPS,
        graphql_type=CycleComparison | None,
    )
    async def cycle_comparison(
        self, info: Info, a: strawberry.ID, b: strawberry.ID, group_by: GroupDimension | None = None
    ) -> trends.CycleComparison:
        return await trends.cycle_comparison(info.context, a, b, group_by)

    @guarded(
        GROUPED_FIGURES,
        "postComparison",
        "Posts of a cycle side by side on the unified 0-100 scale (postIds null: every post with results), each "
        "with the scheme versions it was scored under; mixedSchemeVersions and note say when those differ. "
        + CYCLE_ID_ERRORS
        + " "
        + _SMALL_GROUPS,
        graphql_type=PostComparison | None,
    )
    async def post_comparison(
        self, info: Info, cycle_id: strawberry.ID, post_ids: list[strawberry.ID] | None = None
    ) -> trends.PostComparison:
        return await trends.post_comparison(info.context, cycle_id, post_ids)
