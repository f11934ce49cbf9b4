"""Scoring a cycle in bulk: read every input in a few statements, compute, write in chunks.

OPEN -> SCORED in one transaction. Each indicator score is stored with its raw value, the weight
applied and the provenance of the value (or the per-role rating means), so that any result can be
explained and recomputed to the same number.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, TypeAlias

from sqlalchemy import Insert, Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import (
    CompiledScheme,
    EmployeeScore,
    GradeBands,
    Placement,
    SchemeItem,
    Standing,
    assign_grades_and_ranks,
    combine_ratings,
    parse_rule,
)
from hub.db.models import (
    AppraisalResult,
    Base,
    Cycle,
    CycleScheme,
    Indicator,
    IndicatorScore,
    IndicatorVersion,
    MetricValue,
    Rating,
    SchemeRaterWeight,
    utcnow,
)
from hub.db.models import SchemeItem as SchemeItemRow
from hub.domain import MANUAL_SOURCE, CycleState, Direction, MissingPolicy, RaterRole
from hub.operations.audit import audit_change
from hub.operations.batches import WRITE_CHUNK as WRITE_CHUNK  # bench.scoring writes in the same chunks
from hub.operations.batches import execute_in_chunks, partitions
from hub.operations.commands import Caller, IdOf
from hub.operations.cycles import Participant, discard_results, locked_cycle, participants, record_transition
from hub.operations.rows import ResultRow, ScoreRow
from hub.progress import SILENT, Progress


@dataclass(frozen=True, slots=True)
class BlockedScoreRecord:
    """An employee the engine could not score, and why."""

    employee_id: int
    code: str
    message: str
    indicator_version_id: int | None


@dataclass(frozen=True, slots=True)
class ScoringReport:
    cycle: Cycle
    scored: int
    blocked: list[BlockedScoreRecord] = field(default_factory=list)


@dataclass(slots=True)
class Scheme:
    """A pinned scheme, compiled once, with which of its items are people-rated."""

    compiled: CompiledScheme
    manual_ids: frozenset[int]
    role_weights: dict[RaterRole, float]


# The statements scoring reads with, one function each: bench.scoring times the same statements.


def pins_statement(cycle_id: int) -> Select[int, int]:
    """(post id, the scheme version the cycle pinned for it)."""
    return select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle_id)


def scheme_items_statement(
    scheme_version_ids: Collection[int],
) -> Select[int, int, float, dict[str, object], MissingPolicy, str, Direction]:
    """The items of the scheme versions with their indicator version's definition, in position order."""
    return (
        select(
            SchemeItemRow.scheme_version_id,
            SchemeItemRow.indicator_version_id,
            SchemeItemRow.weight,
            IndicatorVersion.rule,
            IndicatorVersion.missing_policy,
            IndicatorVersion.source_system,
            Indicator.direction,
        )
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItemRow.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(SchemeItemRow.scheme_version_id.in_(scheme_version_ids))
        .order_by(SchemeItemRow.scheme_version_id, SchemeItemRow.position, SchemeItemRow.id)
    )


def rater_weights_statement(scheme_version_ids: Collection[int]) -> Select[int, RaterRole, float]:
    """The rater roles' weights of the scheme versions."""
    return select(SchemeRaterWeight.scheme_version_id, SchemeRaterWeight.role, SchemeRaterWeight.weight).where(
        SchemeRaterWeight.scheme_version_id.in_(scheme_version_ids)
    )


def metric_values_statement(cycle_id: int) -> Select[int, int, float, str, str, dt.datetime, bool, str]:
    """Every stored metric value of the cycle, with its provenance (a :data:`MeasuredValue` each)."""
    return select(
        MetricValue.employee_id,
        MetricValue.indicator_version_id,
        MetricValue.value,
        MetricValue.system,
        MetricValue.metric,
        MetricValue.fetched_at,
        MetricValue.stale,
        MetricValue.checksum,
    ).where(MetricValue.cycle_id == cycle_id)


def rating_means_statement(cycle_id: int) -> Select[int, int, RaterRole, Decimal | float]:
    """(ratee, indicator version, rater role, mean rating), averaged in SQL (a Decimal on PostgreSQL)."""
    return (
        select(Rating.ratee_id, Rating.indicator_version_id, Rating.role, func.avg(Rating.value))
        .where(Rating.cycle_id == cycle_id)
        .group_by(Rating.ratee_id, Rating.indicator_version_id, Rating.role)
    )


