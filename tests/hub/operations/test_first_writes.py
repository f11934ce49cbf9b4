"""Races are typed answers: two concurrent first writes of one key give a success and a typed answer (the
upsert's outcome, or a refusal), never a unique-constraint error; likewise a calibration racing a reopen.

Each race is made deterministic: the first competitor is held at the point where it has checked what
is there and not yet written, and the second is let go only once it is held too (at the same point,
or behind the cycle's lock).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from hub.db.models import AppraisalResult, Cycle, MetricValue, RaterAssignment, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState, Grade, RaterRole
from hub.operations import calibration, collect, metrics, ratings
from hub.operations.calibration import CalibrationOutcome, ResultCalibrateInput, calibrate_result
from hub.operations.collect import CollectReport
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, CycleOpen, CycleReopen, create_cycle, open_cycle, reopen_cycle
from hub.operations.errors import NotFound, WrongCycleState
from hub.operations.metrics import MetricValuesImported
from hub.operations.ratings import RaterAssignInput, RatingRecord, RatingSubmitInput, assign_rater, submit_rating
from hub.operations.scoring import CycleScore, score_cycle
from tests.hub.operations.concurrency import Gate, Race, hold_before, outcome, until_arrived
from tests.hub.operations.conftest import Measured, ScorableCycle, Sessions, import_csv
from tests.hub.operations.test_collect import FakeSystem, collect_from
from tests.stored import metric_value, result_ids

NOW = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)


async def test_two_first_submissions_of_one_rating_both_succeed(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle
) -> None:
    rated = scorable.rated
    # After the checks (the rater is assigned, the value on the scale), before the write.
    gate = race.gate_before(ratings, "_rating_scale")

    def submit(sessions: Sessions, value: float) -> asyncio.Task[RatingRecord | Exception]:
        return asyncio.create_task(
            outcome(
                submit_rating(
                    sessions,
                    RatingSubmitInput(
                        cycle_id=scorable.cycle_id,
                        ratee_id=rated.ratee_id,
                        rater_id=rated.rater_id,
                        indicator_version_id=rated.indicator_version_id,
                        value=value,
                        comment=None,
                    ),
                    Caller("test", now=NOW),
                )
            )
        )

    first, second = submit(sessionmaker, 2), submit(race.other, 4)
    await race.until_held(gate, 2, first, second)
    gate.open()
    answers = [await first, await second]

    assert all(isinstance(answer, RatingRecord) for answer in answers), answers
    async with sessionmaker() as session:
        stored = (
            await session.execute(
                select(Rating.id, Rating.value).where(
                    Rating.cycle_id == scorable.cycle_id,
                    Rating.ratee_id == rated.ratee_id,
                    Rating.rater_id == rated.rater_id,
                    Rating.indicator_version_id == rated.indicator_version_id,
                )
            )
        ).all()
    assert len(stored) == 1
    assert {answer.id for answer in answers if isinstance(answer, RatingRecord)} == {stored[0].id}
    assert stored[0].value in (2, 4)


@pytest.fixture
async def unwritten_key(sessionmaker: Sessions, scorable: ScorableCycle) -> Measured:
    """The measured key of ``scorable`` with none of its employee's values of the cycle stored: the next
    write of the key is a first one."""
    measured = scorable.measured
    async with sessionmaker.begin() as session:
        await session.execute(
            delete(MetricValue).where(
                MetricValue.cycle_id == scorable.cycle_id, MetricValue.employee_id == measured.employee_id
            )
        )
    return measured


async def test_two_first_imports_of_one_key_both_succeed(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle, unwritten_key: Measured
) -> None:
    measured = unwritten_key
    # After the file is checked and before anything is written.
    gate = race.gate_before(metrics, "_match")

    def send(sessions: Sessions, value: float) -> asyncio.Task[MetricValuesImported | Exception]:
        csv = f"employee_no,indicator,value\n{measured.employee_no},{measured.code},{value}\n"
        return asyncio.create_task(outcome(import_csv(sessions, scorable.cycle_id, csv)))

    first, second = send(sessionmaker, measured.value), send(race.other, measured.value + 1)
    await race.until_held(gate, 2, first, second)
    gate.open()
    answers = [await first, await second]

    assert all(isinstance(answer, MetricValuesImported) for answer in answers), answers
    # One stored the value, the other replaced it; which is which is the race's to decide.
    assert sorted(answer.replaced for answer in answers if isinstance(answer, MetricValuesImported)) == [0, 1]
    async with sessionmaker() as session:
        count = await session.scalar(
            metric_value(
                func.count(MetricValue.id), scorable.cycle_id, measured.employee_id, measured.indicator_version_id
            )
        )
    assert count == 1


async def test_an_import_racing_a_collection_of_the_same_keys(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle, unwritten_key: Measured
) -> None:
    measured = unwritten_key
    # The collection holds once it has fetched, locked and re-checked; the import comes meanwhile.
    gate = race.gate_after(collect, "locked_cycle")
    systems = {name: FakeSystem(name) for name in ("finance", "security", "tickets")}
    collecting = asyncio.create_task(outcome(collect_from(sessionmaker, scorable.cycle_id, systems)))
    await until_arrived(gate, 1, collecting)
    csv = f"employee_no,indicator,value\n{measured.employee_no},{measured.code},{measured.value}\n"
    importing = asyncio.create_task(outcome(import_csv(race.other, scorable.cycle_id, csv)))
    await race.until_held(gate, 2, importing)
    gate.open()
    collected, imported = await collecting, await importing

    assert isinstance(collected, CollectReport), collected
    assert isinstance(imported, MetricValuesImported), imported
    assert imported.replaced == 1  # the collection went first and stored the key; the import replaced it


async def test_a_calibration_racing_a_reopen_and_rescore_is_a_typed_answer(
    sessionmaker: Sessions, race: Race, scorable: ScorableCycle
) -> None:
    cycle_id = scorable.cycle_id
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller("test"))
    async with sessionmaker() as session:
        result_id = await session.scalar(result_ids(cycle_id))
    assert result_id is not None
    # The calibration has found its result and is about to lock the cycle.
    gate = race.gate_before(calibration, "locked_cycle")
    calibrating = asyncio.create_task(
        outcome(
            calibrate_result(
                race.other,
                ResultCalibrateInput(
                    result_id=result_id, total_score=None, grade=Grade.A, reason="r", grade_override=True
                ),
                Caller("hr"),
            )
        )
    )
    await until_arrived(gate, 1, calibrating)
    await reopen_cycle(sessionmaker, CycleReopen(cycle_id, reason="late ratings"), Caller("hr"))
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller("hr"))
    gate.open()
    answer = await calibrating

    assert isinstance(answer, NotFound | CalibrationOutcome), answer
    if isinstance(answer, CalibrationOutcome):
        # SQLite hands a deleted row's id to the next row: then it calibrated the new result, of this cycle.
        assert answer.result.cycle_id == cycle_id and answer.result.grade is Grade.A
    async with sessionmaker() as session:
        assert await session.scalar(select(Cycle.state).where(Cycle.id == cycle_id)) is CycleState.SCORED


async def test_a_calibration_after_a_reopen_is_refused(
    sessionmaker: Sessions, scorable: ScorableCycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle_id = scorable.cycle_id
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller("test"))
    async with sessionmaker() as session:
        result_id = await session.scalar(select(AppraisalResult.id).where(AppraisalResult.cycle_id == cycle_id))
    assert result_id is not None
    gate = Gate()
    hold_before(monkeypatch, calibration, "locked_cycle", gate)
    calibrating = asyncio.create_task(
        outcome(
            calibrate_result(
                sessionmaker,
                ResultCalibrateInput(result_id=result_id, total_score=50.0, grade=None, reason="r"),
                Caller("hr"),
            )
        )
    )
    await until_arrived(gate, 1, calibrating)
    await reopen_cycle(sessionmaker, CycleReopen(cycle_id, reason="late ratings"), Caller("hr"))
    gate.open()
    answer = await calibrating
    assert isinstance(answer, WrongCycleState) and answer.state is CycleState.OPEN


async def test_a_rater_assigned_by_hand_in_draft_survives_opening(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Opening adds self and manager raters; a relationship HR set up in DRAFT is kept, not a conflict."""
    cycle = await create_cycle(
        sessionmaker,
        CycleCreateInput(name="2027 Q1", period_start=dt.date(2027, 1, 1), period_end=dt.date(2027, 3, 31)),
        Caller("hr"),
    )
    async with sessionmaker() as session:
        ratee_id, manager_id = (
            await session.execute(
                select(RaterAssignment.ratee_id, RaterAssignment.rater_id)
                .where(RaterAssignment.cycle_id == seeded.current_cycle_id, RaterAssignment.role == RaterRole.MANAGER)
                .limit(1)
            )
        ).one()
    await assign_rater(
        sessionmaker,
        RaterAssignInput(cycle_id=cycle.id, ratee_id=ratee_id, rater_id=manager_id, role=RaterRole.PEER),
        Caller("test"),
    )
    opened = await open_cycle(sessionmaker, CycleOpen(cycle.id), Caller("hr"))
    assert opened.cycle.state is CycleState.OPEN
    async with sessionmaker() as session:
        role = await session.scalar(
            select(RaterAssignment.role).where(
                RaterAssignment.cycle_id == cycle.id,
                RaterAssignment.ratee_id == ratee_id,
                RaterAssignment.rater_id == manager_id,
            )
        )
    assert role is RaterRole.PEER
