"""What the race and fault tests share: served hubs that a test starts, kills and restarts on one database,
GraphQL over HTTP with a request id of the test's choosing (to find the call's audit entry), a
read-only look at the database to check what committed, and a subscriber that resumes from its cursor.

Every hub is the installed `perfhub serve` (``tests.served.hub_process.ServedHub``) on loopback, each with a
folder of its own for its log. A kill is SIGKILL to the hub's process group: no shutdown, no cleanup, as
when the machine or the container dies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
)
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from websockets.exceptions import ConnectionClosed

from hub.db.models import AppraisalResult, AuditEntry, Cycle, CycleTransition, IndicatorScore, ResultEvent
from hub.domain import CycleState
from tests.conftest import POSTGRES_URL
from tests.served.hub_process import ServedHub
from tests.served.sockets import RESULT_STREAM, nothing_more, socket_client

A = TypeVar("A")
B = TypeVar("B")

ENV = {"PERFHUB_RATE_LIMIT_PER_SECOND": "0", "PERFHUB_EVENT_POLL_SECONDS": "0.2"}
"""Rate limit off (the tests fire faster than people); live events looked for five times a second."""
WITHIN = 60.0
"""The longest any one request, wait or stream of a test may take before it fails (never hangs)."""

needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="races run on PostgreSQL only: PERFHUB_TEST_DATABASE_URL is not set"),
]

TRANSITION = "mutation($id: ID!) { %s(cycleId: $id) { __typename ... on MutationError { code message } } }"
REOPEN = """
mutation($id: ID!, $reason: String!) {
  cycleReopen(cycleId: $id, reason: $reason) { __typename ... on MutationError { code message } }
}
"""
# The races score cycles opened without any input (the indicators that count a missing value as zero still
# give results): HR allows that with a reason, as scoring refuses results without any rating otherwise.
SCORE = """
mutation($id: ID!) {
  cycleScore(cycleId: $id, allowIncomplete: true, reason: "the race tests score cycles without inputs") {
    __typename
    ... on CycleScored { scored blocked { employee { id } } }
    ... on MutationError { code message }
  }
}
"""
CREATE = """
mutation($name: String!) {
  cycleCreate(input: {name: $name, periodStart: "2026-10-01", periodEnd: "2026-12-31"}) {
    __typename ... on CycleChanged { cycle { id } } ... on MutationError { code message }
  }
}
"""
EVENTS_PAGE = "query($after: String) { resultEvents(after: $after, first: 500) { cursor eventId } }"


def request_id() -> str:
    """A request id of the test's own: the hub echoes it and writes it into the call's audit entry."""
    return f"race-{uuid.uuid4().hex}"


# --- hub processes -------------------------------------------------------------------------------------


class Hubs:
    """The `perfhub serve` processes of one test on one database; ``close`` stops those still running and
    fails the test if any of them logged a traceback."""

    def __init__(self, database_url: str, folder: Path, env: Mapping[str, str] = ENV) -> None:
        self.database_url = database_url
        self.folder = folder
        self.env = dict(env)
        self.started: list[ServedHub] = []

    def start(self, name: str) -> ServedHub:
        folder = self.folder / name
        folder.mkdir(parents=True)
        hub = ServedHub(self.database_url, folder, self.env)
        self.started.append(hub)
        return hub.start()

    def start_together(self, *names: str) -> list[ServedHub]:
        """Several hubs started side by side (each takes seconds to come up)."""
        with ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(self.start, names))

    async def restart(self, name: str) -> ServedHub:
        """A new hub process on the same database, started without blocking the test's event loop."""
        return await asyncio.to_thread(self.start, name)

    def stop_all(self) -> None:
        """Stops the hubs still running (SIGTERM, as an operator would)."""
        for hub in self.started:
            hub.stop()

    def check_logs(self) -> None:
        """No hub logged a traceback (a killed hub's log just ends)."""
        for hub in self.started:
            log = hub.log()
            assert "Traceback" not in log, f"hub {hub.folder.name} logged a traceback:\n{log[-4000:]}"


@contextmanager
def running_hubs(database_url: str, folder: Path, env: Mapping[str, str] = ENV) -> Iterator[Hubs]:
    """Hubs for one test or module: those still running are stopped at the end, then no log may hold a
    traceback."""
    hubs = Hubs(database_url, folder, env)
    try:
        yield hubs
    finally:
        hubs.stop_all()
    hubs.check_logs()


def kill_now(hub: ServedHub) -> None:
    """SIGKILL to the hub's whole process group: no shutdown, no cleanup. Synchronous, so that a
    subscriber can kill its hub at the very event it is handling."""
    os.killpg(hub.pid, signal.SIGKILL)


async def reap(hub: ServedHub) -> None:
    """Waits for a killed hub's process to be gone."""
    assert hub.process is not None
    await asyncio.to_thread(hub.process.wait, 10)


async def kill(hub: ServedHub) -> None:
    kill_now(hub)
    await reap(hub)


