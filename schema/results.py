"""Cycles, appraisal results, indicator scores and score statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.types.field import StrawberryField

from hub.domain import grade_steps
from hub.operations import coverage
from hub.policy import MEMBERSHIP_STEPS, sees_cycle_membership
from resolvers import ids, small_groups, tasks
from resolvers.errors import Forbidden
from resolvers.loaders import Loaders
from resolvers.loaders import tasks as task_rows
from resolvers.loaders.base import SharedLoader
from resolvers.records import (
    CycleRow,
    CycleSchemeRow,
    CycleTransitionRow,
    IndicatorScoreRow,
    RankGroupsRow,
    ResultRow,
)
from resolvers.results import ResultChange as ResultChangeRecord
from schema import fields
from schema.adjustments import ResultAdjustment
from schema.enums import CycleState, Grade
from schema.info import Info
from schema.permissions import RATING_PROGRESS, guarded
from schema.record_fields import Loaded, Relations, public_id
from schema.refs import AppraisalResultRef, EmployeeRef, IndicatorVersionRef, PostRef, SchemeVersionRef
from schema.rounding import ROUNDED, Scores, exact_cents, two_decimals
from schema.tasks import RatingProgress
from schema.values import object_type

V = TypeVar("V")


@strawberry.type(description="One audited step of a cycle's workflow.")
class CycleTransition:
    from_state: CycleState | None = strawberry.field(description="Null for the cycle's creation.")
    to_state: CycleState
    actor: str
    reason: str | None
    note: str | None = strawberry.field(
        description="What the step changed beyond the state: the scope an opening was given and how many posts it "
        "pinned; who joined or left (a join or a leave is a step from OPEN to OPEN, by post code and employee "
        "number)."
    )
    at: dt.datetime


def _without_note(step: CycleTransitionRow) -> CycleTransitionRow:
    # The schema type is itself a record of the row's attributes: the step as shown, its note left out.
    return CycleTransition(
        from_state=step.from_state, to_state=step.to_state, actor=step.actor, reason=step.reason, note=None, at=step.at
    )


@strawberry.type(description="The scheme version a cycle pinned for a post.")
class CyclePin:
    post = Relations[CycleSchemeRow].load(PostRef, lambda loaders: loaders.post_by_id, lambda row: row.post_id)
    scheme_version = Relations[CycleSchemeRow].load(
        SchemeVersionRef, lambda loaders: loaders.scheme_version_by_id, lambda row: row.scheme_version_id
    )


@strawberry.type
class Cycle:
    id: strawberry.ID
    name: str
    period_start: dt.date
    period_end: dt.date
    state: CycleState

    @fields.field(
        description="The audit trail of the cycle's workflow, oldest first. " + MEMBERSHIP_STEPS,
        graphql_type=list[CycleTransition],
    )
    async def transitions(self, info: Info) -> list[CycleTransitionRow]:
        steps = await info.context.loaders.transitions_by_cycle.load(int(self.id))
        if sees_cycle_membership(info.context.principal):
            return steps
        # A join or a leave is a step from a state to itself; its reason and note name people.
        return [_without_note(step) for step in steps if step.from_state != step.to_state]

    schemes = Relations.load_by_own_id(
        list[CyclePin],
        lambda loaders: loaders.pins_by_cycle,
        description="The scheme version the cycle pinned for each post when it opened (none before), in post "
        "order: what its ratings are checked against and its results scored under.",
    )

    @guarded(
        RATING_PROGRESS,
        "progress",
        "How far the cycle's ratings are, per department of the ratee and rater role, over the ratees the "
        "caller reaches (hr_admin every ratee, a manager their people).",
        graphql_type=list[RatingProgress] | None,
    )
    async def progress(self, root: strawberry.Parent[CycleRow], info: Info) -> list[task_rows.RatingProgress]:
        return await tasks.cycle_progress(info.context, root)


@strawberry.type(description="Where a measured value came from.")
class MetricProvenance:
    system: str
    metric: str
    fetched_at: dt.datetime
    stale: bool
    checksum: str | None = strawberry.field(
        description="Tells whether two values came from the same source data (equal checksums). For an "
        "analyst without the 'names' grant it is an HMAC keyed per deployment, since the stored checksum "
        "covers the employee number."
    )


async def _unless_post_withheld(info: Info, result: ResultRow, field: str) -> None:
    """Refuses a field that names the post a result was scored in, where that post is withheld from the caller
    (an analyst without the names grant, a department and post with too few people scored)."""
    if not await small_groups.result_grouping_shown(info.context, result):
        raise Forbidden(f"not allowed: {field} is withheld, too few people were scored in this department and post")


async def _unless_post_withheld_then(info: Info, result: ResultRow, field: str, load: Awaitable[V]) -> V:
    """``load``'s value once ``_unless_post_withheld`` lets the field through."""
    await _unless_post_withheld(info, result, field)
    return await load


