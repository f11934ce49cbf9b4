"""Fixtures of the operation tests that race: a second hub process's engine, and a cycle everyone is scored in."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.engine import create_sessionmaker
from hub.db.models import (
    AppraisalResult,
    Employee,
    Indicator,
    IndicatorScore,
    IndicatorVersion,
    MetricValue,
    RaterAssignment,
)
from hub.demo.organisation import SeedSummary
from hub.domain import MANUAL_SOURCE, RaterRole
from hub.operations.commands import Caller
from hub.operations.cycles import CycleReopen, reopen_cycle
from hub.operations.metrics import MetricValuesImport, MetricValuesImported, import_metric_values
from hub.operations.ratings import RaterAssignInput, assign_rater
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import opened_engine
from tests.hub.operations.concurrency import Race
from tests.hub.operations.test_collect import FakeSystem, collect_from

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def other_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own on the test's database, as a second hub process would have."""
    async with opened_engine(database_url) as engine:
        yield engine


@pytest.fixture
def other_sessionmaker(other_engine: AsyncEngine) -> Sessions:
    return create_sessionmaker(other_engine)


@pytest.fixture
def race(other_sessionmaker: Sessions, other_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Race:
    return Race(other_sessionmaker, other_engine, monkeypatch)


@dataclass(frozen=True)
class Measured:
    """A measured value that counts in someone's result: who, which indicator version, its value."""

    employee_id: int
    employee_no: str
    indicator_version_id: int
    code: str
    value: float


@dataclass(frozen=True)
class Rated:
    """A people-rated indicator of a scored ratee, and a PEER rater who has not rated it yet."""

    ratee_id: int
    rater_id: int
    indicator_version_id: int


@dataclass(frozen=True)
class ScorableCycle:
    cycle_id: int
    measured: Measured
    rated: Rated


async def _picks(session: AsyncSession, cycle_id: int) -> tuple[Measured, int, int]:
    """From a scored cycle: a measured value that counts in a result, and a rated (ratee, version) that does."""
    counted = (
        select(AppraisalResult.employee_id, IndicatorScore.indicator_version_id)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(AppraisalResult.cycle_id == cycle_id)
        .order_by(AppraisalResult.employee_id, IndicatorScore.indicator_version_id)
        .limit(1)
    )
    measured = (
        await session.execute(
            counted.add_columns(Employee.employee_no, Indicator.code, MetricValue.value)
            .join(Employee, Employee.id == AppraisalResult.employee_id)
            .join(
                MetricValue,
                (MetricValue.cycle_id == cycle_id)
                & (MetricValue.employee_id == Employee.id)
                & (MetricValue.indicator_version_id == IndicatorScore.indicator_version_id),
            )
            .where(IndicatorScore.provenance_system.is_not(None))
        )
    ).one()
    rated = (await session.execute(counted.where(IndicatorVersion.source_system == MANUAL_SOURCE))).one()
    return (
        Measured(
            measured.employee_id, measured.employee_no, measured.indicator_version_id, measured.code, measured.value
        ),
        rated.employee_id,
        rated.indicator_version_id,
    )


@pytest.fixture
async def scorable(sessionmaker: Sessions, seeded: SeedSummary) -> ScorableCycle:
    """The current cycle with its measured values collected, scored once to find inputs that count, and
    reopened: OPEN again, and everything picked here counts when it is scored next."""
    cycle_id = seeded.current_cycle_id
    systems = {name: FakeSystem(name) for name in ("finance", "security", "tickets")}
    await collect_from(sessionmaker, cycle_id, systems)
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller("test"))
    async with sessionmaker() as session:
        measured, ratee_id, version_id = await _picks(session, cycle_id)
        raters = select(RaterAssignment.rater_id).where(
            RaterAssignment.cycle_id == cycle_id, RaterAssignment.ratee_id == ratee_id
        )
        stranger = await session.scalar(
            select(Employee.id).where(Employee.id.not_in(raters), Employee.id != ratee_id).order_by(Employee.id)
        )
    assert stranger is not None
    await reopen_cycle(sessionmaker, CycleReopen(cycle_id, reason="the race test scores again"), Caller("test"))
    await assign_rater(
        sessionmaker,
        RaterAssignInput(cycle_id=cycle_id, ratee_id=ratee_id, rater_id=stranger, role=RaterRole.PEER),
        Caller("test"),
    )
    return ScorableCycle(cycle_id, measured, Rated(ratee_id, stranger, version_id))


IMPORTED_AT = dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC)


async def import_csv(sessions: Sessions, cycle_id: int, csv: str) -> MetricValuesImported:
    """A metric import of ``csv`` into the cycle, as a test's caller, at the tests' "now"."""
    return await import_metric_values(
        sessions, MetricValuesImport(cycle_id=cycle_id, csv=csv), Caller("test", now=IMPORTED_AT)
    )