# --- GraphQL over HTTP -----------------------------------------------------------------------------------


async def call(
    client: httpx.AsyncClient,
    hub: ServedHub,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    rid: str | None = None,
    role: str = "hr_admin",
) -> dict[str, Any]:
    """The response body of one GraphQL request; a status other than 200 fails the test."""
    headers = hub.headers(role) | ({"X-Request-Id": rid} if rid else {})
    response = await client.post(hub.url, json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}"
    body: dict[str, Any] = response.json()
    return body


def typed(body: dict[str, Any], field_name: str) -> dict[str, Any]:
    """The payload of a mutation that gave a typed answer: no GraphQL error (a masked INTERNAL_SERVER_ERROR
    is one), only the payload union's success or error member."""
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"][field_name]
    assert payload is not None and payload.get("__typename"), body
    return payload


def code_of(payload: dict[str, Any]) -> str:
    """The audit outcome of a typed answer: ``ok`` for the success member, else the error's code."""
    code: str | None = payload.get("code")
    return code if code is not None else "ok"


async def data(client: httpx.AsyncClient, hub: ServedHub, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The data of a request that must succeed without errors."""
    body = await call(client, hub, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def step(client: httpx.AsyncClient, hub: ServedHub, name: str, cycle_id: str, expected: str) -> dict[str, Any]:
    """One workflow step that must succeed (``expected`` is the success member's type)."""
    query = SCORE if name == "cycleScore" else TRANSITION % name
    payload = typed(await call(client, hub, query, {"id": cycle_id}), name)
    assert payload["__typename"] == expected, payload
    return payload


async def reopen(client: httpx.AsyncClient, hub: ServedHub, cycle_id: str) -> None:
    body = await call(client, hub, REOPEN, {"id": cycle_id, "reason": "the race test scores again"})
    assert typed(body, "cycleReopen")["__typename"] == "CycleChanged", body


async def new_calibrated_cycle(client: httpx.AsyncClient, hub: ServedHub, name: str) -> str:
    """A new cycle over the demo's current period, opened, scored (without any input yet: the indicators
    that count a missing value as zero still give results) and closed for calibration."""
    created = typed(await call(client, hub, CREATE, {"name": name}), "cycleCreate")
    cycle_id: str = created["cycle"]["id"]
    await step(client, hub, "cycleOpen", cycle_id, "CycleChanged")
    await step(client, hub, "cycleScore", cycle_id, "CycleScored")
    await step(client, hub, "cycleCloseCalibration", cycle_id, "CycleChanged")
    return cycle_id


async def outbox(client: httpx.AsyncClient, hub: ServedHub) -> list[str]:
    """Every event id in the outbox, oldest first, paged through the catch-up query as hr_admin."""
    ids: list[str] = []
    after: str | None = None
    while True:
        events = (await data(client, hub, EVENTS_PAGE, {"after": after}))["resultEvents"]
        if not events:
            return ids
        ids += [event["eventId"] for event in events]
        after = events[-1]["cursor"]


# --- the database, read directly -------------------------------------------------------------------------


def reader(database_url: str) -> AsyncEngine:
    """An engine for the checks: no pool, so that it holds no connection between them (a test waits for a
    killed hub's connections to be gone by counting the database's sessions)."""
    return create_async_engine(database_url, poolclass=NullPool)


async def state_of(engine: AsyncEngine, cycle_id: str) -> CycleState:
    async with engine.connect() as connection:
        state: CycleState = (
            await connection.execute(select(Cycle.state).where(Cycle.id == int(cycle_id)))
        ).scalar_one()
    return state


async def results_of(engine: AsyncEngine, cycle_id: str) -> dict[int, int]:
    """employee id -> result id of the cycle's results."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(AppraisalResult.employee_id, AppraisalResult.id).where(AppraisalResult.cycle_id == int(cycle_id))
        )
        return {employee_id: result_id for employee_id, result_id in rows}


async def indicator_scores_of(engine: AsyncEngine, cycle_id: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(IndicatorScore)
            .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
            .where(AppraisalResult.cycle_id == int(cycle_id))
        )
    return int(count or 0)


async def _pairs(engine: AsyncEngine, statement: Select[A, B]) -> list[tuple[A, B]]:
    """The rows of a two-column statement, as tuples."""
    async with engine.connect() as connection:
        return [(first, second) for first, second in await connection.execute(statement)]


async def events_of(engine: AsyncEngine, cycle_id: str) -> list[tuple[str, int]]:
    """(event id, result id) of the cycle's outbox events, in stream order."""
    # The result.published events (the publication's training.need events are its too, and checked by the tests
    # of the closed loop).
    by_cycle = (ResultEvent.cycle_id == int(cycle_id)) & (ResultEvent.type == "result.published")
    return await _pairs(
        engine, select(ResultEvent.event_id, ResultEvent.result_id).where(by_cycle).order_by(ResultEvent.id)
    )


async def transitions_of(engine: AsyncEngine, cycle_id: str) -> list[tuple[CycleState | None, CycleState]]:
    """The cycle's workflow audit, oldest first."""
    by_cycle = CycleTransition.cycle_id == int(cycle_id)
    return await _pairs(
        engine,
        select(CycleTransition.from_state, CycleTransition.to_state).where(by_cycle).order_by(CycleTransition.id),
    )


async def audited(engine: AsyncEngine, rid: str) -> list[tuple[str, str]]:
    """(operation, outcome) of the access audit's entries of one request, found by the X-Request-Id the test
    sent (kept as the caller's ``client_request_id``; the audit's ``request_id`` is the hub's own)."""
    by_rid = AuditEntry.client_request_id == rid
    return await _pairs(engine, select(AuditEntry.operation, AuditEntry.outcome).where(by_rid).order_by(AuditEntry.id))


async def announced_once(engine: AsyncEngine) -> None:
    """The outbox holds events of PUBLISHED cycles only, exactly one per result of each, none twice."""
    async with engine.connect() as connection:
        published = set(await connection.scalars(select(Cycle.id).where(Cycle.state == CycleState.PUBLISHED)))
        events = (
            await connection.execute(
                select(ResultEvent.cycle_id, ResultEvent.result_id, ResultEvent.event_id).where(
                    ResultEvent.type == "result.published"
                )
            )
        ).all()
        results = (
            await connection.execute(
                select(AppraisalResult.cycle_id, AppraisalResult.id).where(AppraisalResult.cycle_id.in_(published))
            )
        ).all()
    assert {cycle for cycle, _, _ in events} <= published, "events of a cycle that is not published"
    assert sorted((cycle, result) for cycle, result, _ in events) == sorted(
        (cycle, result) for cycle, result in results
    ), "not exactly one event per published result"
    assert len({event for _, _, event in events}) == len(events)


async def until_alone(engine: AsyncEngine) -> None:
    """Waits until no session but this check's is connected to the database: a killed hub's transactions
    have been rolled back (or committed, when the kill came after COMMIT was sent) and its locks are free."""
    deadline = time.monotonic() + WITHIN
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    while True:
        async with engine.connect() as connection:
            others = int(await connection.scalar(query) or 0)
        if others == 0:
            return
        assert time.monotonic() < deadline, f"{others} sessions of a killed hub still connected"
        await asyncio.sleep(0.05)


# --- a subscriber that resumes -----------------------------------------------------------------------------


@dataclass
class Subscriber:
    """A consumer of resultPublished as the README tells it to be: it keeps the cursor of the last event
    it handled and, whenever its socket drops (its hub died), resumes after it on whatever hub is up."""

    role: str = "payroll"
    events: list[dict[str, Any]] = field(default_factory=list)
    drops: int = 0

    @property
    def cursor(self) -> str | None:
        return self.events[-1]["cursor"] if self.events else None

    @property
    def ids(self) -> list[str]:
        return [event["eventId"] for event in self.events]

    async def follow(
        self, hub: ServedHub, until: int | None = None, on_event: Callable[[int], None] | None = None
    ) -> bool:
        """Handles events from ``hub`` after the cursor until it holds ``until`` of them (True) or the socket
        drops (False). Without ``until`` it follows the live stream until the socket drops. ``on_event`` is
        called with the number of events handled so far, after each one."""
        try:
            async with socket_client(hub, self.role) as session, asyncio.timeout(WITHIN):
                if until is not None and len(self.events) >= until:
                    return True
                request = GraphQLRequest(RESULT_STREAM, variable_values={"after": self.cursor})
                async for answer in session.subscribe(request):
                    self.events.append(answer["resultPublished"])
                    if on_event is not None:
                        on_event(len(self.events))
                    if until is not None and len(self.events) >= until:
                        return True
        except TransportQueryError as error:
            # The stream's documented end when it cannot deliver an event: resume after the last one handled.
            codes = [(found.get("extensions") or {}).get("code") for found in error.errors or []]
            assert codes == ["EVENT_UNAVAILABLE"], error.errors
            self.drops += 1
            return False
        except (TransportClosed, TransportConnectionFailed, TransportProtocolError, ConnectionClosed, OSError):
            self.drops += 1
            return False
        raise AssertionError("the subscription completed while its hub was up")

    async def nothing_more(self, hub: ServedHub, within: float = 1.5) -> None:
        """No event beyond the cursor arrives (the hub looks for new events every 0.2 s here)."""
        await nothing_more(hub, self.role, self.cursor, within)


def in_order_once(received: Sequence[str], expected: Sequence[str]) -> Iterator[str]:
    """What is wrong with a received stream compared with the outbox: lost, duplicated, out of order."""
    lost = set(expected) - set(received)
    if lost:
        yield f"{len(lost)} events lost"
    duplicated = len(received) - len(set(received))
    if duplicated:
        yield f"{duplicated} events delivered twice"
    if not lost and not duplicated and list(received) != list(expected):
        yield "events out of order"
    unknown = set(received) - set(expected)
    if unknown:
        yield f"{len(unknown)} events not in the outbox"