def _withheld_with_the_post(
    name: str,
    graphql_type: object,
    loader: Callable[[Loaders], SharedLoader[int, V]],
    key: Callable[[ResultRow], int],
    description: str,
) -> StrawberryField:
    """A field that names the post a result was scored in, or tells it (its scheme, its indicators, their shares):
    it loads ``key`` with ``loader``, and is withheld wherever the post is."""

    def resolve(root: strawberry.Parent[ResultRow], info: Info) -> Loaded[V]:
        chosen = loader(info.context.loaders)
        if info.context.pseudonyms is None:
            # Nothing is withheld from a caller with names: the value itself when the page read it ahead.
            return chosen.peek_or_load(key(root))
        return _unless_post_withheld_then(info, root, name, chosen.load(key(root)))

    return fields.field(description=description, graphql_type=graphql_type)(resolve)


CompletenessType = object_type(
    coverage.Completeness,
    name="Completeness",
    description="How complete a result's inputs were.",
    fields={
        "percent": "The weight of the indicators that had a value, in percent of the scheme's weight (0-100).",
        "without_ratings": "The scheme weighs people-rated indicators and none had a rating: the result leaves "
        "out what people said (scoring allowed it with a reason, see the cycle's transitions).",
        "without_measures": "The scheme weighs measured indicators and none had a value.",
    },
)


@strawberry.type(description="One indicator's part in a result, with what it was computed from.")
class IndicatorScore:
    raw_value: float | None = strawberry.field(description="The value as measured or rated, exactly as stored.")
    normalized_score = Scores[IndicatorScoreRow].rounded(
        float | None, lambda row: row.normalized_score, "The raw value on the common 0-100 scale."
    )
    weight: float = strawberry.field(description="The indicator's weight in the scheme, in percent.")
    effective_weight = Scores[IndicatorScoreRow].rounded(
        float | None,
        lambda row: row.effective_weight,
        "The weight actually applied after re-weighting for missing data; null when left out.",
    )
    weighted_score = Scores[IndicatorScoreRow].rounded(float | None, lambda row: row.weighted_score)

    indicator_version = Relations[IndicatorScoreRow].load(
        IndicatorVersionRef, lambda loaders: loaders.indicator_version_by_id, lambda row: row.indicator_version_id
    )

    @strawberry.field
    def provenance(self, root: strawberry.Parent[IndicatorScoreRow], info: Info) -> MetricProvenance | None:
        if root.provenance_system is None or root.provenance_fetched_at is None:
            return None
        return MetricProvenance(
            system=root.provenance_system,
            metric=root.provenance_metric or "",
            fetched_at=root.provenance_fetched_at,
            stale=root.provenance_stale,
            checksum=ids.public_checksum(info.context, root.provenance_checksum),
        )


_WITHHELD_RANK = (
    "Null for an analyst without the 'names' grant when fewer than the minimum group size were scored in the "
    "result's department and post (a rank tells the size of the group, and so which group it is), or in any "
    "department and post of the group ranked (ranks around a withheld row would place it)."
)


def _withheld_rank(
    read: Callable[[ResultRow], float | None],
    among: small_groups.RankGroup,
    graphql_type: object,
    description: str | None = None,
) -> StrawberryField:
    """A rank or percentile of a result, null where its group is too small to show (``_WITHHELD_RANK``)."""

    def resolve(root: strawberry.Parent[ResultRow], info: Info) -> Loaded[float | None]:
        if info.context.pseudonyms is None:
            return read(root)  # every rank is shown to a caller with names (``small_groups.result_rank_shown``)
        return _rank_if_shown(info, root, read, among)

    described = f"{description} {_WITHHELD_RANK}" if description else _WITHHELD_RANK
    return fields.field(description=described, graphql_type=graphql_type)(resolve)


async def _rank_if_shown(
    info: Info, root: ResultRow, read: Callable[[ResultRow], float | None], among: small_groups.RankGroup
) -> float | None:
    return read(root) if await small_groups.result_rank_shown(info.context, root, among) else None


def _group_size(
    size: Callable[[RankGroupsRow], int], rank: Callable[[ResultRow], int | None], among: small_groups.RankGroup
) -> StrawberryField:
    """How many results a rank is among (the n of "rank r of n"): null where the rank is null or withheld."""

    async def resolve(root: strawberry.Parent[ResultRow], info: Info) -> int | None:
        if rank(root) is None or not await small_groups.result_rank_shown(info.context, root, among):
            return None
        groups = await info.context.loaders.rank_groups_by_result.load(root.id)
        return None if groups is None else size(groups)

    return fields.field(description=_GROUP_SIZE, graphql_type=int | None)(resolve)


_UNRANKED = (
    "Among the complete results only: null for a result scored without any rating (allowIncomplete; "
    "completeness.withoutRatings), which keeps its total and grade but takes no place."
)
_GROUP_SIZE = (
    "How many results of the cycle the rank beside it is among (its post's, or its department's; complete results "
    "only): the n of 'rank r of n'. Null where that rank is null. " + _WITHHELD_RANK
)