async def _schemes(session: AsyncSession, cycle_id: int) -> tuple[dict[int, int], dict[int, Scheme]]:
    """post id -> pinned scheme version id, and each pinned scheme compiled."""
    pins = dict((await session.execute(pins_statement(cycle_id))).all())
    item_rows = (await session.execute(scheme_items_statement(set(pins.values())))).all()
    weight_rows = (await session.execute(rater_weights_statement(set(pins.values())))).all()
    items: defaultdict[int, list[SchemeItem]] = defaultdict(list)
    manual: defaultdict[int, set[int]] = defaultdict(set)
    for row in item_rows:
        items[row.scheme_version_id].append(
            SchemeItem(row.indicator_version_id, row.weight, parse_rule(row.rule), row.direction, row.missing_policy)
        )
        if row.source_system == MANUAL_SOURCE:
            manual[row.scheme_version_id].add(row.indicator_version_id)
    role_weights: defaultdict[int, dict[RaterRole, float]] = defaultdict(dict)
    for weight_row in weight_rows:
        role_weights[weight_row.scheme_version_id][weight_row.role] = weight_row.weight
    schemes = {
        scheme_id: Scheme(CompiledScheme(scheme_items), frozenset(manual[scheme_id]), role_weights[scheme_id])
        for scheme_id, scheme_items in items.items()
    }
    return pins, schemes


MeasuredValue: TypeAlias = Row[int, int, float, str, str, dt.datetime, bool, str]
"""A stored metric value with its provenance: (employee_id, indicator_version_id, value, system, metric,
fetched_at, stale, checksum)."""


async def _metric_values(session: AsyncSession, cycle_id: int) -> dict[tuple[int, int], MeasuredValue]:
    values: dict[tuple[int, int], MeasuredValue] = {}
    async for rows in partitions(session, metric_values_statement(cycle_id)):
        values.update(((row.employee_id, row.indicator_version_id), row) for row in rows)
    return values


async def _rating_means(session: AsyncSession, cycle_id: int) -> dict[tuple[int, int], dict[RaterRole, float]]:
    """(ratee, indicator version) -> mean rating per rater role, averaged in SQL."""
    means: defaultdict[tuple[int, int], dict[RaterRole, float]] = defaultdict(dict)
    async for rows in partitions(session, rating_means_statement(cycle_id)):
        for ratee_id, indicator_version_id, role, mean in rows:
            means[(ratee_id, indicator_version_id)][role] = float(mean)
    return means


def _rating_inputs(by_role: dict[RaterRole, float] | None) -> dict[str, float] | None:
    return None if by_role is None else {role.value: mean for role, mean in by_role.items()}


@dataclass(slots=True)
class _Computed:
    """What the engine made of a cycle's inputs: scores and standings, and who could not be scored."""

    scores: dict[int, EmployeeScore] = field(default_factory=dict)
    rating_inputs: dict[tuple[int, int], dict[RaterRole, float]] = field(default_factory=dict)
    blocked: list[BlockedScoreRecord] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    standings: dict[int, Standing] = field(default_factory=dict)


def _compute(
    people: Sequence[Participant],
    pins: dict[int, int],
    schemes: dict[int, Scheme],
    metrics: dict[tuple[int, int], MeasuredValue],
    ratings: dict[tuple[int, int], dict[RaterRole, float]],
    bands: GradeBands,
) -> _Computed:
    """Every participant through the engine, then graded and ranked. Pure: safe in a worker thread."""
    computed = _Computed()
    for person in people:
        scheme = schemes.get(pins[person.post_id])
        if scheme is None:
            continue
        raw: dict[int, float | None] = {}
        for indicator_version_id in scheme.compiled.ids:
            key = (person.employee_id, indicator_version_id)
            if indicator_version_id in scheme.manual_ids:
                by_role = ratings.get(key)
                if by_role:
                    computed.rating_inputs[key] = by_role
                    raw[indicator_version_id] = combine_ratings(
                        {role: [mean] for role, mean in by_role.items()}, scheme.role_weights
                    )
            else:
                metric = metrics.get(key)
                raw[indicator_version_id] = None if metric is None else metric.value
        outcome = scheme.compiled.score(raw)
        if outcome.blocked is not None or outcome.total is None:
            reason = outcome.blocked
            computed.blocked.append(
                BlockedScoreRecord(
                    person.employee_id,
                    reason.code if reason else "SCORING_BLOCKED",
                    reason.message if reason else "no total",
                    reason.indicator_version_id if reason else None,
                )
            )
            continue
        computed.scores[person.employee_id] = outcome
        computed.placements.append(Placement(person.employee_id, person.post_id, person.department_id, outcome.total))
    computed.standings = assign_grades_and_ranks(computed.placements, bands)
    return computed


def _result_rows(
    cycle_id: int,
    computed: _Computed,
    post_of: dict[int, Participant],
    pins: dict[int, int],
    computed_at: dt.datetime,
) -> list[ResultRow]:
    """The appraisal_results rows, one per scored participant."""
    result_rows: list[ResultRow] = []
    for placement in computed.placements:
        standing = computed.standings[placement.employee_id]
        result_rows.append(
            {
                "cycle_id": cycle_id,
                "employee_id": placement.employee_id,
                "post_id": placement.post_id,
                "department_id": post_of[placement.employee_id].department_id,
                "scheme_version_id": pins[placement.post_id],
                "total_score": placement.total,
                "grade": standing.grade,
                "rank_in_post": standing.rank_in_post,
                "percentile_in_post": standing.percentile_in_post,
                "rank_in_department": standing.rank_in_department,
                "percentile_in_department": standing.percentile_in_department,
                "calibrated": False,
                "computed_total": placement.total,
                "computed_grade": standing.grade,
                "computed_at": computed_at,
            }
        )
    return result_rows


