"""The history of hand changes: every calibration and correction kept with before and after, in the changing
transaction; target distributions per post or department; corrections of published results on the stream."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import GradeBands
from hub.db.models import AppraisalResult, ResultAdjustment, ResultEvent
from hub.demo.organisation import SeedSummary
from hub.domain import AdjustmentKind, CycleState, Grade, GroupDimension
from hub.events import outbox
from hub.events.outbox import RESULT_PUBLISHED, RESULT_REVISED, event_id
from hub.operations.calibration import (
    DistributionScopeInput,
    GradeShareInput,
    ResultCalibrateInput,
    calibrate_result,
)
from hub.operations.commands import Caller
from hub.operations.corrections import ResultCorrectInput, correct_result
from hub.operations.cycles import CycleCloseCalibration, CycleReopen, close_calibration, reopen_cycle
from hub.operations.errors import GradeDisagrees, InvalidInput, WrongCycleState
from hub.operations.scoring import CycleScore, score_cycle

Sessions = async_sessionmaker[AsyncSession]
RESULTS = AppraisalResult.__table__
ADJUSTMENTS = ResultAdjustment.__table__


async def _row(sessionmaker: Sessions, result_id: int) -> Row[Any]:
    async with sessionmaker() as session:
        return (await session.execute(select(RESULTS).where(RESULTS.c.id == result_id))).one()


async def _history(sessionmaker: Sessions, result_id: int) -> list[Row[Any]]:
    async with sessionmaker() as session:
        statement = select(ADJUSTMENTS).where(ADJUSTMENTS.c.result_id == result_id).order_by(ADJUSTMENTS.c.id)
        return list((await session.execute(statement)).all())


async def _counts(sessionmaker: Sessions) -> tuple[int, int]:
    """(adjustment rows, outbox events) in the whole database."""
    async with sessionmaker() as session:
        adjustments = await session.scalar(select(func.count()).select_from(ADJUSTMENTS))
        events = await session.scalar(select(func.count()).select_from(ResultEvent))
    return adjustments or 0, events or 0


async def _first_below(sessionmaker: Sessions, cycle_id: int, total: float) -> Row[Any]:
    """The cycle's lowest-id result whose total is below ``total``."""
    async with sessionmaker() as session:
        statement = select(RESULTS).where(RESULTS.c.cycle_id == cycle_id, RESULTS.c.total_score < total)
        return (await session.execute(statement.order_by(RESULTS.c.id).limit(1))).one()


async def _scored(sessionmaker: Sessions, seeded: SeedSummary) -> Row[Any]:
    """Scores the current cycle; its lowest-id result below an A."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    return await _first_below(sessionmaker, seeded.current_cycle_id, GradeBands().a)


async def _published(sessionmaker: Sessions, seeded: SeedSummary) -> Row[Any]:
    """The published past cycle's lowest-id result graded below S."""
    return await _first_below(sessionmaker, seeded.past_cycle_id, GradeBands().s)


def _calibration(result_id: int, reason: str, **more: Any) -> ResultCalibrateInput:
    return dataclasses.replace(ResultCalibrateInput(result_id=result_id, reason=reason), **more)


def _correction(result_id: int, total: float, reason: str, **more: Any) -> ResultCorrectInput:
    return dataclasses.replace(ResultCorrectInput(result_id=result_id, total_score=total, reason=reason), **more)


