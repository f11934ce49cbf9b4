"""Writes that respect the cycle's state under concurrency: nothing is accepted for a cycle that scoring
has already read, and nothing is lost.

Scoring runs in one hub process (engine) and is held after it has read its inputs and before it writes
its results; the rating or import comes from a second process meanwhile. It must either land before
scoring reads its inputs (impossible here: scoring already read them) or wait and be refused with
WRONG_CYCLE_STATE: never accepted and missing from the results.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from hub.db.models import IndicatorScore, MetricValue
from hub.domain import CycleState
from hub.operations import scoring
from hub.operations.commands import Caller
from hub.operations.errors import WrongCycleState
from hub.operations.metrics import MetricValuesImported
from hub.operations.ratings import RatingRecord, RatingSubmitInput, submit_rating
from hub.operations.scoring import CycleScore
from tests.hub.operations.concurrency import Gate, Race, outcome, until_arrived
from tests.hub.operations.conftest import ScorableCycle, Sessions, import_csv
from tests.stored import indicator_score, metric_value, ratings_count

NOW = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)


async def _scoring_held(
    sessionmaker: Sessions, cycle_id: int, race: Race
) -> tuple[Gate, asyncio.Task[scoring.ScoringReport]]:
    """Starts scoring and returns once it holds, its inputs read and its results not yet written."""
    # discard_results is scoring's first write after reading every input.
    gate = race.gate_before(scoring, "discard_results")
    task = asyncio.create_task(scoring.score_cycle(sessionmaker, CycleScore(cycle_id), Caller("scorer")))
    await until_arrived(gate, 1, task)
    return gate, task


async def test_a_rating_sent_while_scoring_runs_is_refused_never_lost(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle
) -> None:
    rated = scorable.rated
    gate, scorer = await _scoring_held(sessionmaker, scorable.cycle_id, race)
    rating = asyncio.create_task(
        outcome(
            submit_rating(
                race.other,
                RatingSubmitInput(
                    cycle_id=scorable.cycle_id,
                    ratee_id=rated.ratee_id,
                    rater_id=rated.rater_id,
                    indicator_version_id=rated.indicator_version_id,
                    value=2,
                    comment="sent while scoring runs",
                ),
                Caller("test", now=NOW),
            )
        )
    )
    await race.until_held(gate, 2, rating)
    gate.open()
    report = await asyncio.wait_for(scorer, 20)
    answer = await rating

    assert isinstance(answer, WrongCycleState | RatingRecord), answer
    async with sessionmaker() as session:
        stored = await session.scalar(ratings_count(scorable.cycle_id, rated.ratee_id, rated.rater_id))
        inputs = await session.scalar(
            indicator_score(IndicatorScore.inputs, scorable.cycle_id, rated.ratee_id, rated.indicator_version_id)
        )
    assert report.cycle.state is CycleState.SCORED
    if isinstance(answer, WrongCycleState):
        assert answer.state is CycleState.SCORED and stored == 0
    else:  # accepted: then it was scored
        assert inputs is not None and inputs.get("PEER") == 2


async def test_an_import_sent_while_scoring_runs_is_refused_never_lost(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle
) -> None:
    measured = scorable.measured
    fetched_at = dt.datetime(2026, 11, 16, 9, 30, 15, tzinfo=dt.UTC)
    row = f"{measured.employee_no},{measured.code},{measured.value},{fetched_at.isoformat()}"
    csv = f"employee_no,indicator,value,fetched_at\n{row}\n"
    gate, scorer = await _scoring_held(sessionmaker, scorable.cycle_id, race)
    imported = asyncio.create_task(outcome(import_csv(race.other, scorable.cycle_id, csv)))
    await race.until_held(gate, 2, imported)
    gate.open()
    await asyncio.wait_for(scorer, 20)
    answer = await imported

    assert isinstance(answer, WrongCycleState | MetricValuesImported), answer
    async with sessionmaker() as session:
        key = (scorable.cycle_id, measured.employee_id, measured.indicator_version_id)
        stored_at = await session.scalar(metric_value(MetricValue.fetched_at, *key))
        scored_at = await session.scalar(indicator_score(IndicatorScore.provenance_fetched_at, *key))
    # Whatever the outcome, the result was computed from the value the database holds now.
    assert scored_at == stored_at
    if isinstance(answer, WrongCycleState):
        assert answer.state is CycleState.SCORED and stored_at != fetched_at
    else:
        assert stored_at == fetched_at
