"""Scoring and metric imports started from the API run in the hub's worker process (``hub.worker``).

What a caller sees must not change: the same payloads and typed failures, one audit entry in the
change's own transaction, DATABASE_UNAVAILABLE for an outage. What the worker adds is tested here too: it
is another process (the hub's own engine writes none of the results), and a worker that dies mid-job
commits nothing and is replaced. ``bench.event_loop`` measures what it buys: the hub's latency while a
cycle of 10,000 employees is scored.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.config import parse_systems
from hub.db.models import AppraisalResult, AuditEntry, Cycle, Employee
from hub.demo.catalogue import demo_metric_value
from hub.demo.organisation import SeedSummary
from hub.demo.systems import serve_demo_systems
from hub.domain import CycleState
from hub.operations.cycles import locked_cycle
from hub.worker import Worker
from schema.masking import DATABASE_UNAVAILABLE
from tests.conftest import EMPLOYEES, SEED, GraphQLClient, make_settings, serving
from tests.schema.test_federation import fast
from tests.stored import collected_values

Sessions = async_sessionmaker[AsyncSession]

SCORE = """mutation($id: ID!) { cycleScore(cycleId: $id) { __typename
  ... on CycleScored { scored cycle { id state } coverage { results } } ... on MutationError { code message } } }"""
IMPORT = """mutation($id: ID!, $csv: String!) { metricValuesImport(cycleId: $id, csv: $csv) { __typename
  ... on MetricValuesImported { imported replaced } ... on MutationError { code message } } }"""


@pytest.fixture
async def worker_client(database_url: str) -> AsyncIterator[GraphQLClient]:
    async with serving(make_settings(database_url=database_url, worker_process=True)) as client:
        yield client


def resources_of(client: GraphQLClient) -> Any:
    transport: Any = client.http._transport
    return transport.app.state.resources


def worker_of(client: GraphQLClient) -> Worker:
    worker: Worker | None = resources_of(client).worker
    assert worker is not None, "the app under test runs its long work in process"
    return worker


async def audit_outcomes(sessionmaker: Sessions, operation: str) -> list[str]:
    async with sessionmaker() as session:
        found = await session.scalars(select(AuditEntry.outcome).where(AuditEntry.operation == operation))
        return list(found)


async def results_of(sessionmaker: Sessions, cycle_id: int) -> int:
    async with sessionmaker() as session:
        counted = await session.scalar(
            select(func.count()).select_from(AppraisalResult).where(AppraisalResult.cycle_id == cycle_id)
        )
        return int(counted or 0)


async def state_of(sessionmaker: Sessions, cycle_id: int) -> CycleState:
    async with sessionmaker() as session:
        return (await session.execute(select(Cycle.state).where(Cycle.id == cycle_id))).scalar_one()


async def test_scoring_from_the_api_runs_in_another_process_with_its_audit_entry(
    worker_client: GraphQLClient, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    worker_client.sql.reset()
    answer = (await worker_client.data(SCORE, {"id": str(cycle)}))["cycleScore"]

    assert answer["__typename"] == "CycleScored", answer
    assert answer["cycle"]["state"] == "SCORED"
    stored = await results_of(sessionmaker, cycle)
    assert answer["scored"] == stored > 0
    # The report crosses back whole: its coverage per post counts every result scored.
    assert sum(post["results"] for post in answer["coverage"]) == stored
    # The hub's own engine wrote no result and no audit entry: the worker did, in its transaction.
    written_here = [s for s in worker_client.sql.statements if s.lstrip().upper().startswith("INSERT")]
    assert written_here == []
    assert await audit_outcomes(sessionmaker, "cycleScore") == ["ok"]
    assert await worker_of(worker_client).pid() != os.getpid()


async def test_the_workers_failures_are_the_same_typed_answers(
    worker_client: GraphQLClient, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    published = (await worker_client.data(SCORE, {"id": str(seeded.past_cycle_id)}))["cycleScore"]
    assert (published["__typename"], published["code"]) == ("StateError", "ILLEGAL_TRANSITION"), published
    assert "PUBLISHED" in published["message"]

    async with sessionmaker() as session:
        number = await session.scalar(select(Employee.employee_no).limit(1))
    csv = f"employee_no,indicator,value\n{number},NO_SUCH_INDICATOR,1\nE-NOBODY,NO_SUCH_INDICATOR,2\n"
    rejected = await worker_client.data(IMPORT, {"id": str(seeded.current_cycle_id), "csv": csv})
    failure = rejected["metricValuesImport"]
    assert failure["__typename"] == "ImportRejectedError", failure
    assert failure["code"] == "IMPORT_REJECTED"
    assert "line 2" in failure["message"] and "(and 1 more)" in failure["message"]

    # One entry per call, written by the hub because the worker committed nothing.
    assert await audit_outcomes(sessionmaker, "cycleScore") == ["ILLEGAL_TRANSITION"]
    assert await audit_outcomes(sessionmaker, "metricValuesImport") == ["IMPORT_REJECTED"]


async def test_a_worker_killed_mid_job_commits_nothing_and_the_next_job_gets_a_new_one(
    worker_client: GraphQLClient, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    worker = worker_of(worker_client)
    first_pid = await worker.pid()
    async with sessionmaker() as session, session.begin():
        await locked_cycle(session, cycle)  # the worker's scoring waits for this lock...
        scoring = asyncio.create_task(worker_client.execute(SCORE, {"id": str(cycle)}))
        await asyncio.sleep(1.0)
        os.kill(first_pid, signal.SIGKILL)  # ...and dies holding its own transaction open
    # The lock is let go before the answer is awaited: the hub writes the failure's audit entry (on
    # SQLite, that write waits for the database lock this test held).
    answer = await asyncio.wait_for(scoring, timeout=30)
    assert answer["data"] is None or answer["data"]["cycleScore"] is None
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR", answer

    assert await state_of(sessionmaker, cycle) is CycleState.OPEN
    assert await results_of(sessionmaker, cycle) == 0
    assert await audit_outcomes(sessionmaker, "cycleScore") == ["error"]

    again = (await worker_client.data(SCORE, {"id": str(cycle)}))["cycleScore"]
    assert again["__typename"] == "CycleScored", again
    assert await worker.pid() != first_pid


async def test_an_outage_met_by_the_worker_is_database_unavailable(database_url: str, seeded: SeedSummary) -> None:
    settings = make_settings(database_url=database_url, worker_process=True, database_statement_timeout_seconds=0.5)
    async with serving(settings) as client:
        sessionmaker: Sessions = resources_of(client).sessionmaker
        async with sessionmaker() as session, session.begin():
            # Held longer than the worker's statement timeout (its lock wait, on SQLite).
            await locked_cycle(session, seeded.current_cycle_id)
            answer = await client.execute(SCORE, {"id": str(seeded.current_cycle_id)})
        assert answer["errors"][0]["extensions"]["code"] == DATABASE_UNAVAILABLE, answer
        assert await state_of(sessionmaker, seeded.current_cycle_id) is CycleState.OPEN


COLLECT = """mutation($id: ID!) { cycleCollectMetrics(cycleId: $id) { __typename
  ... on MetricsCollected { stored updated unchanged stale } ... on MutationError { code message } } }"""


async def test_collect_runs_in_the_worker_through_connectors_of_its_own(
    database_url: str, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    settings = make_settings(database_url=database_url, worker_process=True)
    async with (
        serve_demo_systems(SEED, EMPLOYEES) as demo,
        serving(settings, parse_systems(fast(demo.config()), demo.secrets)) as client,
    ):
        cycle = seeded.current_cycle_id
        client.sql.reset()
        first = (await client.data(COLLECT, {"id": str(cycle)}))["cycleCollectMetrics"]
        assert first["__typename"] == "MetricsCollected", first
        assert first["stored"] > 0 and first["updated"] == 0
        # The hub's engine wrote nothing: the worker fetched and stored the values, with the audit entry.
        assert [s for s in client.sql.statements if not s.lstrip().upper().startswith("SELECT")] == []
        async with sessionmaker() as session:
            rows = (await session.execute(collected_values(cycle))).all()
        assert len(rows) == first["stored"]
        for row in rows:  # the systems' own values, as the demo catalogue makes them
            assert row.value == demo_metric_value(SEED, row.employee_no, row.metric, row.period_start)

        again = (await client.data(COLLECT, {"id": str(cycle)}))["cycleCollectMetrics"]
        assert (again["stored"], again["updated"], again["unchanged"]) == (0, 0, first["stored"])
    assert await audit_outcomes(sessionmaker, "cycleCollectMetrics") == ["ok", "ok"]
