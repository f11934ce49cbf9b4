"""The demo stays coherent at any size: its business systems know every employee the database holds.

The organisation here has 300 employees while the settings say 120 (as after ``perfhub seed
--employees 300`` on a hub configured with the default), on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Period
from connectors.config import parse_systems
from connectors.registry import Systems
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import Cycle, Employee, MetricValue
from hub.demo.indicators import EXTENSION_INDICATORS
from hub.demo.organisation import MIN_EMPLOYEES, SeedSummary, seed_demo
from hub.demo.systems import serve_demo_systems, training
from hub.demo.systems.roster import DatabaseRoster, Roster, RosterUnavailable, database_roster
from hub.demo.values import demo_metric_value
from hub.operations.collect import CollectReport, CycleCollectMetrics, collect_metrics
from hub.operations.commands import Caller
from hub.systems import business_systems, open_systems
from tests.conftest import SEED, TEST_SECRET, TODAY, blank_database

EMPLOYEES = 300
SETTING = 120  # what PERFHUB_DEMO_EMPLOYEES says: fewer than the database holds
METRIC_OF = {spec.code: spec.source.metric for spec in EXTENSION_INDICATORS if spec.source is not None}
SYSTEM_OF = {spec.code: spec.source.system for spec in EXTENSION_INDICATORS if spec.source is not None}


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated, empty database."""
    async with blank_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        yield url


