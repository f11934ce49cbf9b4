"""Scoring a cycle in bulk: read, compute and write a slice of participants at a time, in one transaction.

OPEN -> SCORED in one transaction. Each indicator score is stored with its raw value, the weight
applied and the provenance of the value (or the per-role rating means), so that any result can be
explained and recomputed to the same number.

Memory does not grow with the organisation (issue 16: 1.49 GB at 100,000 employees when every row was built
before the first insert). The measured values and rating means are read ``SLICE`` participants at a time and
scored; each slice's indicator-score rows wait on disk (``scoring_rows.ScoreSpool``) and only the totals stay in
memory until every one is known, ranked and checked for completeness. Then the results are written a slice at a
time, and the indicator scores after them (COPY on PostgreSQL, see ``scoring_writes``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, TypeAlias

from sqlalchemy import select
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
    Cycle,
    Employee,
    IndicatorScore,
    Post,
    utcnow,
)
from hub.db.statistics import refresh_statistics
from hub.domain import CycleState, RaterRole
from hub.operations.audit import audit_change
from hub.operations.batches import chunks
from hub.operations.commands import Caller, IdOf, described
from hub.operations.coverage import (
    Completeness,
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
from hub.operations.scoring_inputs import Inputs, MeasuredValue, Scheme, read_inputs, read_measures
from hub.operations.scoring_rows import ResultTuple, ScoreSpool, ScoreTuple, result_rows, score_rows
from hub.operations.scoring_writes import open_writer
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


SLICE = 5_000
"""Participants read, scored and written at a time: their inputs and rows are what scoring holds in memory."""


@dataclass(slots=True)
class _Computed:
    """What the engine made of a slice's inputs: scores and standings, and who could not be scored."""

    scores: dict[int, EmployeeScore] = field(default_factory=dict)
    rating_inputs: dict[tuple[int, int], dict[RaterRole, float]] = field(default_factory=dict)
    blocked: list[BlockedScoreRecord] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)


@dataclass(slots=True)
class _Tally:
    """What stays in memory from slice to slice: a placement per result, who was blocked, each result's coverage."""

    placements: list[Placement] = field(default_factory=list)
    blocked: list[BlockedScoreRecord] = field(default_factory=list)
    blocked_posts: list[int] = field(default_factory=list)
    found: list[tuple[int, Completeness]] = field(default_factory=list)
    incomplete: list[IncompleteResult] = field(default_factory=list)
    standings: dict[int, Standing] = field(default_factory=dict)

    def add(self, computed: _Computed, post_of: dict[int, int], coverage: _SliceCoverage) -> None:
        self.placements += computed.placements
        self.blocked += computed.blocked
        self.blocked_posts += [post_of[record.employee_id] for record in computed.blocked]
        self.found += coverage[0]
        self.incomplete += coverage[1]


def _compute(
    people: Sequence[Participant],
    pins: dict[int, int],
    schemes: dict[int, Scheme],
    metrics: dict[tuple[int, int], MeasuredValue],
    ratings: dict[tuple[int, int], dict[RaterRole, float]],
) -> _Computed:
    """Every participant of a slice through the engine (graded and ranked by :func:`_rank` once every slice is
    computed and coverage tells which results are complete). Pure: safe in a worker thread."""
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


def _rank(tally: _Tally, unrated: Sequence[int], bands: GradeBands) -> None:
    """Grades every result and ranks the complete ones among themselves: a result without any rating (let through
    by allowIncomplete) is graded but not ranked (``engine.assign_grades_and_ranks``)."""
    without = set(unrated)
    tally.placements = [
        placement._replace(complete=placement.employee_id not in without) for placement in tally.placements
    ]
    tally.standings = assign_grades_and_ranks(tally.placements, bands)


def _result_rows(
    cycle_id: int, tally: _Tally, placements: Sequence[Placement], pins: dict[int, int], computed_at: dt.datetime
) -> list[ResultTuple]:
    """The appraisal_results rows of a slice of the placements."""
    return result_rows(cycle_id, placements, tally.standings, pins, computed_at)


