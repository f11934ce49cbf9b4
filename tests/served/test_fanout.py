"""The served hub's one outbox reader per process, as subscribers see it over real WebSockets.

Two hundred subscribers (bare ``websockets`` clients speaking graphql-transport-ws) wait on one served hub:
idle, the database sees a handful of statements a second, not one per subscriber; a publish reaches every
one of them with the outbox read once per page (PostgreSQL's own statistics count the reads of the outbox
table and the transactions, so the count covers every process of the hub). A subscriber that stops reading
its socket while the stream runs past what the hub keeps is closed with 4413 and SUBSCRIBER_TOO_SLOW: over
loopback the kernel's buffers take megabytes before a send blocks, so that client's socket is made with a
receive buffer of a few kilobytes (``SO_RCVBUF`` before connecting), it lets ``websockets`` pause reading,
and thousands of events are appended to the outbox at once, as a large publish does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.events import FILL
from hub.events.watcher import CHANNEL
from tests.conftest import Backend
from tests.served.cycle_steps import PUBLISHING, transition
from tests.served.hub_process import ServedHub
from tests.served.people import find_people
from tests.served.test_stream_faults import outbox

SUBSCRIBERS = 200
FLAT = "subscription($after: String) { resultPublished(after: $after) { cursor eventId result { id grade } } }"
ENV = {"PERFHUB_RATE_LIMIT_PER_SECOND": "0", "PERFHUB_MAX_SUBSCRIPTIONS": "0"}
WITHIN = 120.0
STATISTICS_SETTLE_SECONDS = 11.0


async def subscribed(hub: ServedHub, query: str, after: str | None, **options: Any) -> ClientConnection:
    """A socket past connection_ack with one subscription (id "1") started."""
    # No client keepalive: two hundred sockets on a loaded test machine may answer a ping late, and the hub pings.
    client = await connect(
        hub.ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], ping_interval=None, **options
    )
    await client.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": hub.headers("payroll")["Authorization"]}})
    )
    assert json.loads(await client.recv())["type"] == "connection_ack"
    payload = {"query": query, "variables": {"after": after}}
    await client.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return client


async def events_of(client: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events of subscription "1" (pings answered; anything else fails the test)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = json.loads(await client.recv())
        if message["type"] == "ping":
            await client.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next" and "errors" not in message["payload"], message
        events.append(message["payload"]["data"]["resultPublished"])
    return events


async def collect(client: ClientConnection, target: asyncio.Future[int]) -> list[str]:
    """Event ids of subscription "1" as they come, read all along (a socket left unread misses the hub's
    keepalive pings and is closed), until there are as many as ``target`` says once it is known."""
    ids: list[str] = []
    while not (target.done() and len(ids) >= target.result()):
        try:
            ids += [event["eventId"] for event in await asyncio.wait_for(events_of(client, 1), 1.0)]
        except TimeoutError:
            continue
    return ids


class DatabaseCounts:
    """PostgreSQL's statistics of one database: reads of the outbox table, and transactions."""

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def read(self) -> tuple[int, int]:
        await asyncio.sleep(1.5)  # backends report their statistics at most once a second
        connection = await asyncpg.connect(self.dsn)
        try:
            scans = await connection.fetchval(
                "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                " WHERE relname = 'result_events'"
            )
            transactions = await connection.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        finally:
            await connection.close()
        return int(scans), int(transactions)


def hub_on_a_copy(backend: Backend, folder: Path, env: dict[str, str]) -> Iterator[ServedHub]:
    url = backend.copy(folder)
    try:
        with ServedHub(url, folder, env) as hub:
            yield hub
        assert "Traceback" not in hub.log(), hub.log()[-4000:]
    finally:
        backend.drop(url)


@pytest.fixture
def pg_hub(postgresql_backend: Backend, tmp_path: Path) -> Iterator[ServedHub]:
    yield from hub_on_a_copy(postgresql_backend, tmp_path, ENV)