@pytest.fixture
async def sessionmaker(empty_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(empty_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def larger(sessionmaker: async_sessionmaker[AsyncSession]) -> SeedSummary:
    """The demo organisation seeded with more employees than the setting says."""
    return await seed_demo(sessionmaker, seed=SEED, employees=EMPLOYEES, today=TODAY)


def demo_settings(url: str) -> Settings:
    """Demo mode without a systems file, as ``perfhub serve`` runs it by default."""
    return Settings(
        database_url=url,
        demo=True,
        demo_systems=True,
        demo_seed=SEED,
        demo_employees=SETTING,
        systems_file=None,
        jwt_secret=SecretStr(TEST_SECRET),
    )


async def period_of(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> tuple[dt.date, dt.date]:
    async with sessionmaker() as session:
        cycle = await session.get_one(Cycle, cycle_id)
    return cycle.period_start, cycle.period_end


async def collect_current_cycle(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: Systems
) -> CollectReport:
    """The seed's current cycle collected through ``systems``, as the ``collectMetrics`` mutation collects it."""
    return await collect_metrics(
        sessionmaker,
        CycleCollectMetrics(seeded.current_cycle_id),
        Caller("test"),
        sources=systems.source_for,
        make_period=Period,
    )


def number(employee_no: str) -> int:
    return int(employee_no[1:])


def demo_gap(employee_no: str, indicator: str, start: dt.date) -> bool:
    """Whether the demo's systems have no record of this value (about 2% of them, on purpose)."""
    return demo_metric_value(SEED, employee_no, METRIC_OF[indicator], start) is None


async def test_collect_finds_every_employee_of_a_larger_seed(
    empty_url: str, sessionmaker: async_sessionmaker[AsyncSession], larger: SeedSummary
) -> None:
    """Started as ``perfhub serve`` starts them, the systems answer for all 300: only the demo's gaps are missing."""
    settings = demo_settings(empty_url)
    async with business_systems(settings) as (config, demo), open_systems(settings, config) as systems:
        assert demo is not None and systems is not None
        report = await collect_current_cycle(sessionmaker, larger, systems)
    start, _ = await period_of(sessionmaker, larger.current_cycle_id)
    assert report.stored > 0 and report.missing
    assert all(demo_gap(m.employee_no, m.indicator, start) for m in report.missing)
    beyond = [m for m in report.missing if number(m.employee_no) > SETTING]
    assert len(beyond) <= 0.05 * report.stored  # the 2% gaps, not the 180 employees the setting leaves out
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(Employee.employee_no, MetricValue.metric, MetricValue.value)
                .join(Employee, Employee.id == MetricValue.employee_id)
                .where(MetricValue.cycle_id == larger.current_cycle_id, Employee.employee_no > f"E{SETTING:06d}")
            )
        ).all()
    answered = {number(row.employee_no) for row in rows} | {number(m.employee_no) for m in beyond}
    assert answered == set(range(SETTING + 1, EMPLOYEES + 1))
    assert len({row.employee_no for row in rows}) > 0.9 * (EMPLOYEES - SETTING)
    assert all(row.value == demo_metric_value(SEED, row.employee_no, row.metric, start) for row in rows)


async def test_training_and_payroll_answer_for_employees_beyond_the_setting(
    empty_url: str, larger: SeedSummary
) -> None:
    """The LRS and the payroll service, reached through the hub's connectors, know E000250 and E000300."""
    settings = demo_settings(empty_url)
    wanted = ["E000250", "E000300"]
    async with business_systems(settings) as (config, _demo), open_systems(settings, config) as systems:
        assert systems is not None and systems.training is not None and systems.compensation is not None
        one = await systems.training.fetch_training(wanted[:1])  # by agent
        both = await systems.training.fetch_training(wanted)  # everyone's stream, filtered by the connector
        pay = await systems.compensation.fetch_compensation(wanted)
    today = dt.date.today()  # the demo LRS dates its statements back from the day it starts
    for employee_no in wanted:
        held = training.statements_for(SEED, employee_no, today)
        completed = {s["id"] for s in held if s["verb"]["id"] == training.COMPLETED}
        assert {r.id for r in both.records.get(employee_no, [])} == completed
        assert pay.records.get(employee_no), f"no compensation records for {employee_no}"
    assert {r.id for r in one.records.get(wanted[0], [])} == {r.id for r in both.records.get(wanted[0], [])}


def unknown_reason(system: str, metric: str, start: dt.date, end: dt.date) -> str:
    return f"{system} answered without {metric} for {start}..{end}: it does not know the employee or holds no value"


async def test_an_employee_a_system_does_not_know_is_reported_as_such(
    empty_url: str, sessionmaker: async_sessionmaker[AsyncSession], larger: SeedSummary
) -> None:
    """Systems that know only E000001..E000120 leave the others out; the reason says the system may not know them."""
    settings = demo_settings(empty_url)
    async with serve_demo_systems(SEED, SETTING) as demo:  # the old behaviour: a roster of the setting's size
        config = parse_systems(demo.config(), demo.secrets)
        async with open_systems(settings, config) as systems:
            assert systems is not None
            report = await collect_current_cycle(sessionmaker, larger, systems)
    start, end = await period_of(sessionmaker, larger.current_cycle_id)
    unknown = [m for m in report.missing if number(m.employee_no) > SETTING]
    assert {number(m.employee_no) for m in unknown} == set(range(SETTING + 1, EMPLOYEES + 1))
    for missing in unknown:
        system, metric = SYSTEM_OF[missing.indicator], METRIC_OF[missing.indicator]
        assert missing.reason == unknown_reason(system, metric, start, end)
    known = [m for m in report.missing if number(m.employee_no) <= SETTING]
    assert all(demo_gap(m.employee_no, m.indicator, start) for m in known)


async def test_the_database_roster_is_read_when_first_needed(
    empty_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Systems started before the seed know nobody, then, once seeded, everybody; an empty roster is not kept."""
    async with database_roster(empty_url) as roster:
        assert len(await roster()) == 0
        await seed_demo(sessionmaker, seed=SEED, employees=MIN_EMPLOYEES, today=TODAY)
        seeded = await roster()
        assert seeded.numbers == Roster.numbered(MIN_EMPLOYEES).numbers
        assert seeded.knows(f"E{MIN_EMPLOYEES:06d}") and not seeded.knows(f"E{MIN_EMPLOYEES + 1:06d}")
        assert await roster() is seeded  # read once, then kept
        async with sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Employee)) == MIN_EMPLOYEES


async def test_an_unreadable_roster_is_a_503_not_an_empty_answer(tmp_path: Path) -> None:
    """A database without the employees table makes the systems answer 503, which connectors retry."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/not-migrated.db")
    try:
        roster = DatabaseRoster(create_sessionmaker(engine))
        with pytest.raises(RosterUnavailable):
            await roster()
        async with (
            serve_demo_systems(SEED, roster) as demo,
            httpx.AsyncClient(trust_env=False, timeout=10) as http,
        ):
            response = await http.get(
                f"{demo.urls['finance']}/api/v1/metrics/voucher_error_rate",
                params={"employees": "E000001", "from": "2026-07-01", "to": "2026-09-30"},
                headers={"Authorization": f"Bearer {demo.secrets['PERFHUB_FINANCE_TOKEN']}"},
            )
        assert response.status_code == 503 and "employees" in response.json()["error"]
    finally:
        await engine.dispose()
