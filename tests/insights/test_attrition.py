"""attritionSignals: each rule against the known data set, who may ask, and the training system's calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import MetricSource, Period, Provenance, RecordBatch, TrainingRecord
from hub.auth import Principal, Role
from hub.db.models import Employee
from hub.domain import EmployeeStatus
from resolvers.context import Context
from resolvers.insights import AttritionSignals, attrition_signals
from tests.conftest import TODAY, GraphQLClient, make_settings
from tests.insights.known import Known, core, earlier_scores, earlier_totals, extension, total, write_known
from tests.insights.test_profile import PROFILE
from tests.schema.conftest import _below as below

SIGNALS = """
query($c: ID!) {
  attritionSignals(cycleId: $c) {
    cycle { name } trainingChecked trainingError
    people { employee { id } result { totalScore } flags { rule figures { measure cycle { id } value } } }
  }
}
"""
Flags = dict[str, list[tuple[str, int, float]]]


@pytest.fixture
async def known(sessionmaker: async_sessionmaker[AsyncSession]) -> Known:
    return await write_known(sessionmaker)


def expected(known: Known) -> dict[int, Flags]:
    """The flags of the known set, worked out here from the rules as the schema states them."""
    y1_, y2_, y3_ = (known.cycles[name] for name in ("Y1", "Y2", "Y3"))
    found: dict[int, Flags] = {}
    for i, person in enumerate(known.people):
        flags: Flags = {}
        y1, y2 = earlier_totals(i)
        if y1 is not None and y1 > y2 > total(i) and y1 - total(i) >= 5:
            flags["DECLINING_RESULTS"] = [
                ("TOTAL_SCORE", y1_, y1),
                ("TOTAL_SCORE", y2_, y2),
                ("TOTAL_SCORE", y3_, total(i)),
            ]
        core_before, extension_before = earlier_scores(i)
        now = extension(i)
        if (
            now is not None
            and extension_before is not None
            and extension_before - now < 3 <= 10 <= core_before - core(i)
        ):
            flags["PEOPLE_RATED_FELL"] = [
                ("CORE_MEAN", y2_, core_before),
                ("CORE_MEAN", y3_, core(i)),
                ("EXTENSION_MEAN", y2_, extension_before),
                ("EXTENSION_MEAN", y3_, now),
            ]
        if flags:
            found[person[0]] = flags
    return found


def answered(people: Sequence[dict[str, Any]]) -> dict[int, Flags]:
    return {
        int(person["employee"]["id"]): {
            flag["rule"]: [(f["measure"], int(f["cycle"]["id"]), f["value"]) for f in flag["figures"]]
            for flag in person["flags"]
        }
        for person in people
    }


async def test_hr_admin_gets_every_flag_with_the_numbers_behind_it(app_client: GraphQLClient, known: Known) -> None:
    """Both result rules, against the known set; without a training system the training rule is unchecked."""
    app_client.sql.reset()
    answer = (await app_client.data(SIGNALS, {"c": str(known.cycles["Y3"])}))["attritionSignals"]
    # The cycle (its loader, which the answer reads again), the ranked history, the core and extension means, then
    # the loaders: the figures' earlier cycles, the employees and the results; whatever the people.
    assert app_client.sql.count == 6, "\n".join(s[:70].replace("\n", " ") for s in app_client.sql.statements)
    want = expected(known)
    assert {rule for flags in want.values() for rule in flags} == {"DECLINING_RESULTS", "PEOPLE_RATED_FELL"}
    assert answered(answer["people"]) == want
    assert answer["trainingChecked"] is False and "training" in answer["trainingError"]
    assert answer["cycle"]["name"] == "known Y3"
    totals = {int(p["employee"]["id"]): p["result"]["totalScore"] for p in answer["people"]}
    by_id = {person[0]: i for i, person in enumerate(known.people)}
    assert all(score == pytest.approx(total(by_id[employee]), abs=0.006) for employee, score in totals.items())


async def test_the_cycle_before_is_not_this_cycles_history(app_client: GraphQLClient, known: Known) -> None:
    """In Y2 nobody has three results, and Y1's results carry no indicator scores: no flag at all."""
    answer = (await app_client.data(SIGNALS, {"c": str(known.cycles["Y2"])}))["attritionSignals"]
    assert answer["people"] == []


