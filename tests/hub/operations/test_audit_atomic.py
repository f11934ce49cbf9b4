"""The audit is in the same transaction as the change it records: both commit or neither does.

Through the schema, as the API runs a mutation: a failure injected right after the audit row is
written rolls back the change with it (and the failed call is audited as ``error`` on its own); on
PostgreSQL, a publish whose audit write is stuck behind a lock and whose connection is then killed
publishes nothing: before, the change committed first and its entry could be lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from graphql import GraphQLFormattedError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import Principal, Role
from hub.config import Settings
from hub.db.models import AuditEntry, Cycle, ResultEvent
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState
from hub.operations.audit import AuditRecorder
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, close_calibration
from hub.operations.scoring import CycleScore, score_cycle
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY
from tests.hub.operations.concurrency import DEADLINE, until_blocked
from tests.hub.operations.conftest import Sessions

PUBLISH = "mutation($id: ID!) { cyclePublish(cycleId: $id) { __typename ... on MutationError { code } } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def run_as_hr(
    schema: strawberry.Schema, settings: Settings, sessionmaker: Sessions, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[GraphQLFormattedError]]:
    context = Context(
        settings=settings,
        sessionmaker=sessionmaker,
        today=TODAY,
        principal=Principal("hr", frozenset({Role.HR_ADMIN})),
        request_id="atomic",
    )
    result = await schema.execute(query, variable_values=variables, context_value=context)
    return result.data, [error.formatted for error in result.errors or []]


@pytest.fixture
async def calibrated(sessionmaker: Sessions, seeded: SeedSummary) -> int:
    """The current cycle, scored and closed: the next step is publishing it."""
    cycle_id = seeded.current_cycle_id
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller("test"))
    await close_calibration(sessionmaker, CycleCloseCalibration(cycle_id), Caller("test"))
    return cycle_id


async def _after(sessionmaker: Sessions, cycle_id: int) -> tuple[CycleState | None, int, list[tuple[str, str]]]:
    """The cycle's state, its published events and the audit entries, as committed."""
    async with sessionmaker() as session:
        state = await session.scalar(select(Cycle.state).where(Cycle.id == cycle_id))
        events = await session.scalar(
            select(func.count()).select_from(ResultEvent).where(ResultEvent.cycle_id == cycle_id)
        )
        entries = (await session.execute(select(AuditEntry.operation, AuditEntry.outcome))).all()
    return state, int(events or 0), [(entry.operation, entry.outcome) for entry in entries]


async def test_a_failure_after_the_audit_write_rolls_back_the_change_and_the_entry(
    schema: strawberry.Schema,
    settings: Settings,
    sessionmaker: Sessions,
    calibrated: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = AuditRecorder.record

    async def record_then_crash(self: AuditRecorder, session: Any, *ids: str) -> None:
        await record(self, session, *ids)
        raise RuntimeError("the process dies between the audit write and the commit")

    monkeypatch.setattr(AuditRecorder, "record", record_then_crash)
    data, errors = await run_as_hr(schema, settings, sessionmaker, PUBLISH, id=str(calibrated))
    assert data == {"cyclePublish": None} and errors and "Unexpected error" in errors[0]["message"]
    assert await _after(sessionmaker, calibrated) == (CycleState.CALIBRATED, 0, [("cyclePublish", "error")])


async def test_the_entry_of_a_change_commits_with_it_and_only_once(
    schema: strawberry.Schema, settings: Settings, sessionmaker: Sessions, calibrated: int
) -> None:
    data, errors = await run_as_hr(schema, settings, sessionmaker, PUBLISH, id=str(calibrated))
    assert not errors and data == {"cyclePublish": {"__typename": "CycleChanged"}}
    state, events, entries = await _after(sessionmaker, calibrated)
    assert state is CycleState.PUBLISHED and events > 0
    assert entries == [("cyclePublish", "ok")]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_publish_killed_while_its_audit_write_waits_publishes_nothing(
    schema: strawberry.Schema,
    settings: Settings,
    sessionmaker: Sessions,
    other_engine: AsyncEngine,
    calibrated: int,
) -> None:
    async with other_engine.connect() as holder:
        # Another session holds the audit table, as a long report or a backup might.
        await holder.execute(text("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE"))
        publishing = asyncio.create_task(run_as_hr(schema, settings, sessionmaker, PUBLISH, id=str(calibrated)))
        stuck = await until_blocked(other_engine, "INSERT INTO audit_entries")
        # The hub process dies: its connection goes, mid-transaction.
        await holder.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": stuck})
        await holder.commit()
    data, errors = await asyncio.wait_for(publishing, DEADLINE)
    assert data == {"cyclePublish": None} and errors
    state, events, entries = await _after(sessionmaker, calibrated)
    assert (state, events) == (CycleState.CALIBRATED, 0)
    assert entries == [("cyclePublish", "error")]
