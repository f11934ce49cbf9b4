"""Scoring a cycle in bulk: read every input in a few statements, compute, write in chunks.

OPEN -> SCORED in one transaction. Each indicator score is stored with its raw value, the weight
applied and the provenance of the value (or the per-role rating means), so that any result can be
explained and recomputed to the same number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tqdm import tqdm

from hub.appraisal import (
    CompiledScheme,
    EmployeeScore,
    GradeBands,
    Placement,
    SchemeItem,
    assign_grades_and_ranks,
    combine_ratings,
    parse_rule,
)
from hub.db.models import (
    AppraisalResult,
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
from hub.domain import MANUAL_SOURCE, CycleState, RaterRole
from hub.operations.cycles import discard_results, locked_cycle, participants, record_transition

WRITE_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class BlockedEmployee:
    """An employee the engine could not score, and why."""

    employee_id: int
    code: str
    message: str
    indicator_version_id: int | None


@dataclass(frozen=True, slots=True)
class ScoringReport:
    cycle: Cycle
    scored: int
    blocked: list[BlockedEmployee] = field(default_factory=list)


@dataclass(slots=True)
class Scheme:
    """A pinned scheme, compiled once, with which of its items are people-rated."""

    compiled: CompiledScheme
    manual_ids: frozenset[int]
    role_weights: dict[RaterRole, float]


async def _schemes(session: AsyncSession, cycle_id: int) -> tuple[dict[int, int], dict[int, Scheme]]:
    """post id -> pinned scheme version id, and each pinned scheme compiled."""
    pins = dict(
        (
            await session.execute(
                select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle_id)
            )
        ).all()
    )
    item_rows = (
        await session.execute(
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
            .where(SchemeItemRow.scheme_version_id.in_(set(pins.values())))
            .order_by(SchemeItemRow.scheme_version_id, SchemeItemRow.position, SchemeItemRow.id)
        )
    ).all()
    weight_rows = (
        await session.execute(
            select(SchemeRaterWeight.scheme_version_id, SchemeRaterWeight.role, SchemeRaterWeight.weight).where(
                SchemeRaterWeight.scheme_version_id.in_(set(pins.values()))
            )
        )
    ).all()
    items: defaultdict[int, list[SchemeItem]] = defaultdict(list)
    manual: defaultdict[int, set[int]] = defaultdict(set)
    for row in item_rows:
        items[row.scheme_version_id].append(
            SchemeItem(row.indicator_version_id, row.weight, parse_rule(row.rule), row.direction, row.missing_policy)
        )
        if row.source_system == MANUAL_SOURCE:
            manual[row.scheme_version_id].add(row.indicator_version_id)
    role_weights: defaultdict[int, dict[RaterRole, float]] = defaultdict(dict)
    for row in weight_rows:
        role_weights[row.scheme_version_id][row.role] = row.weight
    schemes = {
        scheme_id: Scheme(CompiledScheme(scheme_items), frozenset(manual[scheme_id]), role_weights[scheme_id])
        for scheme_id, scheme_items in items.items()
    }
    return pins, schemes


async def _metric_values(session: AsyncSession, cycle_id: int) -> dict[tuple[int, int], Any]:
    rows = (
        await session.execute(
            select(
                MetricValue.employee_id,
                MetricValue.indicator_version_id,
                MetricValue.value,
                MetricValue.system,
                MetricValue.metric,
                MetricValue.fetched_at,
                MetricValue.stale,
                MetricValue.checksum,
            ).where(MetricValue.cycle_id == cycle_id)
        )
    ).all()
    return {(row.employee_id, row.indicator_version_id): row for row in rows}


async def _rating_means(session: AsyncSession, cycle_id: int) -> dict[tuple[int, int], dict[RaterRole, float]]:
    """(ratee, indicator version) -> mean rating per rater role, averaged in SQL."""
    rows = (
        await session.execute(
            select(Rating.ratee_id, Rating.indicator_version_id, Rating.role, func.avg(Rating.value))
            .where(Rating.cycle_id == cycle_id)
            .group_by(Rating.ratee_id, Rating.indicator_version_id, Rating.role)
        )
    ).all()
    means: defaultdict[tuple[int, int], dict[RaterRole, float]] = defaultdict(dict)
    for ratee_id, indicator_version_id, role, mean in rows:
        means[(ratee_id, indicator_version_id)][role] = float(mean)
    return means


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def _insert(session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]], bar: tqdm[Any] | None) -> None:
    for chunk in _chunks(rows, WRITE_CHUNK):
        await session.execute(table.insert(), chunk)
        if bar is not None:
            bar.update(len(chunk))


def _rating_inputs(by_role: dict[RaterRole, float] | None) -> dict[str, Any] | None:
    return None if by_role is None else {role.value: mean for role, mean in by_role.items()}


async def score_cycle(
    sessionmaker: async_sessionmaker[AsyncSession],
    cycle_id: int,
    *,
    actor: str,
    bands: GradeBands | None = None,
    progress: bool = False,
) -> ScoringReport:
    """OPEN -> SCORED: computes and stores every participant's result; blocked employees are reported."""
    bands = bands or GradeBands()
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=actor, reason=None)
        pins, schemes = await _schemes(session, cycle.id)
        people = await participants(session, cycle, list(pins))
        metrics = await _metric_values(session, cycle.id)
        ratings = await _rating_means(session, cycle.id)

        scores: dict[int, EmployeeScore] = {}
        rating_inputs: dict[tuple[int, int], dict[RaterRole, float]] = {}
        blocked: list[BlockedEmployee] = []
        placements: list[Placement] = []
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
                        rating_inputs[key] = by_role
                        raw[indicator_version_id] = combine_ratings(
                            {role: [mean] for role, mean in by_role.items()}, scheme.role_weights
                        )
                else:
                    metric = metrics.get(key)
                    raw[indicator_version_id] = None if metric is None else metric.value
            outcome = scheme.compiled.score(raw)
            if outcome.blocked is not None or outcome.total is None:
                reason = outcome.blocked
                blocked.append(
                    BlockedEmployee(
                        person.employee_id,
                        reason.code if reason else "SCORING_BLOCKED",
                        reason.message if reason else "no total",
                        reason.indicator_version_id if reason else None,
                    )
                )
                continue
            scores[person.employee_id] = outcome
            placements.append(Placement(person.employee_id, person.post_id, person.department_id, outcome.total))
        standings = assign_grades_and_ranks(placements, bands)

        await discard_results(session, cycle.id)
        computed_at = utcnow()
        post_of = {p.employee_id: p for p in people}
        result_rows = []
        for placement in placements:
            standing = standings[placement.employee_id]
            result_rows.append(
                {
                    "cycle_id": cycle.id,
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
        bar = tqdm(total=len(result_rows) * 2, desc="scoring", unit="row", disable=not progress)
        try:
            await _insert(session, AppraisalResult.__table__, result_rows, bar)
            result_ids = dict(
                (
                    await session.execute(
                        select(AppraisalResult.employee_id, AppraisalResult.id).where(
                            AppraisalResult.cycle_id == cycle.id
                        )
                    )
                ).all()
            )
            score_rows: list[dict[str, Any]] = []
            for employee_id, outcome in scores.items():
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
                            "inputs": _rating_inputs(rating_inputs.get(key)),
                        }
                    )
            bar.total = len(result_rows) + len(score_rows)
            await _insert(session, IndicatorScore.__table__, score_rows, bar)
        finally:
            bar.close()
    return ScoringReport(cycle=cycle, scored=len(result_rows), blocked=blocked)
