"""The served hub's one outbox reader per process, as subscribers see it over real WebSockets.

Two hundred subscribers (bare ``websockets`` clients speaking graphql-transport-ws) wait on one served hub:
idle, the database sees a handful of statements a second, not one per subscriber; a publish reaches every
one of them with the outbox read once per page (PostgreSQL's own statistics count the reads of the outbox
table and the transactions, so the count covers every process of the hub). A subscriber that stops reading
its socket while the stream runs past what the hub keeps is tested in process
(``tests/schema/test_outbox_fanout.py``): over loopback the hub's socket buffers take megabytes before a send
blocks, more than the demo's events make.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Backend
from tests.served.hub_process import ServedHub
from tests.served.people import find_people
from tests.served.test_stream_faults import outbox
from tests.served.test_subscriptions import TRANSITION

SUBSCRIBERS = 200
FLAT = "subscription($after: String) { resultPublished(after: $after) { cursor eventId result { id grade } } }"
ENV = {"PERFHUB_RATE_LIMIT_PER_SECOND": "0", "PERFHUB_MAX_SUBSCRIPTIONS": "0"}
WITHIN = 120.0


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


async def publish(hub: ServedHub, cycle_id: str) -> None:
    """Scores, closes calibration and publishes, waiting as long as a loaded machine needs (gql's 10 s may not do)."""
    async with httpx.AsyncClient(headers=hub.headers("hr_admin"), timeout=WITHIN) as http:
        for step in ("cycleScore", "cycleCloseCalibration", "cyclePublish"):
            answer = (await http.post(hub.url, json={"query": TRANSITION % step, "variables": {"id": cycle_id}})).json()
            assert "code" not in answer["data"][step], answer


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


@pytest.fixture
def pg_hub(postgresql_backend: Backend, tmp_path: Path) -> Iterator[ServedHub]:
    url = postgresql_backend.copy(tmp_path)
    try:
        with ServedHub(url, tmp_path, ENV) as hub:
            yield hub
        assert "Traceback" not in hub.log(), hub.log()[-4000:]
    finally:
        postgresql_backend.drop(url)


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
            await asyncio.sleep(2.0)
            scans_before, transactions_before = await counts.read()
            await asyncio.sleep(5.0)
            scans_idle, transactions_idle = await counts.read()
            # Idle for about eight seconds (the two reads wait too): the reader's poll once a second, the
            # webhook worker's rounds; nothing per subscriber (two hundred subscribers polling: 1,600 reads).
            assert scans_idle - scans_before <= 12
            assert transactions_idle - transactions_before <= 60

            target: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            readers = [asyncio.create_task(collect(client, target)) for client in clients]
            await publish(pg_hub, people.open_cycle)
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
