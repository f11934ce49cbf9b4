"""Sockets that break the protocol, against the served hub: each is closed with a code and a reason (or
answered with an error), never a traceback in the log (`served_to_read` checks) or a silent drop.

Found by a hostile review: a second `connection_init` on the legacy graphql-ws protocol swapped the
socket's principal while its row scope stayed the first token's; malformed frames raised inside
strawberry's handlers.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.served.hub_process import ServedHub
from tests.served.sockets import closed_with

TRANSPORT_WS = Subprotocol("graphql-transport-ws")
LEGACY_WS = Subprotocol("graphql-ws")


CLOSE_TIMEOUT_SECONDS = 1
"""How long a socket leaving the block waits for the hub's close frame before dropping the connection. A
subscriber that stops reading has a full queue (websockets' max_queue) in front of that frame, so it never
sees it: the default 10 s were spent in most rounds of the test of a subscriber leaving mid-stream, which
ends with the connection dropped either way."""


@contextlib.contextmanager
def opened(hub: ServedHub, protocol: Subprotocol, *, authenticated: bool = True) -> Iterator[ClientConnection]:
    with connect(hub.ws_url, subprotocols=[protocol], open_timeout=10, close_timeout=CLOSE_TIMEOUT_SECONDS) as socket:
        if authenticated:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {hub.token('hr_admin')}"}}
            socket.send(json.dumps(init))
            assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        yield socket


def test_a_second_connection_init_on_the_legacy_protocol_closes_the_socket(served_to_read: ServedHub) -> None:
    with opened(served_to_read, LEGACY_WS) as socket:
        employee = served_to_read.token("employee", "E000012")
        socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {employee}"}}))
        assert closed_with(socket) == (4429, "Too many initialisation requests")


MALFORMED: dict[str, Any] = {
    "an array": [1, 2],
    "null": None,
    "no type": {"id": "1"},
    "a subscribe without an id": {"type": "subscribe", "payload": {"query": "{ cycles { id } }"}},
    "a payload that is a string": {"type": "subscribe", "id": "1", "payload": "{ cycles { id } }"},
    "variables that are a list": {"type": "subscribe", "id": "1", "payload": {"query": "{ x }", "variables": [1]}},
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_a_malformed_frame_closes_the_socket_with_4400_and_a_reason(
    served_to_read: ServedHub, protocol: Subprotocol, frame: Any
) -> None:
    if protocol == LEGACY_WS and isinstance(frame, dict) and frame.get("type") == "subscribe":
        frame = {**frame, "type": "start"}
    with opened(served_to_read, protocol) as socket:
        socket.send(json.dumps(frame))
        code, reason = closed_with(socket)
    assert code == 4400
    assert "message" in reason or "must be" in reason


def test_a_malformed_frame_before_authentication_is_refused_the_same_way(served_to_read: ServedHub) -> None:
    with opened(served_to_read, TRANSPORT_WS, authenticated=False) as socket:
        socket.send(json.dumps([1, 2]))
        assert closed_with(socket)[0] == 4400


def test_a_query_on_the_legacy_protocol_is_an_error_naming_http_and_the_socket_stays(
    served_to_read: ServedHub,
) -> None:
    with opened(served_to_read, LEGACY_WS) as socket:
        socket.send(json.dumps({"type": "start", "id": "q", "payload": {"query": "{ cycles { id } }"}}))
        answer = json.loads(socket.recv(timeout=10))
        assert answer["type"] == "error" and answer["id"] == "q"
        assert "subscriptions only" in answer["payload"]["message"]
        subscription = {"query": "subscription { resultPublished { eventId } }"}
        socket.send(json.dumps({"type": "start", "id": "s", "payload": subscription}))
        event = json.loads(socket.recv(timeout=10))
        assert event["type"] == "data" and event["payload"]["data"]["resultPublished"]["eventId"]


def test_a_websocket_message_over_the_body_limit_closes_the_socket(served_to_read: ServedHub) -> None:
    """The HTTP body limit (1 MiB by default) holds for WebSocket messages too, before authentication."""
    with opened(served_to_read, TRANSPORT_WS, authenticated=False) as socket:
        padding = "x" * (2 * 1024 * 1024)
        socket.send(json.dumps({"type": "connection_init", "payload": {"padding": padding}}))
        assert closed_with(socket)[0] == 1009  # message too big


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_a_subscriber_leaving_mid_stream_is_not_a_fault(served_shared: ServedHub, protocol: Subprotocol) -> None:
    """A consumer that stops (or crashes) while events are on their way: the hub logs no traceback (the
    `served_shared` fixture fails the test on one logged while it ran; the module's hub is checked again
    when it stops). Found by CI on graphql-ws: 'Task exception was never retrieved'. The module's hub,
    not one of its own: the subscriptions only read, and the sockets are closed when the test ends."""
    served = served_shared
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    for round_ in range(5):
        with opened(served, protocol) as socket:
            subscription = {"query": "subscription { resultPublished { eventId } }"}
            socket.send(json.dumps({"type": start, "id": f"s{round_}", "payload": subscription}))
            assert json.loads(socket.recv(timeout=10))["type"] in {"next", "data"}
        # Leaving the block closes the socket while the replay of the history is still being sent.
    time.sleep(1.0)  # the hub notices the closed sockets
    assert "Task exception was never retrieved" not in served.log()