async def test_two_hundred_subscribers_cost_a_handful_of_statements_idle_and_one_outbox_read_per_page(
    pg_hub: ServedHub,
) -> None:
    people = find_people(pg_hub)
    history = await outbox(pg_hub)
    counts = DatabaseCounts(pg_hub.database_url)
    async with asyncio.timeout(WITHIN):
        # The cursor of the last event: every subscriber is caught up and waits on the hub's reader.
        clients = [await subscribed(pg_hub, FLAT, None)]
        last = (await events_of(clients[0], len(history)))[-1]["cursor"]
        clients += [await subscribed(pg_hub, FLAT, last) for _ in range(SUBSCRIBERS - 1)]
        try:
            # A backend that goes idle less than a second after its last report holds its statistics for up to
            # ten seconds (PostgreSQL's PGSTAT_IDLE_INTERVAL): the subscriptions' catch-up reads would otherwise
            # land inside the idle window below (CI once counted 14 reads there).
            await asyncio.sleep(STATISTICS_SETTLE_SECONDS)
            scans_before, transactions_before = await counts.read()
            await asyncio.sleep(5.0)
            scans_idle, transactions_idle = await counts.read()
            # Idle for about eight seconds (the two reads wait too): the reader's poll once a second, the
            # webhook worker's rounds; nothing per subscriber (two hundred subscribers polling: 1,600 reads).
            assert scans_idle - scans_before <= 12
            assert transactions_idle - transactions_before <= 60

            target: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            readers = [asyncio.create_task(collect(client, target)) for client in clients]
            await transition(pg_hub, *PUBLISHING, cycle_id=people.open_cycle, request_seconds=WITHIN)
            expected = (await outbox(pg_hub))[len(history) :]
            assert len(expected) >= 50
            target.set_result(len(expected))
            received = await asyncio.gather(*readers)
            assert all(ids == expected for ids in received)
            scans_after, transactions_after = await counts.read()
        finally:
            await asyncio.gather(*(client.close() for client in clients))
    # The publish's events read once for two hundred subscribers (a page holds 1,000); the rest are the
    # reader's polls, the webhook worker's enqueueing, the publish and the two catch-up queries' pages.
    # Each subscriber reading its own page would be at least two hundred.
    assert scans_after - scans_idle <= 40, scans_after - scans_idle
    assert transactions_after - transactions_idle <= 120, transactions_after - transactions_idle


SLOW_ENV = {**ENV, "PERFHUB_SUBSCRIPTION_BUFFER": "50", "PERFHUB_SUBSCRIPTION_STALL_SECONDS": "1"}
SCORES = "indicatorScores { indicatorCode indicatorName category version rawValue normalizedScore weight }"
WIDE = (
    "subscription($after: String) { resultPublished(after: $after) { cursor eventId type occurredAt employeeNo "
    "cycle { id name periodStart periodEnd } totalScore grade calibrated "
    + " ".join(f"s{copy}: {SCORES}" for copy in range(8))
    + " } }"
)
"""About five kilobytes an event (the scores eight times over, by aliases): thousands of them are more than
loopback's buffers hold (the kernel grows a socket's send buffer up to 4 MB)."""
FLOOD = 3000


@pytest.fixture
def slow_hub(postgresql_backend: Backend, tmp_path: Path) -> Iterator[ServedHub]:
    """A hub that keeps 50 events for its subscriptions and ends one that has not moved for a second."""
    yield from hub_on_a_copy(postgresql_backend, tmp_path, SLOW_ENV)


async def flood(hub: ServedHub, count: int) -> None:
    """Appends ``count`` events (the published cycle's results in turn: the bench's fill) in one transaction and
    NOTIFYs, as a publish does."""
    connection = await asyncpg.connect(DatabaseCounts(hub.database_url).dsn)
    try:
        async with connection.transaction():
            await connection.execute(FILL, count)
            await connection.execute(f"NOTIFY {CHANNEL}")
    finally:
        await connection.close()


