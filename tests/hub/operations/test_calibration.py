"""Calibrating results: overrides with a reason, computed values kept, state rules, distribution warnings."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import DistributionWarning, GradeBands
from hub.db.models import AppraisalResult
from hub.demo.organisation import SeedSummary
from hub.domain import Grade
from hub.operations.calibration import CalibrationOutcome, GradeShareInput, ResultCalibrateInput, calibrate_result
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, close_calibration
from hub.operations.errors import GradeDisagrees, InvalidInput, NotFound, WrongCycleState
from hub.operations.scoring import CycleScore, score_cycle

Sessions = async_sessionmaker[AsyncSession]
RESULTS = AppraisalResult.__table__


async def _row(sessionmaker: Sessions, result_id: int) -> Row[Any]:
    async with sessionmaker() as session:
        return (await session.execute(select(RESULTS).where(RESULTS.c.id == result_id))).one()


async def _first_result(sessionmaker: Sessions, cycle_id: int, *, below: float = 100.0) -> Row[Any]:
    """The cycle's lowest-id result whose computed total is below ``below``."""
    async with sessionmaker() as session:
        return (
            await session.execute(
                select(RESULTS)
                .where(RESULTS.c.cycle_id == cycle_id, RESULTS.c.computed_total < below)
                .order_by(RESULTS.c.id)
                .limit(1)
            )
        ).one()


async def _scored_result(sessionmaker: Sessions, seeded: SeedSummary) -> Row[Any]:
    """Scores the current cycle and returns a result the engine did not grade S."""
    report = await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    assert report.scored > 0
    return await _first_result(sessionmaker, seeded.current_cycle_id, below=GradeBands().a)