@strawberry.type(description="An employee's appraisal result in a cycle, on the one scale all posts share.")
class AppraisalResult:
    id = public_id(
        ids.RESULT,
        "Stable for the caller. For an analyst without the 'names' grant it is a pseudonym keyed per deployment, "
        "not the row key.",
    )

    total_score = Scores[ResultRow].rounded(float, lambda row: row.total_score, "The total, calibrated if it was.")
    grade: Grade

    rank_in_post = _withheld_rank(lambda root: root.rank_in_post, "post", int | None, _UNRANKED)
    post_group_size = _group_size(lambda groups: groups.in_post, lambda root: root.rank_in_post, "post")
    percentile_in_post = _withheld_rank(
        lambda root: two_decimals(root.percentile_in_post), "post", float | None, f"{ROUNDED} {_UNRANKED}"
    )
    rank_in_department = _withheld_rank(lambda root: root.rank_in_department, "department", int | None, _UNRANKED)
    department_group_size = _group_size(
        lambda groups: groups.in_department, lambda root: root.rank_in_department, "department"
    )
    percentile_in_department = _withheld_rank(
        lambda root: two_decimals(root.percentile_in_department), "department", float | None, f"{ROUNDED} {_UNRANKED}"
    )

    calibrated: bool
    computed_total = Scores[ResultRow].rounded(
        float, lambda row: row.computed_total, "The total the engine computed, before calibration."
    )
    computed_grade: Grade = strawberry.field(description="The grade the engine computed, before calibration.")
    calibration_reason: str | None

    employee = Relations[ResultRow].load(
        EmployeeRef, lambda loaders: loaders.employee_by_id, lambda row: row.employee_id
    )
    cycle = Relations[ResultRow].load(Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id)

    post = _withheld_with_the_post(
        "post",
        PostRef | None,
        lambda loaders: loaders.post_by_id,
        lambda row: row.post_id,
        "The post the employee was scored in (not necessarily the current one). Null with a FORBIDDEN error for an "
        "analyst without the 'names' grant when fewer than the minimum group size were scored in that department "
        "and post in the cycle.",
    )

    scheme_version = _withheld_with_the_post(
        "schemeVersion",
        SchemeVersionRef | None,
        lambda loaders: loaders.scheme_version_by_id,
        lambda row: row.scheme_version_id,
        "The scheme version the result was scored under. Null with a FORBIDDEN error where `post` is withheld: a "
        "scheme is a post's.",
    )

    @fields.field(
        description="The change since the same employee's result in the latest PUBLISHED cycle whose period "
        "starts before this one's (an employee who sat a cycle out is compared with the one before it); null "
        "when there is none the caller may read.",
        graphql_type="ResultChange | None",
    )
    async def change(self, root: strawberry.Parent[ResultRow], info: Info) -> ResultChangeRecord | None:
        previous = await info.context.loaders.previous_result_by_result.load(root.id)
        if previous is None or not await small_groups.result_shown(info.context, previous):
            return None
        return ResultChangeRecord(current=root, previous=previous)

    indicator_scores = _withheld_with_the_post(
        "indicatorScores",
        list[IndicatorScore] | None,
        lambda loaders: loaders.indicator_scores_by_result,
        lambda row: row.id,
        "Null with a FORBIDDEN error where `post` is withheld: the indicators name the scheme.",
    )

    completeness = _withheld_with_the_post(
        "completeness",
        CompletenessType | None,
        lambda loaders: loaders.completeness_by_result,
        lambda row: row.id,
        "How complete the result's inputs were: the share of the scheme's weight that had a value, and whether its "
        "people-rated or measured part went without any (scored then on the rest, re-weighted to 100). Null with a "
        "FORBIDDEN error where `post` is withheld: the shares tell the scheme.",
    )

    adjustments = Relations.load_by_own_id(
        list[ResultAdjustment],
        lambda loaders: loaders.adjustments_by_result,
        description="Every calibration and correction of the result, oldest first: what it was before and after, "
        "why, when (and who, for hr_admin). Empty when nobody changed the engine's numbers.",
    )


@strawberry.type(description="How a result moved since the same employee's previous published result.")
class ResultChange:
    @fields.field(description="The earlier result.", graphql_type=AppraisalResultRef)
    def previous(self, root: strawberry.Parent[ResultChangeRecord]) -> ResultRow:
        return root.previous

    @fields.field(
        description="This total minus the earlier one, as both are shown (each rounded half-up to two "
        "decimals, then subtracted): positive when the score rose."
    )
    def total_score_delta(self, root: strawberry.Parent[ResultChangeRecord]) -> float:
        return float(exact_cents(root.current.total_score) - exact_cents(root.previous.total_score))

    @fields.field(description="Grades moved: +1 for one grade better (B to A), -2 for two worse, 0 unchanged.")
    def grade_steps(self, root: strawberry.Parent[ResultChangeRecord]) -> int:
        return grade_steps(Grade(root.previous.grade), Grade(root.current.grade))