def event_number(cursor: str) -> int:
    kind, _, number = base64.b64decode(cursor).decode().partition(":")
    assert kind == "event", cursor
    return int(number)


async def tiny_socket(hub: ServedHub) -> socket.socket:
    """A TCP socket to the hub whose receive buffer is a few kilobytes: set before connecting, so the window
    the client announces stays that small and the hub's sends block once its own buffers are full."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    raw.setblocking(False)
    port = int(hub.ws_url.split(":")[2].split("/")[0])
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    return raw


async def test_a_subscriber_that_stops_reading_is_closed_4413_and_resumes_from_the_reason_without_a_loss(
    slow_hub: ServedHub,
) -> None:
    history = await outbox(slow_hub)
    async with asyncio.timeout(WITHIN):
        caught_up = await subscribed(slow_hub, FLAT, None)
        last = (await events_of(caught_up, len(history)))[-1]["cursor"]
        await caught_up.close()
        # No compression (it would shrink the repeated JSON below the buffers), and at most one message queued
        # before websockets stops reading the socket: then the client reads nothing until the hub has given up.
        slow = await subscribed(slow_hub, WIDE, last, sock=await tiny_socket(slow_hub), compression=None, max_queue=1)
        await flood(slow_hub, FLOOD)
        expected = (await outbox(slow_hub))[len(history) :]
        assert len(expected) == FLOOD
        await asyncio.sleep(4.0)  # the stall (1 s), the reader's check, and the hub's closing of a stuck send

        received: list[str] = []
        errors: list[dict[str, Any]] = []  # GraphQL errors
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(slow.recv(), 20.0))
                except TimeoutError:
                    raise AssertionError(f"not closed after {len(received)} events of {FLOOD}") from None
                # The stream's own error, when it ended before its socket was closed under it: a "next" with
                # errors and no data (strawberry sends an error of the source stream so), or an "error".
                if message["type"] == "next" and message["payload"].get("data") is not None:
                    received.append(message["payload"]["data"]["resultPublished"]["eventId"])
                elif message["type"] in {"next", "error"}:
                    payload = message["payload"]
                    errors += payload["errors"] if isinstance(payload, dict) else payload
        close = closed.value.rcvd
        assert close is not None, "the hub dropped the socket without a close frame"
        assert close.code == 4413, (close.code, close.reason)
        assert close.reason.startswith("SUBSCRIBER_TOO_SLOW: resume after "), close.reason
        reason_cursor = close.reason.removeprefix("SUBSCRIBER_TOO_SLOW: resume after ")
        # The hub stopped long before the end: it did not buffer the whole flood for a client that reads nothing.
        assert len(received) < FLOOD - 1000, len(received)
        assert received == expected[: len(received)]
        for error in errors:
            assert error["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW", error
            # The reason names the cursor when the hub gave up; the send it was stuck in may have finished since:
            # both are places to resume from, the reason's at most one event earlier (delivered twice, not lost).
            assert event_number(error["extensions"]["lastCursor"]) >= event_number(reason_cursor), (error, close.reason)

        resumed = await subscribed(slow_hub, FLAT, reason_cursor)
        try:
            rest = await events_of(resumed, 1)
            rest += await events_of(resumed, len(expected) - expected.index(rest[0]["eventId"]) - 1)
        finally:
            await resumed.close()
    rest_ids = [event["eventId"] for event in rest]
    # At least once, in order: the resume starts right after the reason's cursor, at or before the first
    # event the slow client did not get (the one stuck in the send may come twice), and runs to the end.
    start = expected.index(rest_ids[0])
    assert start <= len(received), (start, len(received))
    assert rest_ids == expected[start:]
    assert event_number(rest[0]["cursor"]) > event_number(reason_cursor)
