"""Collecting a cycle's extension values from business systems, with fake connectors that count calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import MetricValue
from hub.demo.indicators import EXTENSION_INDICATORS, METRICS
from hub.demo.organisation import SeedSummary
from hub.demo.values import demo_metric_value
from hub.operations.collect import EMPLOYEES_PER_CALL, CollectReport, CycleCollectMetrics, collect_metrics
from hub.operations.commands import Caller
from hub.operations.errors import WrongCycleState
from tests.conftest import SEED

FETCHED_AT = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class FakeProvenance:
    fetched_at: dt.datetime
    stale: bool = False


@dataclass(frozen=True)
class FakeBatch:
    values: Mapping[str, float]
    provenance: FakeProvenance
    rejected: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FakePeriod:
    start: dt.date
    end: dt.date


class FakeUnavailable(Exception):
    """Like a connector's error: it carries a code, and its message is fit for the report."""

    code = "SYSTEM_UNAVAILABLE"


@dataclass
class FakeSystem:
    """Answers like the demo business systems; ``down`` makes every call fail."""

    name: str
    down: bool = False
    stale: bool = False
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: FakePeriod, *, refresh: bool = False
    ) -> FakeBatch:
        self.calls.append((metric, len(employee_numbers)))
        if self.down:
            raise FakeUnavailable(f"{self.name}: unavailable (503)")
        values = {n: demo_metric_value(SEED, n, metric, period.start) for n in employee_numbers}
        return FakeBatch({n: v for n, v in values.items() if v is not None}, FakeProvenance(FETCHED_AT, self.stale))


def lookup(systems: dict[str, FakeSystem]) -> Callable[[str, str], FakeSystem | None]:
    return lambda system, _metric: systems.get(system)


async def collect_from(
    sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int, systems: dict[str, FakeSystem]
) -> CollectReport:
    """collect_metrics of the cycle from the fake ``systems``."""
    return await collect_metrics(
        sessionmaker, CycleCollectMetrics(cycle_id), Caller("test"), sources=lookup(systems), make_period=FakePeriod
    )


async def stored(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> int:
    async with sessionmaker() as session:
        counted = await session.execute(
            select(func.count()).select_from(MetricValue).where(MetricValue.cycle_id == cycle_id)
        )
    return counted.scalar_one()


@pytest.fixture
def systems() -> dict[str, FakeSystem]:
    return {name: FakeSystem(name) for name in {profile.system for profile in METRICS.values()}}


async def test_collects_every_extension_value_once_per_metric_batch(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    cycle = seeded.current_cycle_id
    assert await stored(sessionmaker, cycle) == 0
    report = await collect_from(sessionmaker, cycle, systems)
    calls = [call for system in systems.values() for call in system.calls]
    # One call per metric for the whole organisation (120 employees fit one call), never per employee.
    assert len(calls) == len({metric for metric, _ in calls})
    assert all(size <= EMPLOYEES_PER_CALL for _, size in calls)
    assert report.stored == await stored(sessionmaker, cycle) > 0
    assert report.updated == report.unchanged == 0
    # The demo systems have no record of about 2% of values: each is listed with its indicator.
    assert all(m.reason.endswith("value") for m in report.missing)
    assert report.stored + len(report.missing) == sum(size for _, size in calls)
    async with sessionmaker() as session:
        row = (await session.execute(select(MetricValue).where(MetricValue.cycle_id == cycle).limit(1))).scalar_one()
    assert row.fetched_at == FETCHED_AT and len(row.checksum) == 64 and row.system in systems and not row.stale


async def test_collecting_twice_stores_no_duplicates(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    cycle = seeded.current_cycle_id
    first = await collect_from(sessionmaker, cycle, systems)
    second = await collect_from(sessionmaker, cycle, systems)
    assert second.stored == second.updated == 0
    assert second.unchanged == first.stored == await stored(sessionmaker, cycle)


async def test_a_system_that_is_down_is_reported_per_employee_and_indicator(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    systems["security"].down = True
    report = await collect_from(sessionmaker, seeded.current_cycle_id, systems)
    security = {spec.code for spec in EXTENSION_INDICATORS if spec.source and spec.source.system == "security"}
    down = [m for m in report.missing if "unavailable" in m.reason]
    assert down and {m.indicator for m in down} == security
    assert all(m.reason == "security: unavailable (503)" for m in down)
    assert report.stored > 0  # the other systems' values are stored
    async with sessionmaker() as session:
        systems_stored = set(
            (
                await session.scalars(
                    select(MetricValue.system).where(MetricValue.cycle_id == seeded.current_cycle_id).distinct()
                )
            ).all()
        )
    assert systems_stored == {"finance", "tickets"}


async def test_stale_answers_are_flagged(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    systems["finance"].stale = True
    report = await collect_from(sessionmaker, seeded.current_cycle_id, systems)
    async with sessionmaker() as session:
        flagged = set((await session.scalars(select(MetricValue.system).where(MetricValue.stale))).all())
    assert flagged == {"finance"}
    assert report.stale > 0


async def test_only_open_cycles_collect_and_nothing_is_written_otherwise(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    before = await stored(sessionmaker, seeded.past_cycle_id)
    with pytest.raises(WrongCycleState):
        await collect_from(sessionmaker, seeded.past_cycle_id, systems)
    assert await stored(sessionmaker, seeded.past_cycle_id) == before
    assert all(not system.calls for system in systems.values())


async def test_a_stale_value_confirmed_fresh_later_is_updated_not_left_stale(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    cycle = seeded.current_cycle_id
    systems["finance"].stale = True
    first = await collect_from(sessionmaker, cycle, systems)
    systems["finance"].stale = False
    second = await collect_from(sessionmaker, cycle, systems)
    # Same values, but their provenance changed: the finance rows are rewritten as fresh.
    assert second.updated == first.stale > 0
    assert second.unchanged == first.stored - first.stale
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(MetricValue).where(MetricValue.stale)) == 0


async def test_an_unexpected_failure_is_reported_without_its_internals(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, systems: dict[str, FakeSystem]
) -> None:
    class Broken(FakeSystem):
        async def fetch_metric(
            self, metric: str, employee_numbers: Sequence[str], period: FakePeriod, *, refresh: bool = False
        ) -> FakeBatch:
            raise KeyError("internal detail /srv/secret")

    systems["tickets"] = Broken("tickets")
    report = await collect_from(sessionmaker, seeded.current_cycle_id, systems)
    broken = [m for m in report.missing if m.reason.startswith("unexpected failure")]
    assert broken and all("secret" not in m.reason for m in broken)
    assert all(m.reason == "unexpected failure (KeyError; logged)" for m in broken)
