"""End to end over real loopback HTTP: the hub against the five demo business systems.

The demo systems run in the test's event loop on ports of their own; the hub reaches them through the
systems configuration they describe, with the same connectors as in production. Upstream calls are
counted by the systems' own request counters; nothing here times anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from connectors.config import parse_systems
from hub.config import Settings
from hub.db.models import AuditEntry
from hub.demo.catalogue import demo_metric_value
from hub.demo.organisation import SeedSummary
from hub.demo.systems import DemoSystems, serve_demo_systems
from hub.demo.systems.runner import SystemsFile
from tests.conftest import EMPLOYEES, SEED, GraphQLClient, serving
from tests.stored import collected_values

LINKED = """
query($first: Int) {
  employees(first: $first) {
    edges { node {
      employeeNo name
      trainingRecords { id course completedOn hours score source provenance { system stale retried } }
      compensationRecords { id effectiveDate baseSalary bonus currency reason provenance { system stale retried } }
    } }
  }
}
"""


@pytest.fixture
async def demo() -> AsyncIterator[DemoSystems]:
    async with serve_demo_systems(SEED, EMPLOYEES) as systems:
        yield systems


def fast(config: SystemsFile) -> SystemsFile:
    """The demo's configuration with test-sized waits: short backoff (Retry-After is still honoured up to
    2 s), and a cache fresh for a moment only."""
    defaults = {**config["defaults"], "backoff": 0.01, "max_backoff": 2.0, "cache_ttl": 0.2}
    return {**config, "defaults": defaults}


@pytest.fixture
async def hub(demo: DemoSystems, settings: Settings) -> AsyncIterator[GraphQLClient]:
    async with serving(settings, parse_systems(fast(demo.config()), demo.secrets)) as client:
        yield client


def requests(demo: DemoSystems) -> dict[str, int]:
    return {system: faults.requests for system, faults in demo.faults.items()}


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {system: after[system] - before[system] for system in after}


async def test_a_page_costs_one_sequence_per_system_never_one_call_per_employee(
    hub: GraphQLClient, demo: DemoSystems
) -> None:
    before = requests(demo)
    small = await hub.data(LINKED, {"first": 10})
    for_ten = spent(before, requests(demo))
    await asyncio.sleep(0.25)  # let the cached answers go stale, so that the next page calls again
    before = requests(demo)
    hub.sql.reset()
    page = await hub.data(LINKED, {"first": 50})
    for_fifty = spent(before, requests(demo))
    # The LRS cannot filter by many agents: one paginated sequence over the statements, whatever the page.
    assert for_fifty["training"] == for_ten["training"] >= 1
    # Payroll: the page's 50 ids fit one $filter (the demo's ids_per_request is 100) and one page.
    assert for_fifty["payroll"] == for_ten["payroll"] == 1
    # Nothing else was asked, and the database cost does not grow with the page either.
    assert for_fifty["finance"] == for_fifty["security"] == for_fifty["tickets"] == 0
    nodes = [edge["node"] for edge in page["employees"]["edges"]]
    assert len(nodes) == 50
    assert sum(len(node["trainingRecords"]) for node in nodes) > 0
    assert all(node["compensationRecords"] for node in nodes)
    assert all(r["currency"] == "CNY" for node in nodes for r in node["compensationRecords"])
    provenance = nodes[0]["compensationRecords"][0]["provenance"]
    assert provenance == {"system": "payroll", "stale": False, "retried": False}
    assert len(small["employees"]["edges"]) == 10


async def test_a_system_that_is_down_nulls_its_field_and_nothing_else(hub: GraphQLClient, demo: DemoSystems) -> None:
    demo.faults["payroll"].down = True
    body = await hub.execute(LINKED, {"first": 5})
    nodes = [edge["node"] for edge in body["data"]["employees"]["edges"]]
    assert len(nodes) == 5
    assert all(node["compensationRecords"] is None for node in nodes)
    assert all(node["name"] and node["trainingRecords"] is not None for node in nodes)
    errors = body["errors"]
    assert len(errors) == 5
    assert {tuple(error["path"][-1:]) for error in errors} == {("compensationRecords",)}
    extensions = errors[0]["extensions"]
    assert extensions["code"] == "SYSTEM_UNAVAILABLE"
    assert extensions["system"] == "payroll"
    assert extensions["retried"] is True


async def test_a_stale_answer_is_served_and_flagged_while_the_system_is_down(
    hub: GraphQLClient, demo: DemoSystems
) -> None:
    fresh = await hub.data(LINKED, {"first": 3})
    await asyncio.sleep(0.25)  # past the cache's freshness, well within its stale window
    demo.faults["training"].down = True
    stale = await hub.data(LINKED, {"first": 3})
    for old, new in zip(fresh["employees"]["edges"], stale["employees"]["edges"], strict=True):
        records = new["node"]["trainingRecords"]
        assert [r["id"] for r in records] == [r["id"] for r in old["node"]["trainingRecords"]]
        assert all(r["provenance"]["stale"] is True for r in records)


async def test_retry_after_is_honoured_and_reported(hub: GraphQLClient, demo: DemoSystems) -> None:
    # The system answers 429 with Retry-After: 1 once; the connector waits as asked and tries again.
    demo.faults["payroll"].rate_limit_next = 1
    before = requests(demo)
    page = await hub.data(LINKED, {"first": 2})
    records = [r for edge in page["employees"]["edges"] for r in edge["node"]["compensationRecords"]]
    assert records and spent(before, requests(demo))["payroll"] == 2
    assert all(r["provenance"]["retried"] is True for r in records)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("payroll", True), ("analyst", False), ("manager", False), ("employee", False), ("training", False)],
)
async def test_compensation_answers_to_hr_and_payroll_only(
    role: str, allowed: bool, hub: GraphQLClient, demo: DemoSystems, sessionmaker: Any
) -> None:
    client = hub.as_principal(role, employee_number="E000001" if role in ("manager", "employee") else None)
    before = requests(demo)
    body = await client.execute("{ employees(first: 5) { edges { node { id compensationRecords { id } } } } }")
    calls = spent(before, requests(demo))["payroll"]
    async with sessionmaker() as session:
        audited = (await session.scalars(select(AuditEntry.operation))).all()
    if allowed:
        assert "errors" not in body
        assert calls >= 1
        # One audit entry per batch of employees read, naming each of them.
        assert audited == ["Employee.compensationRecords"]
    else:
        assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
        assert calls == 0  # denied before any upstream call
        assert audited == ["Employee.compensationRecords"]  # the refused attempt, one entry for the page


async def test_collect_metrics_over_http_is_idempotent_and_lists_what_failed(
    hub: GraphQLClient, demo: DemoSystems, seeded: SeedSummary, sessionmaker: Any
) -> None:
    mutation = """
    mutation($c: ID!) { cycleCollectMetrics(cycleId: $c) {
      __typename
      ... on MetricsCollected { stored updated unchanged stale missing { employeeNo indicator reason } }
    } }
    """
    cycle = str(seeded.current_cycle_id)
    first = (await hub.data(mutation, {"c": cycle}))["cycleCollectMetrics"]
    assert first["__typename"] == "MetricsCollected"
    assert first["stored"] > 0 and first["updated"] == 0
    assert all(m["reason"].endswith("value") for m in first["missing"])  # the ~2% the systems have no record of
    async with sessionmaker() as session:
        rows = (await session.execute(collected_values(seeded.current_cycle_id))).all()
    assert len(rows) == first["stored"]
    # The values stored are the systems' own: the demo catalogue's deterministic values.
    for row in rows:
        assert row.value == demo_metric_value(SEED, row.employee_no, row.metric, row.period_start)

    again = (await hub.data(mutation, {"c": cycle}))["cycleCollectMetrics"]
    assert again["stored"] == again["updated"] == 0
    assert again["unchanged"] == first["stored"]

    await asyncio.sleep(0.25)  # let the cache go stale, then the security system fails
    demo.faults["security"].down = True
    third = (await hub.data(mutation, {"c": cycle}))["cycleCollectMetrics"]
    # Served stale from the cache: flagged, and nothing lost.
    assert third["stale"] > 0
    assert third["stored"] == 0
