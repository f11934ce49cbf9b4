"""Collecting from a real REST system on loopback: one employee's bad value costs that employee alone, and
``refresh`` asks the system past a fresh cache entry (in process and in Redis) and keeps what it answered.

The system is the demo finance system's REST shape over the demo catalogue's values, served by uvicorn on
a loopback port; the hub reaches it through the systems configuration and the production connectors.
Upstream calls are counted by the server itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.base import Period
from connectors.cache import Cache, MemoryCache
from connectors.config import SystemsConfig, parse_systems
from connectors.registry import Systems
from hub.config import Settings
from hub.db.models import Cycle, Employee, Indicator, IndicatorVersion, MetricValue
from hub.demo.organisation import SeedSummary
from hub.demo.systems import SYSTEMS, systems_config
from hub.demo.systems.runner import FINANCE_TOKEN_ENV
from hub.demo.values import demo_metric_value
from hub.operations.collect import CollectReport, CycleCollectMetrics, collect_metrics
from hub.operations.commands import Caller
from tests.conftest import SEED, serving
from tests.connectors.test_cache import redis_for_tests
from tests.loopback import served

TOKEN = "finance-test-token"
VOUCHERS, REIMBURSEMENTS = "voucher_error_rate", "reimbursement_cycle_days"
FINANCE_INDICATORS = {VOUCHERS: "VOUCHER_ERROR_RATE", REIMBURSEMENTS: "REIMBURSEMENT_CYCLE"}

Key = tuple[str, str]
"""(employee number, metric)."""


@dataclass
class Finance:
    """The finance system: ``GET /api/v1/metrics/{metric}?employees=E1,E2&from=..&to=..``, every row on one page.

    ``spoil[metric]`` is sent, in order, instead of the values of the first employees asked about (sorted);
    ``corrected`` replaces a value as a source corrected after the fact.
    """

    spoil: dict[str, list[object]] = field(default_factory=dict)
    corrected: dict[Key, float] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    sent: dict[Key, object] = field(default_factory=dict)
    spoiled: dict[Key, object] = field(default_factory=dict)

    def app(self) -> Starlette:
        async def metric(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"title": "unauthorised"}, status_code=401)
            name = request.path_params["metric"]
            self.requests[name] += 1
            asked = sorted(request.query_params["employees"].split(","))
            start = dt.date.fromisoformat(request.query_params["from"])
            bad = dict(zip(asked, self.spoil.get(name, []), strict=False))
            rows = []
            for employee in asked:
                value: object = self.corrected.get((employee, name), demo_metric_value(SEED, employee, name, start))
                if employee in bad:
                    value = self.spoiled[(employee, name)] = bad[employee]
                elif value is None:
                    continue  # the ~2% the demo systems have no record of
                self.sent[(employee, name)] = value
                rows.append({"employee_no": employee, "value": value})
            meta = {"page": 1, "pages": 1, "per_page": 200, "total": len(rows)}
            return JSONResponse({"data": rows, "meta": meta})

        return Starlette(routes=[Route("/api/v1/metrics/{metric}", metric)])


def finance_config(url: str) -> SystemsConfig:
    """The demo's systems file with the finance system alone, pointed at ``url``."""
    demo = systems_config(dict.fromkeys(SYSTEMS, url))
    return parse_systems(
        {"defaults": demo["defaults"], "systems": {"finance": demo["systems"]["finance"]}}, {FINANCE_TOKEN_ENV: TOKEN}
    )


@pytest.fixture
async def finance() -> AsyncIterator[tuple[Finance, SystemsConfig]]:
    system = Finance()
    async with served(system.app()) as url:
        yield system, finance_config(url)


async def collect(
    sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int, systems: Systems, *, refresh: bool = False
) -> CollectReport:
    command = CycleCollectMetrics(cycle_id, refresh=refresh)
    return await collect_metrics(sessionmaker, command, Caller("test"), sources=systems.source_for, make_period=Period)


