"""Results out through a database outage, as the training and payroll modules subscribe to the served hub.

`perfhub serve` reaches PostgreSQL through a TCP proxy in the test (``tests/tcp_proxy.py``), which
cuts the hub off for a while mid-stream: every open connection is reset and new ones are refused, as
when the database restarts. The subscribers are real WebSocket clients: Python's gql (graphql-transport-ws),
and a bare ``websockets`` client speaking the protocol, which sees every message the hub sends. Each
follows the README: keep the cursor of the last event handled; when the stream ends with
EVENT_UNAVAILABLE, resume after its ``lastCursor``. Expected (the outbox, read with resultEvents) =
received: 0 lost, 0 duplicated, in order. PostgreSQL only: the outage is made on the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Backend
from tests.served.cycle_steps import PUBLISHING, transition
from tests.served.hub_process import ServedHub, served_behind_proxy
from tests.served.people import find_people
from tests.tcp_proxy import ProxyThread

# employee is read by a loader after the hub handed the event over: an outage can strike there too.
NESTED = """
subscription($after: String) {
  resultPublished(after: $after) { cursor eventId type result { id grade employee { id } } }
}
"""
FLAT = "subscription($after: String) { resultPublished(after: $after) { cursor eventId result { id grade } } }"
EVENTS_PAGE = "query($after: String) { resultEvents(after: $after, first: 500) { cursor eventId } }"
RESULT_COUNT = "query($id: ID!) { results(cycleId: $id, first: 1) { totalCount } }"
UNAVAILABLE = "EVENT_UNAVAILABLE"
WITHIN = 90.0
ENV = {"PERFHUB_RATE_LIMIT_PER_SECOND": "0", "PERFHUB_EVENT_POLL_SECONDS": "0.05"}


@pytest.fixture
def proxied(postgresql_backend: Backend, tmp_path: Path) -> Iterator[tuple[ServedHub, ProxyThread]]:
    """The served hub on a fresh PostgreSQL database that it reaches only through the proxy."""
    with served_behind_proxy(postgresql_backend, tmp_path, ENV, ProxyThread) as (hub, proxy):
        yield hub, proxy


@dataclass
class Consumed:
    """What one subscriber handled, and how the stream ended each time it had to resume."""

    events: list[dict[str, Any]] = field(default_factory=list)
    last_cursors: list[str | None] = field(default_factory=list)  # of the EVENT_UNAVAILABLE errors
    incomplete: int = 0  # events that arrived with errors: not handled, redelivered after the resume
    resumes: int = 0

    @property
    def ids(self) -> list[str]:
        return [event["eventId"] for event in self.events]

    @property
    def cursor(self) -> str | None:
        return self.events[-1]["cursor"] if self.events else None


Hook = Callable[[int], None]


def unavailable(errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    extensions = [error.get("extensions") or {} for error in errors]
    return next((ext for ext in extensions if ext.get("code") == UNAVAILABLE), None)


async def with_gql(hub: ServedHub, role: str, query: str, count: int, on_event: Hook, pause: float) -> Consumed:
    """A gql consumer: a new socket for every resume, as a consumer that crashed on the error would.

    gql raises on the first message with errors and stops the subscription: on an event that arrived
    with errors it never sees the EVENT_UNAVAILABLE behind it, and resumes from its own last cursor,
    which is what that error would have said.
    """
    consumed = Consumed()
    while True:
        transport = WebsocketsTransport(
            url=hub.ws_url,
            init_payload={"Authorization": f"Bearer {hub.token(role)}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            request = GraphQLRequest(query, variable_values={"after": consumed.cursor})
            try:
                async for data in session.subscribe(request):
                    consumed.events.append(data["resultPublished"])
                    on_event(len(consumed.events))
                    if len(consumed.events) == count:
                        return consumed
            except TransportQueryError as error:
                ended = unavailable(error.errors or [])
                if ended is None:
                    consumed.incomplete += 1
                else:
                    assert ended["lastCursor"] == consumed.cursor, "lastCursor is not the last event delivered"
                    consumed.last_cursors.append(ended["lastCursor"])
            else:
                raise AssertionError("the subscription completed without an error")
        consumed.resumes += 1
        await asyncio.sleep(pause)


async def _subscribe(socket: ClientConnection, operation: str, query: str, after: str | None) -> None:
    payload = {"query": query, "variables": {"after": after}}
    await socket.send(json.dumps({"id": operation, "type": "subscribe", "payload": payload}))


async def with_websockets(hub: ServedHub, role: str, query: str, count: int, on_event: Hook, pause: float) -> Consumed:
    """A consumer speaking graphql-transport-ws itself, resuming on the same socket: it sees every message,
    so it checks the stream's promise to the letter. After an event that arrived with errors, the only
    message before ``complete`` is the EVENT_UNAVAILABLE error, whose lastCursor is the last event handled.
    """
    consumed = Consumed()
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {hub.token(role)}"}}
    async with connect(hub.ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        for operation in map(str, range(1, 1000)):
            await _subscribe(socket, operation, query, consumed.cursor)
            ended: dict[str, Any] | None = None
            incomplete = False
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
                    continue
                assert message.get("id") == operation, message
                if message["type"] == "complete":
                    break
                assert message["type"] == "next", message
                assert ended is None, f"a message after EVENT_UNAVAILABLE: {message}"
                payload = message["payload"]
                if errors := payload.get("errors"):
                    ended = unavailable(errors)
                    if ended is None:
                        incomplete = True
                        consumed.incomplete += 1
                    continue
                assert not incomplete, "an event was delivered after one that failed, before it"
                consumed.events.append(payload["data"]["resultPublished"])
                on_event(len(consumed.events))
                if len(consumed.events) == count:
                    await socket.send(json.dumps({"id": operation, "type": "complete"}))
                    return consumed
            assert ended is not None, "the stream completed without EVENT_UNAVAILABLE"
            assert ended["lastCursor"] == consumed.cursor, "lastCursor is not the last event delivered"
            consumed.last_cursors.append(ended["lastCursor"])
            consumed.resumes += 1
            await asyncio.sleep(pause)
    raise AssertionError("no end to the resumes")


Consumer = Callable[[ServedHub, str, str, int, Hook, float], Any]


async def outbox(hub: ServedHub) -> list[str]:
    """Every event id in the outbox, oldest first, paged through the catch-up query."""
    ids: list[str] = []
    after: str | None = None
    async with httpx.AsyncClient(headers=hub.headers("hr_admin"), timeout=60) as http:
        while True:
            answer = (await http.post(hub.url, json={"query": EVENTS_PAGE, "variables": {"after": after}})).json()
            page = answer["data"]["resultEvents"]
            if not page:
                return ids
            ids += [event["eventId"] for event in page]
            after = page[-1]["cursor"]


async def results_in(hub: ServedHub, cycle_id: str) -> int:
    async with httpx.AsyncClient(headers=hub.headers("hr_admin"), timeout=60) as http:
        answer = (await http.post(hub.url, json={"query": RESULT_COUNT, "variables": {"id": cycle_id}})).json()
    count: int = answer["data"]["results"]["totalCount"]
    return count


def nothing(_handled: int) -> None:
    pass


async def outage(proxy: ProxyThread, seconds: float) -> None:
    """The database away for ``seconds``: open connections reset, new ones refused; then back."""
    await asyncio.wrap_future(proxy.cut(seconds))


async def test_a_half_second_outage_mid_stream_loses_no_event(proxied: tuple[ServedHub, ProxyThread]) -> None:
    hub, proxy = proxied
    people = find_people(hub)
    await transition(hub, *PUBLISHING, cycle_id=people.open_cycle)
    expected = await outbox(hub)
    assert len(expected) > 200

    outages: list[asyncio.Task[None]] = []

    def cut_at_60(handled: int) -> None:
        if handled == 60:
            outages.append(asyncio.create_task(outage(proxy, 0.5)))

    subscribers: list[tuple[Consumer, str, Hook]] = [
        (with_gql, "payroll", cut_at_60),
        (with_gql, "hr_admin", nothing),
        (with_websockets, "payroll", nothing),
        (with_websockets, "training", nothing),
    ]
    async with asyncio.timeout(WITHIN):
        received: list[Consumed] = await asyncio.gather(
            *(consume(hub, role, NESTED, len(expected), hook, 0.0) for consume, role, hook in subscribers)
        )
        await asyncio.gather(*outages)

    assert len(outages) == 1
    assert proxy.severed > 0, "the outage reset the hub's open connections"
    assert "result stream:" in hub.log(), "the outage reached the streams (a retry, or a stream ended)"
    for consumed in received:
        assert consumed.ids == expected  # 0 lost, 0 duplicated, in order
        assert consumed.resumes <= 1, consumed
        assert all(event["result"]["employee"]["id"] for event in consumed.events)


async def test_an_outage_longer_than_the_retries_ends_the_streams_that_read_and_they_resume(
    proxied: tuple[ServedHub, ProxyThread],
) -> None:
    hub, proxy = proxied
    people = find_people(hub)
    history = await outbox(hub)
    await transition(hub, "cycleScore", "cycleCloseCalibration", cycle_id=people.open_cycle)
    total = len(history) + await results_in(hub, people.open_cycle)

    caught_up = [asyncio.Event(), asyncio.Event()]

    def catching_up(number: int) -> Hook:
        def on_event(handled: int) -> None:
            if handled == len(history):
                caught_up[number].set()

        return on_event

    def nothing(_: int) -> None:
        return None

    async with asyncio.timeout(WITHIN):
        # An 8 s outage: reads fail for longer than the retries last (about 2 s; 4 s left too little margin on
        # a loaded CI machine). Two consumers are caught up and idle when it starts: they wait on the hub's
        # outbox watcher, which reads nothing new while the database is away, so they read nothing and ride it
        # out (see below). Two more subscribe from the start during it: their reads fail past the retries, so
        # each stream ends with EVENT_UNAVAILABLE at the cursor they gave (none), and they resume every half
        # second until the database answers. All four then receive the history and the publication.
        idle = [
            asyncio.create_task(with_gql(hub, "payroll", FLAT, total, catching_up(0), 0.5)),
            asyncio.create_task(with_websockets(hub, "training", FLAT, total, catching_up(1), 0.5)),
        ]
        await asyncio.gather(*(event.wait() for event in caught_up))
        await asyncio.sleep(1.0)  # their last read (of nothing) done: now waiting on the watcher
        away = asyncio.create_task(outage(proxy, 8.0))
        await asyncio.sleep(0.5)
        late = [
            asyncio.create_task(with_gql(hub, "payroll", FLAT, total, nothing, 0.5)),
            asyncio.create_task(with_websockets(hub, "training", FLAT, total, nothing, 0.5)),
        ]
        await away
        await transition(hub, "cyclePublish", cycle_id=people.open_cycle)
        rode_out: list[Consumed] = await asyncio.gather(*idle)
        resumed: list[Consumed] = await asyncio.gather(*late)

    expected = await outbox(hub)
    assert len(expected) == total
    for consumed in [*rode_out, *resumed]:
        assert consumed.ids == expected  # 0 lost, 0 duplicated, in order
        assert consumed.resumes <= 10
    for consumed in rode_out:
        # Idle, they read nothing during the outage (the statement count is tests/schema/test_outbox_watcher.py);
        # one whose last, empty read of the history was under way when the outage began ends there and resumes.
        assert set(consumed.last_cursors) <= {consumed.events[len(history) - 1]["cursor"]}
    for consumed in resumed:
        assert consumed.last_cursors, "the outage outlasted the retries: the stream said where to resume"
        assert set(consumed.last_cursors) == {None}  # nothing delivered yet: resume from the start
