"""The floor ``bench.events`` measures perfhub's result stream against: a bare Starlette WebSocket endpoint.

    uvicorn bench.events_baseline:create_app --factory   (BENCH_DATABASE_URL names the database)

It speaks just enough graphql-transport-ws for the client consumers use (gql): ``connection_init`` /
``connection_ack``, ``ping`` / ``pong``, ``subscribe`` (its ``after`` variable), ``next`` and ``complete``.
No GraphQL, no authentication, no per-event access check: what is left is the physical work of sending the
same events. A subscriber's history is read straight from the outbox with asyncpg in pages of 5,000 (two
statements a page: the events with their results, then the pages' indicator scores); live events are read
once for every subscriber by one reader that wakes on the hub's own ``NOTIFY`` (and a 1 s poll), encoded
once, and the same bytes are sent to every socket. Each event's JSON is ``hub.events.contents.as_data``,
the event shape the hub's selection answers, so both sides send the same values (``bench.events`` checks).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence

import asyncpg
import orjson
from sqlalchemy import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.events.contents import EventIndicatorScore, as_data, contents_of, part_of
from hub.events.watcher import CHANNEL
from hub.webhooks.signing import event_cursor

PAGE = 5000
EVENTS = """
SELECT e.id, e.event_id, e.type, e.occurred_at, r.id AS result_id, r.cycle_id, c.name AS cycle_name,
       c.period_start, c.period_end, r.employee_id, m.employee_no, r.post_id, p.family AS post_family,
       r.department_id, r.total_score, r.grade, r.calibrated
FROM result_events e
JOIN appraisal_results r ON r.id = e.result_id
JOIN cycles c ON c.id = r.cycle_id
JOIN employees m ON m.id = r.employee_id
JOIN posts p ON p.id = r.post_id
WHERE e.id > $1 AND e.id <= $2 AND e.type IN ('result.published', 'result.revised')  -- the hub's default types
ORDER BY e.id
LIMIT $3
"""
SCORES = """
SELECT s.result_id AS of, i.code AS indicator_code, i.name AS indicator_name, i.category, v.version, s.raw_value,
       s.normalized_score, s.weight
FROM indicator_scores s
JOIN indicator_versions v ON v.id = s.indicator_version_id
JOIN indicators i ON i.id = v.indicator_id
WHERE s.result_id = ANY($1::int[])
ORDER BY s.result_id, s.id
"""
NEWEST = 2**31 - 1
"""No upper bound: the outbox's ids are 32-bit integers."""
Encoded = tuple[int, str]
"""An event's outbox id and its JSON (the ``resultPublished`` value)."""


async def read_page(pool: asyncpg.Pool, after: int, up_to: int, limit: int = PAGE) -> list[Encoded]:
    """The events after ``after`` (up to ``up_to``), each encoded once."""
    async with pool.acquire() as connection:
        events = await connection.fetch(EVENTS, after, up_to, limit)
        if not events:
            return []
        scores = await connection.fetch(SCORES, list({row["result_id"] for row in events}))
    parts: dict[int, list[EventIndicatorScore]] = {}
    for row in scores:
        parts.setdefault(row["of"], []).append(part_of({key: value for key, value in row.items() if key != "of"}))
    encoded = []
    own = ("id", "event_id", "type", "occurred_at")
    for row in events:
        contents = contents_of(
            {key: value for key, value in row.items() if key not in own}, parts.get(row["result_id"], [])
        )
        data = as_data(
            contents,
            event_id=row["event_id"],
            event_type=row["type"],
            occurred_at=row["occurred_at"],
            cursor=event_cursor(row["id"]),
        )
        encoded.append((row["id"], orjson.dumps(data).decode()))  # as the hub encodes an event (EncodedData)
    return encoded


class Feed:
    """The live events: one reader for the process, woken by the hub's NOTIFY or a 1 s poll."""

    def __init__(self, pool: asyncpg.Pool, start: int) -> None:
        self.pool = pool
        self.start = start
        """The newest id when the process started: a subscriber's history up to it is read from the database."""
        self.ids: list[int] = []
        self.events: list[str] = []
        self.grown = asyncio.Condition()
        self.heard = asyncio.Event()

    async def run(self, listener: asyncpg.Connection) -> None:
        await listener.add_listener(CHANNEL, lambda *_: self.heard.set())
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.heard.wait(), 1.0)
            self.heard.clear()
            while page := await read_page(self.pool, self.ids[-1] if self.ids else self.start, NEWEST):
                async with self.grown:
                    self.ids += [key for key, _ in page]
                    self.events += [event for _, event in page]
                    self.grown.notify_all()

    async def wait_beyond(self, index: int) -> None:
        async with self.grown:
            await self.grown.wait_for(lambda: len(self.events) > index)


async def _send_all(socket: WebSocket, prefix: str, events: Sequence[str]) -> None:
    for event in events:
        await socket.send_text(prefix + event + "}}}")


async def stream(socket: WebSocket, feed: Feed, operation: str, after: int) -> None:
    """Every event after ``after``: the history in pages, then the feed's."""
    prefix = '{"id":' + json.dumps(operation) + ',"type":"next","payload":{"data":{"resultPublished":'
    position = after
    while position < feed.start:
        page = await read_page(feed.pool, position, feed.start)
        if not page:
            break
        await _send_all(socket, prefix, [event for _, event in page])
        position = page[-1][0]
    index = bisect.bisect_right(feed.ids, position)
    while True:
        await feed.wait_beyond(index)
        end = len(feed.events)
        await _send_all(socket, prefix, feed.events[index:end])
        index = end


def _after(payload: dict[str, object]) -> int:
    variables = payload.get("variables") or {}
    cursor = variables.get("after") if isinstance(variables, dict) else None
    if not isinstance(cursor, str):
        return 0
    return int(base64.urlsafe_b64decode(cursor).decode().partition(":")[2])


async def endpoint(socket: WebSocket) -> None:
    feed: Feed = socket.app.state.feed
    await socket.accept(subprotocol="graphql-transport-ws")
    running: dict[str, asyncio.Task[None]] = {}
    try:
        while True:
            message = json.loads(await socket.receive_text())
            kind = message.get("type")
            if kind == "connection_init":
                await socket.send_text('{"type":"connection_ack"}')
            elif kind == "ping":
                await socket.send_text('{"type":"pong"}')
            elif kind == "subscribe":
                operation = message["id"]
                running[operation] = asyncio.create_task(stream(socket, feed, operation, _after(message["payload"])))
            elif kind == "complete" and message.get("id") in running:
                running.pop(message["id"]).cancel()
    except WebSocketDisconnect:
        pass
    finally:
        for task in running.values():
            task.cancel()


async def ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def create_app() -> Starlette:
    url = make_url(os.environ["BENCH_DATABASE_URL"]).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        listener = await asyncpg.connect(dsn)
        start = await pool.fetchval("SELECT coalesce(max(id), 0) FROM result_events")
        app.state.feed = Feed(pool, start)
        reader = asyncio.create_task(app.state.feed.run(listener))
        try:
            yield
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await listener.close()
            await pool.close()

    return Starlette(
        routes=[Route("/ready", ready), WebSocketRoute("/graphql", endpoint)],
        lifespan=lifespan,
    )