def _snapshot(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


async def _by_hr(
    sessionmaker: Sessions,
    result_id: int,
    total_score: float | None,
    grade: Grade | None,
    reason: str,
    actor: str = "hr",
    **more: Any,
) -> CalibrationOutcome:
    """calibrate_result by "hr", with ``more`` of its options (bands, target_distribution, grade_override, audit)."""
    limits = more.pop("target_distribution", None)
    override = more.pop("grade_override", False)
    shares = None if limits is None else tuple(GradeShareInput(grade=g, max_share=s) for g, s in limits.items())
    command = ResultCalibrateInput(
        result_id=result_id, total_score=total_score, grade=grade, reason=reason, target_distribution=shares
    )
    command = dataclasses.replace(command, grade_override=override)
    return await calibrate_result(sessionmaker, command, Caller(actor, **more))


async def test_total_only_takes_the_grade_from_the_bands(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A new total alone gets its grade from the bands; computed_total and computed_grade stay as scored."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(sessionmaker, before.id, 95.0, None, "exceptional year")

    assert isinstance(outcome, CalibrationOutcome)
    assert outcome.warnings == []
    after = await _row(sessionmaker, before.id)
    assert _snapshot(outcome.result) == _snapshot(after)
    assert (after.total_score, after.grade) == (95.0, Grade.S)
    assert (after.computed_total, after.computed_grade) == (before.computed_total, before.computed_grade)
    assert (after.calibrated, after.calibration_reason, after.calibrated_by) == (True, "exceptional year", "hr")

    custom = await _by_hr(
        sessionmaker, before.id, 95.0, None, "stricter bands", bands=GradeBands(s=97.0, a=90.0, b=80.0, c=70.0)
    )
    assert custom.result.grade == Grade.A


async def test_grade_only_keeps_the_computed_total(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A grade alone, said to override the bands, overrides the grade; the total stays the engine's."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(sessionmaker, before.id, None, Grade.D, "misconduct", grade_override=True)

    after = await _row(sessionmaker, before.id)
    assert _snapshot(outcome.result) == _snapshot(after)
    assert (after.total_score, after.grade) == (before.computed_total, Grade.D)
    assert (after.computed_total, after.computed_grade) == (before.computed_total, before.computed_grade)
    assert after.calibrated is True


async def test_total_and_grade_are_both_taken_as_given_when_the_override_is_explicit(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """With both and gradeOverride, the grade need not match the bands: the reason explains the exception."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(sessionmaker, before.id, 85.5, Grade.S, "committee", grade_override=True)

    assert (outcome.result.total_score, outcome.result.grade) == (85.5, Grade.S)


@pytest.mark.parametrize(("total_score", "grade"), [(95.0, Grade.D), (None, Grade.D), (85.5, Grade.S)])
async def test_a_grade_the_bands_do_not_give_the_total_is_refused_without_an_override(
    sessionmaker: Sessions, seeded: SeedSummary, total_score: float | None, grade: Grade
) -> None:
    """95 graded D (or the computed total graded D) is GradeDisagrees naming the grade; nothing is written."""
    before = await _scored_result(sessionmaker, seeded)
    assert before.computed_grade is not Grade.D

    with pytest.raises(GradeDisagrees) as raised:
        await _by_hr(sessionmaker, before.id, total_score, grade, "a slip of the mouse")

    assert (raised.value.code, raised.value.field) == ("GRADE_DISAGREES_WITH_BANDS", "grade")
    assert "gradeOverride" in raised.value.message
    assert _snapshot(await _row(sessionmaker, before.id)) == _snapshot(before)


async def test_a_grade_that_agrees_with_the_bands_needs_no_override(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """95 graded S is what the bands say: stored as given."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(sessionmaker, before.id, 95.0, Grade.S, "exceptional year")

    assert (outcome.result.total_score, outcome.result.grade) == (95.0, Grade.S)


async def test_an_override_without_a_grade_is_refused(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """gradeOverride with a total alone overrides nothing: InvalidInput naming the grade, nothing written."""
    before = await _scored_result(sessionmaker, seeded)

    with pytest.raises(InvalidInput) as raised:
        await _by_hr(sessionmaker, before.id, 95.0, None, "r", grade_override=True)

    assert raised.value.field == "grade"
    assert _snapshot(await _row(sessionmaker, before.id)) == _snapshot(before)


@pytest.mark.parametrize(
    ("total_score", "grade", "reason", "field"),
    [
        (95.0, None, "", "reason"),
        (95.0, None, "   ", "reason"),
        (None, None, "no values", "totalScore"),
        (100.5, None, "too high", "totalScore"),
        (-0.5, Grade.C, "too low", "totalScore"),
        (math.nan, None, "not a number", "totalScore"),
        (math.inf, None, "infinite", "totalScore"),
    ],
)
async def test_invalid_input_is_rejected_and_nothing_changes(
    sessionmaker: Sessions,
    seeded: SeedSummary,
    total_score: float | None,
    grade: Grade | None,
    reason: str,
    field: str,
) -> None:
    """A missing reason, no values or a total off 0..100 is InvalidInput naming the field; the row is untouched."""
    before = await _scored_result(sessionmaker, seeded)

    with pytest.raises(InvalidInput) as raised:
        await calibrate_result(
            sessionmaker,
            ResultCalibrateInput(result_id=before.id, total_score=total_score, grade=grade, reason=reason),
            Caller("hr"),
        )

    assert raised.value.field == field
    assert _snapshot(await _row(sessionmaker, before.id)) == _snapshot(before)


async def test_target_limit_off_0_to_1_is_rejected(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A limit given as a percentage (10 for 10%) is InvalidInput before anything is written."""
    before = await _scored_result(sessionmaker, seeded)

    with pytest.raises(InvalidInput) as raised:
        await _by_hr(sessionmaker, before.id, 95.0, None, "r", target_distribution={Grade.S: 10.0})

    assert raised.value.field == "targetDistribution"
    assert _snapshot(await _row(sessionmaker, before.id)) == _snapshot(before)


async def test_published_cycle_is_rejected_and_nothing_changes(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Results of the published past cycle cannot be calibrated: WrongCycleState, row untouched."""
    before = await _first_result(sessionmaker, seeded.past_cycle_id)

    with pytest.raises(WrongCycleState) as raised:
        await _by_hr(sessionmaker, before.id, 99.0, None, "too late")

    assert "calibration happens between scoring and closing calibration" in raised.value.message
    assert _snapshot(await _row(sessionmaker, before.id)) == _snapshot(before)


async def test_closed_calibration_is_rejected(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Once calibration is closed (CALIBRATED) no result can be calibrated any more."""
    before = await _scored_result(sessionmaker, seeded)
    await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))

    with pytest.raises(WrongCycleState):
        await _by_hr(sessionmaker, before.id, None, Grade.A, "late")


async def test_unknown_result_is_not_found(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """An id that names no result is NotFound on the resultId field."""
    with pytest.raises(NotFound) as raised:
        await calibrate_result(
            sessionmaker, ResultCalibrateInput(result_id=10**9, total_score=50.0, grade=None, reason="r"), Caller("hr")
        )

    assert (raised.value.entity, raised.value.field) == ("result", "resultId")


async def test_distribution_breach_is_a_warning_and_the_calibration_is_stored(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """With no S allowed, calibrating someone to S warns about S over its limit and still stores."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(
        sessionmaker,
        before.id,
        None,
        Grade.S,
        "promotion case",
        target_distribution={Grade.S: 0.0},
        grade_override=True,
    )

    async with sessionmaker() as session:
        total = await session.scalar(select(func.count()).where(RESULTS.c.cycle_id == seeded.current_cycle_id))
        s_count = await session.scalar(
            select(func.count()).where(RESULTS.c.cycle_id == seeded.current_cycle_id, RESULTS.c.grade == Grade.S)
        )
    assert total and s_count
    assert outcome.warnings == [DistributionWarning(Grade.S, s_count / total, 0.0, s_count, 0)]
    assert (await _row(sessionmaker, before.id)).grade == Grade.S


async def test_distribution_within_limits_gives_no_warning(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Limits the cycle's grades keep (everyone may be anything) produce no warning."""
    before = await _scored_result(sessionmaker, seeded)

    outcome = await _by_hr(
        sessionmaker, before.id, None, Grade.S, "r", target_distribution=dict.fromkeys(Grade, 1.0), grade_override=True
    )

    assert outcome.warnings == []


async def test_recalibration_replaces_the_previous_one_and_keeps_the_original(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """A second calibration replaces the first (reason, actor, values); computed values never move."""
    before = await _scored_result(sessionmaker, seeded)
    await _by_hr(sessionmaker, before.id, 95.0, None, "first", actor="hr-1")

    outcome = await _by_hr(sessionmaker, before.id, None, Grade.C, "second", actor="hr-2", grade_override=True)

    after = outcome.result
    assert (after.total_score, after.grade) == (before.computed_total, Grade.C)
    assert (after.calibration_reason, after.calibrated_by, after.calibrated) == ("second", "hr-2", True)
    assert (after.computed_total, after.computed_grade) == (before.computed_total, before.computed_grade)


async def test_calibrating_back_to_the_computed_values_stays_calibrated(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """Setting exactly the computed total and grade is allowed and is recorded as a calibration."""
    before = await _scored_result(sessionmaker, seeded)
    await _by_hr(sessionmaker, before.id, 10.0, None, "first")

    outcome = await _by_hr(
        sessionmaker, before.id, before.computed_total, before.computed_grade, "undo: the engine was right"
    )

    after = outcome.result
    assert (after.total_score, after.grade) == (before.computed_total, before.computed_grade)
    assert (after.calibrated, after.calibration_reason) == (True, "undo: the engine was right")


async def test_closing_calibration_ranks_by_the_calibrated_total(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """After closing calibration the calibrated result ranks first in its post."""
    before = await _scored_result(sessionmaker, seeded)
    await _by_hr(sessionmaker, before.id, 100.0, None, "best")

    await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))

    after = await _row(sessionmaker, before.id)
    assert (after.total_score, after.grade, after.rank_in_post) == (100.0, Grade.S, 1)