async def test_two_calibrations_are_both_kept_with_before_and_after(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """The second calibration replaces the first on the result, and the history holds both, oldest first, each
    with what it changed from and to, why, who and when."""
    before = await _scored(sessionmaker, seeded)

    await calibrate_result(sessionmaker, _calibration(before.id, "first", total_score=95.0), Caller("hr-1"))
    await calibrate_result(
        sessionmaker, _calibration(before.id, "second", grade=Grade.C, grade_override=True), Caller("hr-2")
    )

    first, second = await _history(sessionmaker, before.id)
    assert (first.kind, first.total_before, first.grade_before) == (
        AdjustmentKind.CALIBRATION,
        before.total_score,
        before.grade,
    )
    assert (first.total_after, first.grade_after, first.reason, first.actor) == (95.0, Grade.S, "first", "hr-1")
    assert (second.total_before, second.grade_before) == (95.0, Grade.S)
    assert (second.total_after, second.grade_after, second.reason, second.actor) == (
        before.computed_total,
        Grade.C,
        "second",
        "hr-2",
    )
    assert first.at <= second.at


@pytest.mark.parametrize(
    "refused",
    [
        {"total_score": 95.0, "grade": Grade.D},  # the bands give 95 an S: GradeDisagrees
        {"total_score": 101.0},
        {"total_score": 95.0, "reason": "  "},
        {"total_score": 95.0, "target_scope": DistributionScopeInput(post_id=10**6)},  # no target to check
    ],
)
async def test_a_refused_calibration_writes_no_history(
    sessionmaker: Sessions, seeded: SeedSummary, refused: dict[str, Any]
) -> None:
    """Whatever refuses a calibration, neither the result nor its history changed."""
    before = await _scored(sessionmaker, seeded)
    counts = await _counts(sessionmaker)

    with pytest.raises((InvalidInput, GradeDisagrees)):
        await calibrate_result(sessionmaker, _calibration(before.id, **{"reason": "r", **refused}), Caller("hr"))

    assert await _history(sessionmaker, before.id) == []
    assert await _counts(sessionmaker) == counts
    assert (await _row(sessionmaker, before.id))._mapping == before._mapping


async def test_a_calibration_that_fails_after_its_writes_leaves_no_history(
    sessionmaker: Sessions, seeded: SeedSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history row is written in the calibration's transaction: when its last step fails, it goes too."""
    before = await _scored(sessionmaker, seeded)

    async def failing(*_: object) -> None:
        raise RuntimeError("the audit is away")

    monkeypatch.setattr("hub.operations.calibration.audit_change", failing)
    with pytest.raises(RuntimeError):
        await calibrate_result(sessionmaker, _calibration(before.id, "r", total_score=95.0), Caller("hr"))

    assert await _history(sessionmaker, before.id) == []
    assert (await _row(sessionmaker, before.id))._mapping == before._mapping


async def test_a_reopen_discards_the_calibrations_with_the_results(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Reopening discards the unpublished results; their calibrations go with them (the reopen's reason is in
    the cycle's transitions)."""
    before = await _scored(sessionmaker, seeded)
    await calibrate_result(sessionmaker, _calibration(before.id, "r", total_score=95.0), Caller("hr"))
    assert len(await _history(sessionmaker, before.id)) == 1

    await reopen_cycle(sessionmaker, CycleReopen(seeded.current_cycle_id, "late ratings"), Caller("hr"))

    adjustments, _ = await _counts(sessionmaker)
    assert adjustments == 0


def _target(limit: float) -> tuple[GradeShareInput, ...]:
    return (GradeShareInput(grade=Grade.S, max_share=limit),)


async def _grades(sessionmaker: Sessions, cycle_id: int, **group: int) -> list[Grade]:
    async with sessionmaker() as session:
        conditions = [RESULTS.c[name] == value for name, value in group.items()]
        return list(await session.scalars(select(RESULTS.c.grade).where(RESULTS.c.cycle_id == cycle_id, *conditions)))


@pytest.mark.parametrize("dimension", [GroupDimension.POST, GroupDimension.DEPARTMENT])
async def test_a_target_per_post_or_department_is_checked_over_that_group(
    sessionmaker: Sessions, seeded: SeedSummary, dimension: GroupDimension
) -> None:
    """A scoped target counts the grades of the result's post (or department) only, and names the group."""
    before = await _scored(sessionmaker, seeded)
    column = "post_id" if dimension is GroupDimension.POST else "department_id"
    group_id = before._mapping[column]
    scope = DistributionScopeInput(**{column: group_id})

    outcome = await calibrate_result(
        sessionmaker,
        _calibration(before.id, "r", total_score=96.0, target_distribution=_target(0.0), target_scope=scope),
        Caller("hr"),
    )

    grades = await _grades(sessionmaker, seeded.current_cycle_id, **{column: group_id})
    cycle_grades = await _grades(sessionmaker, seeded.current_cycle_id)
    assert len(grades) < len(cycle_grades)
    (warning,) = outcome.warnings
    assert (warning.grade, warning.count, warning.share) == (
        Grade.S,
        grades.count(Grade.S),
        grades.count(Grade.S) / len(grades),
    )
    assert outcome.group is not None
    assert (outcome.group.dimension, outcome.group.id) == (dimension, group_id)
    assert outcome.group.name


async def test_a_cycle_wide_target_is_checked_over_the_cycle(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Without a scope the target is the cycle's, as before, and the group says so."""
    before = await _scored(sessionmaker, seeded)

    outcome = await calibrate_result(
        sessionmaker, _calibration(before.id, "r", total_score=96.0, target_distribution=_target(0.0)), Caller("hr")
    )

    grades = await _grades(sessionmaker, seeded.current_cycle_id)
    assert [(w.grade, w.count) for w in outcome.warnings] == [(Grade.S, grades.count(Grade.S))]
    assert outcome.group is not None and outcome.group.dimension is GroupDimension.CYCLE


@pytest.mark.parametrize(
    "scope",
    [
        DistributionScopeInput(),
        DistributionScopeInput(post_id=1, department_id=1),
        DistributionScopeInput(post_id=10**6),
        DistributionScopeInput(department_id=10**6),
    ],
)
async def test_a_scope_that_is_not_one_group_of_the_result_is_refused(
    sessionmaker: Sessions, seeded: SeedSummary, scope: DistributionScopeInput
) -> None:
    """Neither or both, or a post or department the result was not scored in: InvalidInput on targetScope."""
    before = await _scored(sessionmaker, seeded)

    with pytest.raises(InvalidInput) as raised:
        await calibrate_result(
            sessionmaker,
            _calibration(before.id, "r", total_score=96.0, target_distribution=_target(0.5), target_scope=scope),
            Caller("hr"),
        )

    assert raised.value.field == "targetScope"
    assert await _history(sessionmaker, before.id) == []


async def test_a_correction_changes_the_published_result_keeps_history_and_announces_it(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """A published result corrected: new total and banded grade, ranks recomputed, a CORRECTION row and one
    result.revised event after the published ones, with an id of its own."""
    before = await _published(sessionmaker, seeded)
    _, events_before = await _counts(sessionmaker)

    outcome = await correct_result(sessionmaker, _correction(before.id, 100.0, "a ticket export was cut"), Caller("hr"))

    after = await _row(sessionmaker, before.id)
    assert outcome.result._mapping == after._mapping
    assert (after.total_score, after.grade, after.rank_in_post, after.rank_in_department) == (100.0, Grade.S, 1, 1)
    assert (after.computed_total, after.calibrated) == (before.computed_total, before.calibrated)
    (correction,) = await _history(sessionmaker, before.id)
    assert (correction.kind, correction.total_before, correction.grade_before) == (
        AdjustmentKind.CORRECTION,
        before.total_score,
        before.grade,
    )
    assert (correction.total_after, correction.grade_after, correction.actor) == (100.0, Grade.S, "hr")
    async with sessionmaker() as session:
        events = (await session.execute(select(ResultEvent).order_by(ResultEvent.id))).scalars().all()
    assert len(events) == events_before + 1
    revised = events[-1]
    assert (revised.type, revised.result_id, revised.cycle_id, revised.employee_id) == (
        RESULT_REVISED,
        before.id,
        seeded.past_cycle_id,
        before.employee_id,
    )
    assert revised.event_id == event_id(RESULT_REVISED, before.id, correction.id)
    assert revised.event_id != event_id(RESULT_PUBLISHED, before.id)


async def test_two_corrections_are_two_events(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Each correction is announced: two of one result are two events with distinct ids, and two history rows
    chained before to after."""
    before = await _published(sessionmaker, seeded)

    await correct_result(sessionmaker, _correction(before.id, 97.0, "first"), Caller("hr"))
    await correct_result(sessionmaker, _correction(before.id, 40.0, "second", grade=Grade.D), Caller("hr"))

    first, second = await _history(sessionmaker, before.id)
    assert (first.total_after, second.total_before, second.total_after, second.grade_after) == (
        97.0,
        97.0,
        40.0,
        Grade.D,
    )
    async with sessionmaker() as session:
        ids = (
            await session.scalars(
                select(ResultEvent.event_id).where(
                    ResultEvent.result_id == before.id, ResultEvent.type == RESULT_REVISED
                )
            )
        ).all()
    assert len(set(ids)) == 2


async def test_a_grade_the_bands_do_not_give_needs_the_override(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """As in calibration: 97 graded D is GradeDisagrees unless gradeOverride says it is meant."""
    before = await _published(sessionmaker, seeded)

    with pytest.raises(GradeDisagrees):
        await correct_result(sessionmaker, _correction(before.id, 97.0, "r", grade=Grade.D), Caller("hr"))
    outcome = await correct_result(
        sessionmaker, _correction(before.id, 97.0, "committee", grade=Grade.D, grade_override=True), Caller("hr")
    )

    assert (outcome.result.total_score, outcome.result.grade) == (97.0, Grade.D)
    assert len(await _history(sessionmaker, before.id)) == 1


@pytest.mark.parametrize("state", [CycleState.SCORED, CycleState.CALIBRATED])
async def test_a_correction_before_publication_is_refused(
    sessionmaker: Sessions, seeded: SeedSummary, state: CycleState
) -> None:
    """A result of a cycle not yet PUBLISHED is calibrated, not corrected: WrongCycleState, nothing written."""
    before = await _scored(sessionmaker, seeded)
    if state is CycleState.CALIBRATED:
        await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("hr"))
        before = await _row(sessionmaker, before.id)
    counts = await _counts(sessionmaker)

    with pytest.raises(WrongCycleState) as raised:
        await correct_result(sessionmaker, _correction(before.id, 90.0, "r"), Caller("hr"))

    assert raised.value.state is state
    assert "calibrate" in raised.value.message
    assert await _counts(sessionmaker) == counts
    assert (await _row(sessionmaker, before.id))._mapping == before._mapping


@pytest.mark.parametrize(
    ("total", "more", "field"),
    [
        (90.0, {"reason": ""}, "reason"),
        (100.5, {}, "totalScore"),
        (90.0, {"grade_override": True}, "grade"),
        (None, {}, "totalScore"),  # the published total and grade again: a revision that revises nothing
    ],
)
async def test_a_refused_correction_writes_nothing(
    sessionmaker: Sessions, seeded: SeedSummary, total: float | None, more: dict[str, Any], field: str
) -> None:
    """Bad input is InvalidInput naming the field: the result, its history and the outbox are untouched."""
    before = await _published(sessionmaker, seeded)
    counts = await _counts(sessionmaker)
    more = {"reason": "r", **more}  # the parameters are shared by the backends' runs: not changed here

    with pytest.raises(InvalidInput) as raised:
        await correct_result(
            sessionmaker,
            _correction(before.id, before.total_score if total is None else total, **more),
            Caller("hr"),
        )

    assert raised.value.field == field
    assert await _counts(sessionmaker) == counts
    assert (await _row(sessionmaker, before.id))._mapping == before._mapping


async def test_the_event_is_written_in_the_correcting_transaction(
    sessionmaker: Sessions, seeded: SeedSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correction whose last step fails leaves no event, no history row, no changed result and no moved rank:
    the outbox never announces a correction that did not commit, nor misses one that did."""
    before = await _published(sessionmaker, seeded)
    async with sessionmaker() as session:
        ranks_before = (
            await session.execute(
                select(RESULTS.c.id, RESULTS.c.rank_in_post).where(RESULTS.c.cycle_id == seeded.past_cycle_id)
            )
        ).all()
    counts = await _counts(sessionmaker)
    appended: list[int] = []
    real_append = outbox.append_revised

    async def append_then_fail(session: AsyncSession, **event: int) -> None:
        await real_append(session, **event)
        appended.append(event["result_id"])
        raise RuntimeError("the process died here")

    monkeypatch.setattr("hub.operations.corrections.append_revised", append_then_fail)
    with pytest.raises(RuntimeError):
        await correct_result(sessionmaker, _correction(before.id, 100.0, "r"), Caller("hr"))

    assert appended == [before.id]
    assert await _counts(sessionmaker) == counts
    assert (await _row(sessionmaker, before.id))._mapping == before._mapping
    async with sessionmaker() as session:
        ranks_after = (
            await session.execute(
                select(RESULTS.c.id, RESULTS.c.rank_in_post).where(RESULTS.c.cycle_id == seeded.past_cycle_id)
            )
        ).all()
    assert sorted(ranks_after) == sorted(ranks_before)