async def test_a_leaver_is_not_flagged(
    app_client: GraphQLClient, known: Known, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Someone who has left (INACTIVE) is past a conversation about staying: their flags are not listed."""
    leaver = next(iter(expected(known)))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == leaver).values(status=EmployeeStatus.INACTIVE, left_on=TODAY)
        )
    answer = (await app_client.data(SIGNALS, {"c": str(known.cycles["Y3"])}))["attritionSignals"]
    assert set(answered(answer["people"])) == set(expected(known)) - {leaver}


async def test_a_manager_gets_their_reporting_line_only(
    app_client: GraphQLClient, known: Known, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A section head: the flagged people below them, never themselves, nobody else."""
    async with sessionmaker() as session:
        people = (await session.execute(select(Employee.id, Employee.employee_no, Employee.manager_id))).all()
    root = next(p for p in people if p.manager_id is None)
    for head in [p for p in people if p.manager_id == root.id]:
        line = below(people, head.id)
        want = {employee: flags for employee, flags in expected(known).items() if employee in line}
        if want:
            break
    manager = app_client.as_principal("manager", employee_number=head.employee_no)
    answer = (await manager.data(SIGNALS, {"c": str(known.cycles["Y3"])}))["attritionSignals"]
    assert answered(answer["people"]) == want
    # Their own flags stay out even when the rules flag them.
    root_client = app_client.as_principal("manager", employee_number=root.employee_no)
    mine = answered((await root_client.data(SIGNALS, {"c": str(known.cycles["Y3"])}))["attritionSignals"]["people"])
    assert root.id not in mine and set(mine) == set(expected(known)) - {root.id}


@pytest.mark.parametrize(
    ("field", "role", "grants"),
    [
        ("attritionSignals", "analyst", []),
        ("attritionSignals", "analyst", ["names"]),
        ("attritionSignals", "employee", []),
        ("attritionSignals", "payroll", []),
        ("attritionSignals", "training", []),
        ("highPerformerProfile", "employee", []),
        ("highPerformerProfile", "payroll", []),
        ("highPerformerProfile", "training", []),
    ],
)
async def test_who_may_not_read_the_insights(
    app_client: GraphQLClient, known: Known, field: str, role: str, grants: list[str]
) -> None:
    """Attrition signals: analysts with or without the names grant, employees and the systems' roles; the
    profile: employees and the systems' roles. FORBIDDEN, and nothing else."""
    number = known.people[4][1] if role == "employee" else None
    client = app_client.as_principal(role, employee_number=number, grants=grants)
    body = await client.execute(SIGNALS if field == "attritionSignals" else PROFILE, {"c": str(known.cycles["Y3"])})
    assert body["data"] == {field: None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


class Training:
    """A training system that records, per person ``i``: a course in 2021 when i % 3 < 2, and one in 2022 when
    i % 3 == 1; it counts the calls it answers."""

    system = "training"

    def __init__(self, numbers: list[str]) -> None:
        self.index = {number: i for i, number in enumerate(numbers)}
        self.calls: list[tuple[int, Period | None]] = []

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]:
        self.calls.append((len(employee_numbers), period))
        provenance = Provenance("training", dt.datetime(2026, 11, 16, tzinfo=dt.UTC))
        records: dict[str, list[TrainingRecord]] = {}
        for number in employee_numbers:
            i = self.index[number]
            days = ([dt.date(2021, 6, 1)] if i % 3 < 2 else []) + ([dt.date(2022, 6, 1)] if i % 3 == 1 else [])
            records[number] = [
                TrainingRecord(f"{number}-{day}", number, "course", day, 2.0, None, "lrs", provenance) for day in days
            ]
        return RecordBatch(records, provenance)


class Systems:
    def __init__(self, training: Training) -> None:
        self.training = training
        self.compensation = None

    def source_for(self, system: str, metric: str) -> MetricSource | None:
        return None


async def signals_with_training(
    known: Known, sessionmaker: async_sessionmaker[AsyncSession], database_url: str, today: dt.date
) -> tuple[Training, AttritionSignals]:
    """hr_admin's attritionSignals of the last known cycle on ``today``, with a training system that has trained
    the known people as ``Training`` says, and that system (to count its calls)."""
    training = Training([person[1] for person in known.people])
    context = Context(
        make_settings(database_url=database_url),
        sessionmaker,
        today,
        Principal("hr", frozenset({Role.HR_ADMIN})),
        systems=Systems(training),
    )
    return training, await attrition_signals(context, str(known.cycles["Y3"]))


async def test_training_stopped_costs_one_call_for_everyone(
    known: Known, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Everyone with a previous result is asked about in one call (since the previous cycle began); those who
    trained in 2021 and not in 2022 are flagged, with the courses counted."""
    training, answer = await signals_with_training(known, sessionmaker, database_url, TODAY)
    assert answer is not None and answer.training_checked and answer.training_error is None
    assert training.calls == [(len(known.people), Period(dt.date(2021, 1, 1), TODAY))]
    stopped = {
        signal.employee_id: flag for signal in answer.people for flag in signal.flags if flag.rule == "TRAINING_STOPPED"
    }
    assert set(stopped) == {person[0] for i, person in enumerate(known.people) if i % 3 == 0}
    figures = [(f.measure.value, f.cycle_id, f.value) for f in next(iter(stopped.values())).figures]
    assert figures == [("COURSES_COMPLETED", known.cycles["Y2"], 1.0), ("COURSES_COMPLETED", known.cycles["Y3"], 0.0)]


@pytest.mark.parametrize(
    ("today", "flagged"),
    [
        # Two months into Y3: against January and February 2021 nobody trained (the 2021 courses are in June).
        (dt.date(2022, 3, 1), set[int]()),
        # Six months in: the June 2021 course counts against January to July 2022, where i % 3 == 0 took none.
        (dt.date(2022, 7, 1), {0}),
        # Y3 is over: the whole periods.
        (dt.date(2023, 1, 1), {0}),
    ],
)
async def test_training_stopped_compares_like_with_like_while_the_cycle_runs(
    known: Known, sessionmaker: async_sessionmaker[AsyncSession], database_url: str, today: dt.date, flagged: set[int]
) -> None:
    """A cycle whose period is not over is judged on its days so far, against as many days from the start of the
    previous period: two months into a year nobody is "stopped" for lacking last year's June course."""
    _, answer = await signals_with_training(known, sessionmaker, database_url, today)
    assert answer is not None and answer.training_checked
    stopped = {
        signal.employee_id for signal in answer.people for flag in signal.flags if flag.rule == "TRAINING_STOPPED"
    }
    assert stopped == {person[0] for i, person in enumerate(known.people) if i % 3 in flagged}
