"""Clear answers for clients that get it wrong, from the served hub: a subscription sent over HTTP, a mutation
sent with GET, a WebSocket without a valid token.

Each is a 4xx, or a close code the client does not retry, with a sentence saying what to do instead; never
an internal error, a traceback in the log (`served_to_read` checks it once the module is done), or a client
left retrying. Nothing here writes, so one hub per backend serves the whole module.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from hub.auth import Role, issue_token
from tests.served.hub_process import ServedHub
from tests.served.node import NodeJS

SUBSCRIPTION = "subscription { resultPublished { eventId } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"
MISSING_TOKEN = 'authentication required: send {"Authorization": "Bearer <token>"} in connection_init'
REFUSED_WITHIN_SECONDS = 1.0


def send(hub: ServedHub, method: str, query: str, accept: str) -> httpx.Response:
    headers = {**hub.headers("hr_admin"), "accept": accept}
    if method == "GET":
        return httpx.get(hub.url, params={"query": query}, headers=headers)
    return httpx.post(hub.url, json={"query": query}, headers=headers)


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_subscription_over_http_is_a_400_naming_the_websocket_protocol(
    served_to_read: ServedHub, method: str, accept: str
) -> None:
    response = send(served_to_read, method, SUBSCRIPTION, accept)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(accept)
    assert response.json() == {
        "errors": [
            {
                "message": "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql, not over HTTP",
                "extensions": {"code": "WEBSOCKET_REQUIRED"},
            }
        ]
    }


def test_a_mutation_sent_with_get_is_405_allowing_post(served_to_read: ServedHub) -> None:
    """GraphQL over HTTP: a mutation in a GET request MUST be answered 405."""
    response = send(served_to_read, "GET", "mutation { cycleOpen(cycleId: 1) { __typename } }", "application/json")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_request_errors_are_4xx_for_graphql_response_json_and_200_for_json(served_to_read: ServedHub) -> None:
    """The same unparsable document: 400 without data in the new media type, 200 with `data: null` in the old."""
    current = send(served_to_read, "POST", "{ posts { code", GRAPHQL_RESPONSE)
    assert current.status_code == 400
    assert current.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert "data" not in current.json()
    legacy = send(served_to_read, "POST", "{ posts { code", "application/json")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None


# --- WebSockets without a valid token -----------------------------------------------------------------


def refusal(hub: ServedHub, payload: dict[str, Any]) -> tuple[int | None, str, float]:
    """Opens a graphql-transport-ws socket, sends connection_init with the payload: close code, reason, seconds."""
    with connect(hub.ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=5) as socket:
        started = time.monotonic()
        socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = socket.recv(timeout=10)
        except ConnectionClosed as closed:
            elapsed = time.monotonic() - started
            assert closed.rcvd is not None, "the hub dropped the socket without a close frame"
            return closed.rcvd.code, closed.rcvd.reason, elapsed
    raise AssertionError(f"the socket was not closed; the hub sent {message!r}")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, MISSING_TOKEN),
        ({"Authorization": "Bearer garbage"}, "invalid token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unsupported scheme"),
        ("expired", "token expired"),
    ],
    ids=["missing", "garbage", "not-bearer", "expired"],
)
def test_a_socket_without_a_valid_token_is_closed_4401_at_once(
    served_to_read: ServedHub, payload: dict[str, Any] | str, reason: str
) -> None:
    if payload == "expired":
        payload = {"Authorization": f"Bearer {issue_token(served_to_read.settings, role=Role.HR_ADMIN, ttl=-3600)}"}
    assert isinstance(payload, dict)
    code, said, seconds = refusal(served_to_read, payload)
    print(f"closed {code} {said!r} after {seconds * 1000:.0f} ms")
    assert (code, said) == (4401, reason)
    assert seconds < REFUSED_WITHIN_SECONDS


def test_node_graphql_ws_client_gives_up_at_once_without_a_valid_token(served_to_read: ServedHub, node: NodeJS) -> None:
    """graphql-ws's own client, with its default retries: its error handler has the 4401 in under a second,
    after one socket (it retried strawberry's 4403 five times, ~40 s, before telling the user anything)."""
    results = node.run_json("reject.mjs", served_to_read.ws_url)
    print("graphql-ws client:", json.dumps(results))
    assert [(result["case"], result["code"], result["reason"], result["sockets"]) for result in results] == [
        ("no token", 4401, MISSING_TOKEN, 1),
        ("bad token", 4401, "invalid token", 1),
    ]
    assert all(result["elapsedMs"] < REFUSED_WITHIN_SECONDS * 1000 for result in results), results


def test_a_legacy_graphql_ws_socket_without_a_token_gets_connection_error_then_4401(served_to_read: ServedHub) -> None:
    """The legacy protocol (subscriptions-transport-ws) has its own refusal message; the close code then says why."""
    with connect(served_to_read.ws_url, subprotocols=[Subprotocol("graphql-ws")], open_timeout=5) as socket:
        started = time.monotonic()
        socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(socket.recv(timeout=10)) == {
            "type": "connection_error",
            "payload": {"message": MISSING_TOKEN},
        }
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, MISSING_TOKEN)
    assert time.monotonic() - started < REFUSED_WITHIN_SECONDS
