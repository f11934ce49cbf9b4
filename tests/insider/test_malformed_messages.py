"""Messages an insider shapes to break the hub's parsing, against the served hub: each is a typed refusal
(a status, a close code, a failure record), never a traceback (the `served` fixture fails a test whose hub
logged one) nor a 500.

Found by a hostile insider review: a JSON integer of more than 4,300 digits raised a ValueError in JSON
decoding, on a WebSocket before `connection_init` (a traceback per socket, the socket dropped without a
close code) and in an HTTP body (500); a rule number past the largest float raised OverflowError; a lone
surrogate in a socket's Authorization, or in a signed token's `sub` or `employee_no`, raised
UnicodeEncodeError (and a NUL in a claim was accepted).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Backend
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

served = served_fixtures.served  # the served hub's fixture (it fails a test whose hub logged a traceback)

TRANSPORT_WS = Subprotocol("graphql-transport-ws")
LEGACY_WS = Subprotocol("graphql-ws")
DIGITS = "7" * 5000
"""A JSON integer past Python's default limit of 4,300 digits for converting a string to an int."""
TOO_LONG_INIT = '{"type": "connection_init", "payload": {"n": ' + DIGITS + "}}"
INTEGER_TOO_LONG = "an integer has more than 4300 digits"


def closed_with(socket: ClientConnection) -> tuple[int, str]:
    """The close code and reason the server ends the socket with (frames before it are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(10):
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None, "the server dropped the socket without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def send_first(hub: ServedHub, protocol: Subprotocol, text: str) -> tuple[int, str]:
    """The close code and reason of a socket whose first message is ``text``."""
    with connect(hub.ws_url, subprotocols=[protocol], open_timeout=10) as socket:
        socket.send(text)
        return closed_with(socket)


def init_refusal(hub: ServedHub, authorization: str) -> tuple[int, str]:
    """The close code and reason of a graphql-transport-ws socket initialised with ``authorization``;
    (0, "connection_ack") when it is admitted."""
    with connect(hub.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=10) as socket:
        # json.dumps writes a lone surrogate as the escape \\ud800, which the hub decodes back into one.
        socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": authorization}}))
        try:
            message = json.loads(socket.recv(timeout=10))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server dropped the socket without a close frame"
            return closed.rcvd.code, closed.rcvd.reason
        return 0, str(message["type"])


# --- 1. An integer too long for Python, on an unauthenticated WebSocket ---------------------------------


def test_an_integer_too_long_closes_an_unauthenticated_socket_with_4400(served: ServedHub) -> None:
    """Both protocols, before `connection_init`: 4400 naming the integer, one log line per socket."""
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        for _ in range(3):
            assert send_first(served, protocol, TOO_LONG_INIT) == (
                4400,
                f"WebSocket message is not JSON perfhub accepts: {INTEGER_TOO_LONG}",
            )
    log = served.log()
    assert "Exception in ASGI application" not in log
    assert log.count(INTEGER_TOO_LONG) == 6


def test_text_that_is_not_json_closes_a_legacy_socket_too(served: ServedHub) -> None:
    """graphql-ws ignored a message that is not JSON (strawberry's choice): an insider could hold the
    socket open by sending such text forever; it is closed with 4400 now, as on graphql-transport-ws."""
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        code, reason = send_first(served, protocol, "{not json")
        assert code == 4400
        assert reason.startswith("WebSocket message is not JSON perfhub accepts: ")


def test_undecodable_messages_before_connection_init_count_as_failed_authentications(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    """Three undecodable sockets use up an address's three failed authentications: its next bad token is
    4429 (4401 before), and a valid token still gets in. After `connection_ack` they do not count."""
    limited = {"PERFHUB_AUTH_FAILURES_PER_MINUTE": "3", "PERFHUB_RATE_LIMIT_PER_SECOND": "0"}
    with ServedHub(sqlite_backend.copy(tmp_path), tmp_path, limited) as hub:
        bearer = f"Bearer {hub.token('hr_admin')}"
        # Authenticated first: an undecodable message after connection_ack is no failed authentication.
        with connect(hub.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=10) as socket:
            socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": bearer}}))
            assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
            socket.send(TOO_LONG_INIT)
            assert closed_with(socket)[0] == 4400
        codes = [send_first(hub, protocol, TOO_LONG_INIT)[0] for protocol in (TRANSPORT_WS, LEGACY_WS, TRANSPORT_WS)]
        assert codes == [4400, 4400, 4400]
        assert init_refusal(hub, "Bearer forged.token.ws")[0] == 4429
        assert init_refusal(hub, bearer) == (0, "connection_ack")
        log = hub.log()
    assert "Traceback" not in log, log[-4000:]


# --- 3. An integer too long in an HTTP body --------------------------------------------------------------


def test_an_int_variable_too_long_is_400_naming_the_integer(served: ServedHub) -> None:
    body = '{"query": "query($n: Int) { __typename }", "variables": {"n": ' + DIGITS + "}}"
    headers = {**served.headers("hr_admin"), "Content-Type": "application/json"}
    for accept in ("application/json", "application/graphql-response+json"):
        response = httpx.post(served.url, content=body, headers={**headers, "Accept": accept}, timeout=10)
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert error["message"] == f"The request body is not JSON perfhub accepts: {INTEGER_TOO_LONG}"
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "data" not in response.json()