def _score_rows(
    computed: _Computed,
    result_ids: dict[int, int],
    post_of: dict[int, Participant],
    pins: dict[int, int],
    schemes: dict[int, Scheme],
    metrics: dict[tuple[int, int], MeasuredValue],
) -> list[ScoreRow]:
    """The indicator_scores rows: each item of each result, with its weights and provenance."""
    score_rows: list[ScoreRow] = []
    for employee_id, outcome in computed.scores.items():
        result_id = result_ids[employee_id]
        weights = schemes[pins[post_of[employee_id].post_id]].compiled.weights
        for item, weight in zip(outcome.items(), weights, strict=True):
            key = (employee_id, item.indicator_version_id)
            metric = metrics.get(key)
            kept = item.normalized is not None
            score_rows.append(
                {
                    "result_id": result_id,
                    "indicator_version_id": item.indicator_version_id,
                    "raw_value": item.raw,
                    "normalized_score": item.normalized,
                    "weight": weight,
                    "effective_weight": item.effective_weight if kept else None,
                    "weighted_score": item.weighted if kept else None,
                    "provenance_system": metric.system if metric else None,
                    "provenance_metric": metric.metric if metric else None,
                    "provenance_fetched_at": metric.fetched_at if metric else None,
                    "provenance_stale": bool(metric.stale) if metric else False,
                    "provenance_checksum": metric.checksum if metric else None,
                    "inputs": _rating_inputs(computed.rating_inputs.get(key)),
                }
            )
    return score_rows


@dataclass(slots=True)
class _Inputs:
    """Everything scoring reads, read under the cycle's lock."""

    pins: dict[int, int]
    schemes: dict[int, Scheme]
    people: list[Participant]
    metrics: dict[tuple[int, int], MeasuredValue]
    ratings: dict[tuple[int, int], dict[RaterRole, float]]


async def _read(session: AsyncSession, cycle: Cycle) -> _Inputs:
    pins, schemes = await _schemes(session, cycle.id)
    people = await participants(session, cycle, list(pins))
    return _Inputs(
        pins, schemes, people, await _metric_values(session, cycle.id), await _rating_means(session, cycle.id)
    )


def _insert_into(model: type[Base]) -> Insert:
    """A Core insert into the model's table: the ORM's bulk paths cost seconds per 100,000 rows in bookkeeping."""
    return Base.metadata.tables[model.__tablename__].insert()


async def _write(session: AsyncSession, cycle: Cycle, inputs: _Inputs, computed: _Computed, progress: Progress) -> int:
    """Replaces the cycle's results with the computed ones, indicator scores included; returns how many."""
    await discard_results(session, cycle.id)
    post_of = {p.employee_id: p for p in inputs.people}
    result_rows = await asyncio.to_thread(_result_rows, cycle.id, computed, post_of, inputs.pins, utcnow())
    progress.begin("scoring: results", len(result_rows), "row")
    try:
        await execute_in_chunks(session, _insert_into(AppraisalResult), result_rows, progress=progress)
    finally:
        progress.end()
    ids = select(AppraisalResult.employee_id, AppraisalResult.id).where(AppraisalResult.cycle_id == cycle.id)
    result_ids = dict((await session.execute(ids)).all())
    score_rows = await asyncio.to_thread(
        _score_rows, computed, result_ids, post_of, inputs.pins, inputs.schemes, inputs.metrics
    )
    progress.begin("scoring: indicator scores", len(score_rows), "row")
    try:
        await execute_in_chunks(session, _insert_into(IndicatorScore), score_rows, progress=progress)
    finally:
        progress.end()
    return len(result_rows)


@dataclass(frozen=True, slots=True)
class CycleScore:
    cycle_id: Annotated[int, IdOf("cycle")]


async def score_cycle(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: CycleScore,
    caller: Caller,
    *,
    progress: Progress = SILENT,
) -> ScoringReport:
    """OPEN -> SCORED: computes and stores every participant's result; blocked employees are reported.

    Read, compute, write, in one transaction. The cycle's exclusive lock is held from before the inputs are
    read until the results commit, so a rating or import that waits on it finds the cycle SCORED and is
    refused, never left out.
    """
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=caller.actor, reason=None)
        inputs = await _read(session, cycle)
        # The engine is pure, and a cycle of 10,000 employees is about a second of it: it runs in a
        # worker thread, so that the event loop keeps serving other requests meanwhile.
        computed = await asyncio.to_thread(
            _compute, inputs.people, inputs.pins, inputs.schemes, inputs.metrics, inputs.ratings, caller.bands
        )
        scored = await _write(session, cycle, inputs, computed, progress)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return ScoringReport(cycle=cycle, scored=scored, blocked=computed.blocked)
