"""Scoring a cycle in bulk: read every input in a few statements, compute, write in chunks.

OPEN -> SCORED in one transaction. Each indicator score is stored with its raw value, the weight
applied and the provenance of the value (or the per-role rating means), so that any result can be
explained and recomputed to the same number.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from sqlalchemy import Insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import (
    EmployeeScore,
    GradeBands,
    Placement,
    Standing,
    assign_grades_and_ranks,
    combine_ratings,
)
from hub.db.models import (
    AppraisalResult,
    Base,
    Cycle,
    Employee,
    IndicatorScore,
    Post,
    utcnow,
)
from hub.db.statistics import refresh_statistics
from hub.domain import CycleState, RaterRole
from hub.operations.audit import audit_change
from hub.operations.batches import WRITE_CHUNK as WRITE_CHUNK  # bench.scoring writes in the same chunks
from hub.operations.batches import execute_in_chunks
from hub.operations.commands import Caller, IdOf, described
from hub.operations.coverage import (
    IncompleteResult,
    ItemInput,
    PostCoverage,
    by_post,
    completeness,
    rated_share,
    refusal_message,
)
from hub.operations.cycles import discard_results, locked_cycle, record_transition
from hub.operations.errors import IncompleteInputs, InvalidInput
from hub.operations.participation import Participant
from hub.operations.rows import ResultRow, ScoreRow
from hub.operations.scoring_inputs import Inputs, MeasuredValue, Scheme, read_inputs
from hub.progress import SILENT, Progress

NAMED = 10
"""How many people a refusal of incomplete inputs names (the counts cover everyone)."""


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
    coverage: list[PostCoverage] = field(default_factory=list)
    incomplete: list[IncompleteResult] = field(default_factory=list)
    """The results that lack a whole part of their scheme, in employee id order (allowIncomplete lets them in)."""


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
) -> _Computed:
    """Every participant through the engine (graded and ranked by :func:`_rank` once coverage tells which results
    are complete). Pure: safe in a worker thread."""
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
    return computed


def _rank(computed: _Computed, unrated: Sequence[int], bands: GradeBands) -> None:
    """Grades every result and ranks the complete ones among themselves: a result without any rating (let through
    by allowIncomplete) is graded but not ranked (``engine.assign_grades_and_ranks``)."""
    without = set(unrated)
    computed.placements = [
        placement._replace(complete=placement.employee_id not in without) for placement in computed.placements
    ]
    computed.standings = assign_grades_and_ranks(computed.placements, bands)


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


def _insert_into(model: type[Base]) -> Insert:
    """A Core insert into the model's table: the ORM's bulk paths cost seconds per 100,000 rows in bookkeeping."""
    return Base.metadata.tables[model.__tablename__].insert()


async def _write(session: AsyncSession, cycle: Cycle, inputs: Inputs, computed: _Computed, progress: Progress) -> int:
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
    allow_incomplete: bool = described(
        "Score even where a result would have no rating at all (its people-rated part left out, the rest "
        "re-weighted to 100); needs a reason, kept in the cycle's transitions.",
        default=False,
    )
    reason: str | None = None


def _coverage(inputs: Inputs, computed: _Computed) -> tuple[list[PostCoverage], list[IncompleteResult]]:
    """Coverage per post, and the results that lack a whole part (every rating, or every measured value)."""
    post_of = {person.employee_id: person.post_id for person in inputs.people}
    found = []
    incomplete = []
    for employee_id, outcome in computed.scores.items():
        scheme = inputs.schemes[inputs.pins[post_of[employee_id]]]
        result = completeness(_items(employee_id, outcome, scheme, computed))
        found.append((post_of[employee_id], result))
        if result.without_ratings or result.without_measures:
            incomplete.append(IncompleteResult(employee_id, result.without_ratings, result.without_measures))
    return by_post(found, (post_of[record.employee_id] for record in computed.blocked)), incomplete


def _items(employee_id: int, outcome: EmployeeScore, scheme: Scheme, computed: _Computed) -> list[ItemInput]:
    """The result's items as completeness counts them: a rating's share is the rater weight of the roles that rated."""
    role_weights = {role.value: weight for role, weight in scheme.role_weights.items()}
    items = []
    columns = zip(outcome.indicator_version_ids, outcome.raws, scheme.compiled.weights, strict=True)
    for version_id, raw, weight in columns:
        if version_id in scheme.manual_ids:
            by_role = computed.rating_inputs.get((employee_id, version_id), {})
            items.append(ItemInput(weight, True, rated_share((role.value for role in by_role), role_weights)))
        else:
            items.append(ItemInput(weight, False, float(raw is not None)))
    return items


async def _refuse_incomplete(
    session: AsyncSession, coverage: list[PostCoverage], unrated: list[int], blocked: list[BlockedScoreRecord]
) -> None:
    """Refuses a scoring that would leave someone without a result, or with one that leaves out what people said,
    naming them by employee number (the first few), so that HR knows whom to chase."""
    if not unrated and not blocked:
        return
    named = set(unrated[:NAMED]) | {record.employee_id for record in blocked[:NAMED]}
    numbers = dict(
        (await session.execute(select(Employee.id, Employee.employee_no).where(Employee.id.in_(named)))).all()
    )
    posts = {post_id: name for post_id, name in await session.execute(select(Post.id, Post.name))}
    raise IncompleteInputs(
        refusal_message(
            coverage,
            posts,
            [numbers[key] for key in unrated[:NAMED]],
            [(numbers[record.employee_id], record.message) for record in blocked[:NAMED]],
            len(blocked),
        ),
        field="allowIncomplete",
    )


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
    reason = (command.reason or "").strip() or None
    if command.allow_incomplete and reason is None:
        raise InvalidInput("scoring with allowIncomplete needs a reason", field="reason")
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=caller.actor, reason=reason)
        inputs = await read_inputs(session, cycle)
        # The engine is pure, and a cycle of 10,000 employees is about a second of it: it runs in a
        # worker thread, so that the event loop keeps serving other requests meanwhile.
        computed = await asyncio.to_thread(
            _compute, inputs.people, inputs.pins, inputs.schemes, inputs.metrics, inputs.ratings
        )
        coverage, incomplete = await asyncio.to_thread(_coverage, inputs, computed)
        unrated = [result.employee_id for result in incomplete if result.without_ratings]
        if not command.allow_incomplete:
            await _refuse_incomplete(session, coverage, unrated, computed.blocked)
        await asyncio.to_thread(_rank, computed, unrated, caller.bands)
        scored = await _write(session, cycle, inputs, computed, progress)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    await refresh_statistics(sessionmaker, AppraisalResult, IndicatorScore)
    return ScoringReport(
        cycle=cycle,
        scored=scored,
        blocked=computed.blocked,
        coverage=coverage,
        incomplete=sorted(incomplete, key=lambda result: result.employee_id),
    )