async def finance_values(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> dict[Key, float]:
    """The finance values stored for the cycle, by (employee number, metric)."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Employee.employee_no, MetricValue.metric, MetricValue.value)
            .join(Employee, Employee.id == MetricValue.employee_id)
            .where(MetricValue.cycle_id == cycle_id, MetricValue.system == "finance")
        )
    return {(employee, metric): value for employee, metric, value in rows}


async def test_a_null_text_or_impossible_percentage_costs_that_employee_that_value_alone(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, finance: tuple[Finance, SystemsConfig]
) -> None:
    """One request per metric; the three spoiled employees are missing their voucher error rate, with what
    the system sent, and keep their reimbursement cycle; every other value the system sent is stored."""
    system, config = finance
    system.spoil[VOUCHERS] = [None, "n/a", 180]
    cycle = seeded.current_cycle_id
    async with Systems(config) as systems:
        report = await collect(sessionmaker, cycle, systems)
    assert system.requests == {VOUCHERS: 1, REIMBURSEMENTS: 1}
    null, text, percent = sorted(system.spoiled)
    missing = {(m.employee_no, m.indicator): m.reason for m in report.missing}
    finance_missing = {key: reason for key, reason in missing.items() if key[1] in FINANCE_INDICATORS.values()}
    async with sessionmaker() as session:
        found = await session.get_one(Cycle, cycle)
    period = f"{found.period_start}..{found.period_end}"
    spoiled_reasons = {
        (
            null[0],
            "VOUCHER_ERROR_RATE",
        ): f"finance answered {VOUCHERS} for {period}, but the value is null, not a number",
        (
            text[0],
            "VOUCHER_ERROR_RATE",
        ): f'finance answered {VOUCHERS} for {period}, but the value is "n/a", not a number',
        (percent[0], "VOUCHER_ERROR_RATE"): (
            f"finance answered {VOUCHERS} for {period}, but the value 180 is outside the valid range 0..100"
        ),
    }
    assert {key: finance_missing[key] for key in spoiled_reasons} == spoiled_reasons
    # Everyone else missing a finance value is one the system has no record of.
    others = {key: reason for key, reason in finance_missing.items() if key not in spoiled_reasons}
    assert all(reason.endswith("holds no value") for reason in others.values())
    stored = await finance_values(sessionmaker, cycle)
    assert stored == {key: value for key, value in system.sent.items() if key not in system.spoiled}
    # The spoiled employees' other metric was answered, and stored, like anyone's.
    kept = [(employee, REIMBURSEMENTS) for employee, _ in system.spoiled if (employee, REIMBURSEMENTS) in system.sent]
    assert kept and all(key in stored for key in kept)
    assert len(stored) > 20


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    """The connector cache two ``Systems`` share, as two hub processes share Redis."""
    if request.param == "memory":
        yield MemoryCache()
        return
    async with redis_for_tests() as redis:
        yield redis


async def test_refresh_asks_the_system_once_more_and_keeps_its_answer_for_the_next_collection(
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
    finance: tuple[Finance, SystemsConfig],
    cache: Cache,
) -> None:
    """Within the cache's lifetime a collection calls nothing and keeps a corrected value out; a refresh calls
    each metric once more, stores the correction and leaves it in the cache, where another process finds it."""
    system, config = finance
    cycle = seeded.current_cycle_id
    async with Systems(config, cache=cache) as systems:
        first = await collect(sessionmaker, cycle, systems)
        assert system.requests == {VOUCHERS: 1, REIMBURSEMENTS: 1}
        before = await finance_values(sessionmaker, cycle)
        employee = min(employee for employee, metric in before if metric == VOUCHERS)
        system.corrected[(employee, VOUCHERS)] = before[(employee, VOUCHERS)] + 1.25

        again = await collect(sessionmaker, cycle, systems)
        assert system.requests == {VOUCHERS: 1, REIMBURSEMENTS: 1}  # zero more calls
        assert (again.stored, again.updated, again.unchanged) == (0, 0, first.stored)
        assert await finance_values(sessionmaker, cycle) == before

        refreshed = await collect(sessionmaker, cycle, systems, refresh=True)
        assert system.requests == {VOUCHERS: 2, REIMBURSEMENTS: 2}  # one more call per metric
        assert (refreshed.stored, refreshed.updated) == (0, 1)
        after = await finance_values(sessionmaker, cycle)
        assert after == {**before, (employee, VOUCHERS): before[(employee, VOUCHERS)] + 1.25}

    # Another process on the same cache: the refreshed answer is the fresh entry, so no call and no change.
    async with Systems(config, cache=cache) as elsewhere:
        later = await collect(sessionmaker, cycle, elsewhere)
    assert system.requests == {VOUCHERS: 2, REIMBURSEMENTS: 2}
    assert (later.stored, later.updated) == (0, 0)
    assert await finance_values(sessionmaker, cycle) == after


COLLECT = """
mutation($c: ID!, $refresh: Boolean!) { cycleCollectMetrics(cycleId: $c, refresh: $refresh) {
  __typename ... on MetricsCollected { stored updated unchanged missing { employeeNo indicator reason } }
} }
"""


async def test_cycle_collect_metrics_takes_refresh_and_reports_the_spoiled_employee(
    settings: Settings, seeded: SeedSummary, finance: tuple[Finance, SystemsConfig]
) -> None:
    """Through the API: without ``refresh`` a second collection calls nothing, with ``refresh: true`` each
    metric once more; the employee whose value came back null is listed missing, with the reason."""
    system, config = finance
    system.spoil[REIMBURSEMENTS] = [None]
    variables = {"c": str(seeded.current_cycle_id), "refresh": False}
    async with serving(settings, config) as hub:
        first = (await hub.data(COLLECT, variables))["cycleCollectMetrics"]
        again = (await hub.data(COLLECT, variables))["cycleCollectMetrics"]
        assert system.requests == {VOUCHERS: 1, REIMBURSEMENTS: 1}
        refreshed = (await hub.data(COLLECT, {**variables, "refresh": True}))["cycleCollectMetrics"]
        assert system.requests == {VOUCHERS: 2, REIMBURSEMENTS: 2}
    assert first["__typename"] == "MetricsCollected" and first["stored"] > 0
    assert again["unchanged"] == refreshed["unchanged"] == first["stored"]
    [(spoiled, _)] = system.spoiled
    null = [m for m in first["missing"] if m["employeeNo"] == spoiled and m["indicator"] == "REIMBURSEMENT_CYCLE"]
    assert len(null) == 1 and null[0]["reason"].endswith("but the value is null, not a number")


async def test_a_value_outside_the_declared_range_is_missing_for_that_employee_alone(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, finance: tuple[Finance, SystemsConfig]
) -> None:
    """A version that declares valid_max 8 days: every reimbursement cycle above it is missing, with the range
    named; every value within is stored."""
    system, config = finance
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session, session.begin():
        code = FINANCE_INDICATORS[REIMBURSEMENTS]
        indicator = select(Indicator.id).where(Indicator.code == code).scalar_subquery()
        await session.execute(
            update(IndicatorVersion).where(IndicatorVersion.indicator_id == indicator).values(valid_max=8.0)
        )
    async with Systems(config) as systems:
        report = await collect(sessionmaker, cycle, systems)
    missing = {m.employee_no: m.reason for m in report.missing if m.indicator == FINANCE_INDICATORS[REIMBURSEMENTS]}
    sent = {employee: value for (employee, metric), value in system.sent.items() if metric == REIMBURSEMENTS}
    above = {employee for employee, value in sent.items() if isinstance(value, float | int) and value > 8}
    assert above, "the demo has reimbursement cycles above 8 days"
    assert {employee for employee in above if "outside the valid range -inf..8" in missing.get(employee, "")} == above
    stored = await finance_values(sessionmaker, cycle)
    assert {employee for employee, metric in stored if metric == REIMBURSEMENTS} == set(sent) - above
