"""Insider review, tokens: claims are type-checked the same on HTTP and on WebSocket, a token lives at most
PERFHUB_MAX_TOKEN_TTL_SECONDS, and a document with several operations must name the one to run.

Found on main: a numeric-string ``exp`` passed PyJWT (which reads it with ``int()``) but gave the Principal
no expiry, so a WebSocket opened with it never expired; a token valid for 100 years was accepted; two
operations without ``operationName`` ran the first one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jwt.api_jws import PyJWS
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from hub.auth import AuthenticationError, Authenticator, Role, TokenTooLong, issue_token
from hub.cli import main
from tests.conftest import TEST_SECRET, make_settings
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

served_to_read = served_fixtures.served_to_read  # the served hub's fixture, used in this folder too
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
DAY = 24 * 3600


def signed(**claims: Any) -> str:
    """An HS256 token with the test secret: hr_admin for perfhub, with ``claims`` replacing the defaults."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    values: dict[str, Any] = {
        "iss": "perfhub",
        "aud": "perfhub",
        "sub": "insider",
        "roles": ["hr_admin"],
        "iat": now,
        "exp": now + 600,
    }
    values.update(claims)
    # Signed as raw JSON: jwt.encode itself refuses some of the claim types a forger may write.
    payload = json.dumps({key: value for key, value in values.items() if value is not None}).encode()
    return PyJWS().encode(payload, TEST_SECRET, algorithm="HS256")


def now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


def http_refusal(hub: ServedHub, token: str) -> tuple[int, str]:
    response = httpx.post(
        hub.url, json={"query": "{ cycles { id } }"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    if response.status_code == 200:
        return 200, ""
    return response.status_code, response.json()["errors"][0]["message"]


def socket_refusal(hub: ServedHub, token: str) -> tuple[int, str]:
    """The close code and reason of a graphql-transport-ws socket initialised with the token; (0, ack) if admitted."""
    with connect(hub.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=10) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        try:
            message = json.loads(socket.recv(timeout=10))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason
        return 0, str(message["type"])


BAD_CLAIMS = {
    "exp as a string, in the future": {"exp": str(now() + 600)},
    "exp as a string, in the past": {"exp": str(now() - 600)},
    "exp as true": {"exp": True},
    "iat as a string": {"iat": str(now())},
    "nbf as a string": {"nbf": str(now() - 10)},
    "lives 100 years": {"exp": now() + 100 * 365 * DAY},
    "lives 100 years, without iat": {"iat": None, "exp": now() + 100 * 365 * DAY},
    "lives a day and an hour": {"exp": now() + DAY + 3600},
    "a subject longer than the audit keeps": {"sub": "s" * 201},
    "iss as a list": {"iss": ["perfhub"]},
}


@pytest.mark.parametrize("claims", list(BAD_CLAIMS.values()), ids=list(BAD_CLAIMS))
def test_a_bad_token_is_refused_alike_on_http_and_on_websocket(
    served_to_read: ServedHub, claims: dict[str, Any]
) -> None:
    token = signed(**claims)
    status, http_reason = http_refusal(served_to_read, token)
    code, socket_reason = socket_refusal(served_to_read, token)
    assert status == 401, http_reason
    assert code == 4401, socket_reason
    assert http_reason == socket_reason


def test_a_token_within_the_maximum_is_accepted_on_both(served_to_read: ServedHub) -> None:
    """The checks refuse only what they must: a token that lives exactly the maximum, with or without iat."""
    for token in (signed(exp=now() + DAY), signed(iat=None, exp=now() + DAY - 60)):
        assert http_refusal(served_to_read, token) == (200, "")
        assert socket_refusal(served_to_read, token) == (0, "connection_ack")


def test_a_string_exp_gave_a_principal_that_never_expires() -> None:
    """The cause, in process: the verifier now refuses what it used to turn into a Principal without expiry."""
    authenticator = Authenticator(make_settings())
    with pytest.raises(AuthenticationError, match="invalid claims"):
        authenticator.authenticate(f"Bearer {signed(exp=str(now() + 600))}")
    principal = authenticator.authenticate(f"Bearer {signed(exp=now() + 600)}")
    assert principal.expires_at is not None


def test_the_maximum_lifetime_is_a_setting() -> None:
    authenticator = Authenticator(make_settings(max_token_ttl_seconds=3600, token_ttl_seconds=600))
    with pytest.raises(AuthenticationError, match="lifetime"):
        authenticator.authenticate(f"Bearer {signed(exp=now() + 7200)}")
    assert authenticator.authenticate(f"Bearer {signed(exp=now() + 3600)}").subject == "insider"


def test_issue_token_refuses_a_lifetime_past_the_maximum() -> None:
    with pytest.raises(TokenTooLong):
        issue_token(make_settings(), role=Role.HR_ADMIN, ttl=100 * 365 * DAY)


def test_perfhub_token_refuses_to_mint_past_the_maximum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "perfhub.db").touch()
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "token", "--role", "hr_admin", "--ttl", str(100 * 365 * DAY)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"perfhub token: a token may live at most {DAY} s (PERFHUB_MAX_TOKEN_TTL_SECONDS); asked for "
        f"{100 * 365 * DAY} s"
    ]


# --- Several operations without operationName ------------------------------------------------------------

TWO_QUERIES = "query A { cycles { id } } query B { posts { id } }"
TWO_SUBSCRIPTIONS = (
    "subscription A { resultPublished { cursor } } subscription B { resultPublished(after: null) { eventId } }"
)


def test_two_operations_without_a_name_are_refused_over_http(served_to_read: ServedHub) -> None:
    response = httpx.post(
        served_to_read.url, json={"query": TWO_QUERIES}, headers=served_to_read.headers("hr_admin"), timeout=10
    )
    body = response.json()
    assert body.get("data") is None, body
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    named = httpx.post(
        served_to_read.url,
        json={"query": TWO_QUERIES, "operationName": "B"},
        headers=served_to_read.headers("hr_admin"),
        timeout=10,
    ).json()
    assert set(named["data"]) == {"posts"}


@pytest.fixture
def transport_socket(served_to_read: ServedHub) -> Iterator[Any]:
    with connect(served_to_read.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=10) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {served_to_read.token('hr_admin')}"}}
        socket.send(json.dumps(init))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        yield socket


def test_two_operations_without_a_name_are_refused_over_websocket(transport_socket: Any) -> None:
    transport_socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TWO_SUBSCRIPTIONS}}))
    message = json.loads(transport_socket.recv(timeout=10))
    assert message["id"] == "1"
    # Refused before execution, as an expired token is: the operation's one result, an error and no data.
    assert message["type"] == "next", message
    assert message["payload"]["data"] is None
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert json.loads(transport_socket.recv(timeout=10)) == {"id": "1", "type": "complete"}