def _score_rows(
    computed: _Computed,
    post_of: dict[int, int],
    pins: dict[int, int],
    schemes: dict[int, Scheme],
    metrics: dict[tuple[int, int], MeasuredValue],
) -> list[ScoreTuple]:
    """The indicator_scores rows of a slice (keyed by employee id until their results have ids)."""
    weights_of = {employee_id: schemes[pins[post_of[employee_id]]].compiled.weights for employee_id in computed.scores}
    return score_rows(computed.scores, weights_of, metrics, computed.rating_inputs)


async def _write(
    session: AsyncSession, cycle: Cycle, inputs: Inputs, tally: _Tally, spool: ScoreSpool, progress: Progress
) -> int:
    """Replaces the cycle's results with the computed ones, indicator scores included; returns how many."""
    await discard_results(session, cycle.id)
    writer = await open_writer(session, cycle.id, [placement.employee_id for placement in tally.placements])
    computed_at = utcnow()
    progress.begin("scoring: results", len(tally.placements), "row")
    try:
        for placements in chunks(tally.placements, SLICE):
            rows = await asyncio.to_thread(_result_rows, cycle.id, tally, placements, inputs.pins, computed_at)
            await writer.write_results(await asyncio.to_thread(writer.prepare_results, rows))
            progress.advance(len(rows))
    finally:
        progress.end()
    result_ids = await writer.result_ids()
    spool.rewind()
    progress.begin("scoring: indicator scores", spool.rows, "row")
    try:
        for _ in range(spool.slices):
            scores = await asyncio.to_thread(lambda: writer.prepare_scores(spool.next_slice(result_ids)))
            await writer.write_scores(scores)
            progress.advance(len(scores))
    finally:
        progress.end()
    return len(tally.placements)


@dataclass(frozen=True, slots=True)
class CycleScore:
    cycle_id: Annotated[int, IdOf("cycle")]
    allow_incomplete: bool = described(
        "Score even where a result would have no rating at all (its people-rated part left out, the rest "
        "re-weighted to 100); needs a reason, kept in the cycle's transitions.",
        default=False,
    )
    reason: str | None = None


_SliceCoverage: TypeAlias = tuple[list[tuple[int, Completeness]], list[IncompleteResult]]


def _coverage(computed: _Computed, post_of: dict[int, int], inputs: Inputs) -> _SliceCoverage:
    """Each result's completeness with its post, and the results of the slice that lack a whole part (every
    rating, or every measured value)."""
    found = []
    incomplete = []
    for employee_id, outcome in computed.scores.items():
        scheme = inputs.schemes[inputs.pins[post_of[employee_id]]]
        result = completeness(_items(employee_id, outcome, scheme, computed))
        found.append((post_of[employee_id], result))
        if result.without_ratings or result.without_measures:
            incomplete.append(IncompleteResult(employee_id, result.without_ratings, result.without_measures))
    return found, incomplete


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
        post_of = {person.employee_id: person.post_id for person in inputs.people}
        tally = _Tally()
        spool = ScoreSpool()
        try:
            for people in chunks(inputs.people, SLICE):
                measures = await read_measures(session, cycle.id, people)
                # The engine is pure, and a slice is a fraction of a second of it: it runs in a worker thread, so
                # that the event loop keeps serving other requests meanwhile; so do the slice's rows and pickling.
                computed = await asyncio.to_thread(
                    _compute, people, inputs.pins, inputs.schemes, measures.metrics, measures.ratings
                )
                tally.add(computed, post_of, await asyncio.to_thread(_coverage, computed, post_of, inputs))
                rows = await asyncio.to_thread(
                    _score_rows, computed, post_of, inputs.pins, inputs.schemes, measures.metrics
                )
                await asyncio.to_thread(spool.add, rows)
                del measures, computed, rows
            coverage = by_post(tally.found, tally.blocked_posts)
            unrated = [result.employee_id for result in tally.incomplete if result.without_ratings]
            if not command.allow_incomplete:
                await _refuse_incomplete(session, coverage, unrated, tally.blocked)
            await asyncio.to_thread(_rank, tally, unrated, caller.bands)
            scored = await _write(session, cycle, inputs, tally, spool, progress)
        finally:
            spool.close()
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    await refresh_statistics(sessionmaker, AppraisalResult, IndicatorScore)
    return ScoringReport(
        cycle=cycle,
        scored=scored,
        blocked=tally.blocked,
        coverage=coverage,
        incomplete=sorted(tally.incomplete, key=lambda result: result.employee_id),
    )
