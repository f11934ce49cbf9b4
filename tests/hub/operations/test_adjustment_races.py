"""Hand changes side by side, from two hub processes: the history stays a chain (each change's "before" is the
"after" of the one it replaced) and two corrections of one cycle both land, with both events.

One change is held just before it writes, having read the result under its locks; the other, from a second
process, must wait for it (PostgreSQL: a row or cycle lock; SQLite: the write lock) rather than read the result
as it was before the first.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from hub.appraisal import GradeBands
from hub.db.models import AppraisalResult, ResultAdjustment, ResultEvent
from hub.demo.organisation import SeedSummary
from hub.events.outbox import RESULT_REVISED
from hub.operations import calibration, corrections
from hub.operations.calibration import ResultCalibrateInput, calibrate_result
from hub.operations.commands import Caller
from hub.operations.corrections import ResultCorrectInput, correct_result
from hub.operations.scoring import CycleScore, score_cycle
from tests.hub.operations.concurrency import Race, outcome, until_arrived
from tests.hub.operations.conftest import Sessions


async def _history(sessionmaker: Sessions, *result_ids: int) -> list[tuple[int, float, float]]:
    """(result, total before, total after) of the results' adjustments, in the order they were written."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ResultAdjustment.result_id, ResultAdjustment.total_before, ResultAdjustment.total_after)
            .where(ResultAdjustment.result_id.in_(result_ids))
            .order_by(ResultAdjustment.id)
        )
        return [(row.result_id, row.total_before, row.total_after) for row in rows]


async def test_two_calibrations_of_one_result_side_by_side_keep_a_chain(
    sessionmaker: Sessions, seeded: SeedSummary, race: Race
) -> None:
    """The second calibration's "before" is the first's "after", not the total both read at the start."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    async with sessionmaker() as session:
        result_id = await session.scalar(
            select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.current_cycle_id).limit(1)
        )
        computed = await session.scalar(select(AppraisalResult.total_score).where(AppraisalResult.id == result_id))
    assert result_id is not None and computed is not None
    gate = race.gate_before(calibration, "change_result")
    first = asyncio.create_task(
        calibrate_result(
            sessionmaker, ResultCalibrateInput(result_id=result_id, reason="a", total_score=61.0), Caller("a")
        )
    )
    await until_arrived(gate, 1, first)
    second = asyncio.create_task(
        outcome(
            calibrate_result(
                race.other, ResultCalibrateInput(result_id=result_id, reason="b", total_score=62.0), Caller("b")
            )
        )
    )
    await race.until_held(gate, 2, second)
    gate.open()
    await asyncio.wait_for(first, 20)
    answer = await second

    assert isinstance(answer, calibration.CalibrationOutcome), answer
    assert await _history(sessionmaker, result_id) == [(result_id, computed, 61.0), (result_id, 61.0, 62.0)]


async def test_two_corrections_in_one_cycle_side_by_side_both_land(
    sessionmaker: Sessions, seeded: SeedSummary, race: Race
) -> None:
    """Corrections re-rank the whole cycle; two at once take turns (neither deadlocks nor is lost): two history
    rows, two result.revised events, and ranks that count both corrected totals."""
    async with sessionmaker() as session:
        low, high = (
            await session.scalars(
                select(AppraisalResult.id)
                .where(AppraisalResult.cycle_id == seeded.past_cycle_id, AppraisalResult.total_score < GradeBands().s)
                .order_by(AppraisalResult.id)
                .limit(2)
            )
        ).all()
    gate = race.gate_before(corrections, "rerank")
    first = asyncio.create_task(
        correct_result(sessionmaker, ResultCorrectInput(result_id=low, total_score=99.0, reason="a"), Caller("a"))
    )
    await until_arrived(gate, 1, first)
    second = asyncio.create_task(
        outcome(
            correct_result(race.other, ResultCorrectInput(result_id=high, total_score=99.5, reason="b"), Caller("b"))
        )
    )
    await race.until_held(gate, 2, second)
    gate.open()
    await asyncio.wait_for(first, 20)
    answer = await second

    assert isinstance(answer, corrections.CorrectionOutcome), answer
    assert sorted(row[0] for row in await _history(sessionmaker, low, high)) == sorted([low, high])
    async with sessionmaker() as session:
        revised = (await session.scalars(select(ResultEvent.result_id).where(ResultEvent.type == RESULT_REVISED))).all()
        ranks = dict(
            (
                await session.execute(
                    select(AppraisalResult.id, AppraisalResult.rank_in_department).where(
                        AppraisalResult.id.in_([low, high])
                    )
                )
            ).all()
        )
        departments = (
            await session.scalars(select(AppraisalResult.department_id).where(AppraisalResult.id.in_([low, high])))
        ).all()
    assert sorted(revised) == sorted([low, high])
    if len(set(departments)) == 1:  # both in one department: 99.5 first, 99.0 second
        assert (ranks[high], ranks[low]) == (1, 2)
    else:
        assert ranks[high] == ranks[low] == 1
