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

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jwt.api_jws import PyJWS
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import TEST_SECRET, Backend
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub
from tests.served.sockets import closed_with

served_to_read = served_fixtures.served_to_read
served_shared = served_fixtures.served_shared


@pytest.fixture
def served(served_shared: ServedHub) -> ServedHub:
    """The module's hub (one per backend), shared by the tests below instead of one started per test: they
    write no rows (the rules they send are refused) and leave no socket open. What carries over is the
    address's failed authentications, at most 21 for the module (6 + 2 + 3 + 10 below, where the default
    allows 30 a minute), so each refusal is still the 4400 or 4401 asserted, never 4429. A test fails on a
    traceback its hub logged while it ran (``served_shared``)."""
    return served_shared


TRANSPORT_WS = Subprotocol("graphql-transport-ws")
LEGACY_WS = Subprotocol("graphql-ws")
DIGITS = "7" * 5000
"""A JSON integer past Python's default limit of 4,300 digits for converting a string to an int."""
TOO_LONG_INIT = '{"type": "connection_init", "payload": {"n": ' + DIGITS + "}}"
INTEGER_TOO_LONG = "an integer has more than 4300 digits"


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
    logged_before = served.log().count(INTEGER_TOO_LONG)
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        for _ in range(3):
            assert send_first(served, protocol, TOO_LONG_INIT) == (
                4400,
                f"WebSocket message is not JSON perfhub accepts: {INTEGER_TOO_LONG}",
            )
    log = served.log()
    assert "Exception in ASGI application" not in log
    assert log.count(INTEGER_TOO_LONG) == logged_before + 6


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
    4429 (4401 before), and a valid token still gets in. After `connection_ack` they do not count.
    A hub of its own: its limit of 3 failures is not the module hub's, and its count starts at 0."""
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


# --- 2. A lone surrogate in connection_init's Authorization ----------------------------------------------


def test_a_lone_surrogate_in_the_socket_authorization_is_an_invalid_token(served: ServedHub) -> None:
    token = served.token("hr_admin")
    for authorization in ("Bearer \ud800", f"Bearer {token}\udfff", "Bearer a.\ud83d.b"):
        assert init_refusal(served, authorization) == (4401, "invalid token")


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


# --- 4. A rule number too big for a float ----------------------------------------------------------------

INDICATOR_CREATE = """
mutation($input: IndicatorCreateInput!) {
  indicatorCreate(input: $input) {
    __typename
    ... on MutationError { code message field }
  }
}
"""

TOO_BIG_RULES: dict[str, dict[str, Any]] = {
    "linear floor": {"kind": "linear", "floor": 10**400, "target": 1},
    "band #0 threshold": {"kind": "bands", "bands": [{"threshold": -(10**400), "score": 50}]},
    "lookup point #1 x": {"kind": "lookup", "points": [[0, 0], [10**400, 100]]},
    "rating max": {"kind": "rating", "min": 1, "max": 10**400},
}


def test_a_rule_number_too_big_for_a_float_is_an_invalid_rule(served: ServedHub) -> None:
    for n, (what, rule) in enumerate(TOO_BIG_RULES.items()):
        variables = {
            "input": {
                "code": f"HUGE_{n}",
                "name": "Huge",
                "category": "EXTENSION",
                "direction": "HIGHER_IS_BETTER",
                "rule": rule,
                "sourceSystem": "security",
                "effectiveFrom": "2027-01-01",
            }
        }
        response = httpx.post(
            served.url,
            json={"query": INDICATOR_CREATE, "variables": variables},
            headers=served.headers("hr_admin"),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        payload = response.json()["data"]["indicatorCreate"]
        assert payload["code"] == "INVALID_RULE", payload
        assert payload["field"] == "rule"
        assert payload["message"] == f"{what} must be a finite number, got an integer past the largest float"


# --- 5. Claims that are not printable text ---------------------------------------------------------------


def signed(**claims: Any) -> str:
    """An HS256 token with the test secret, as the hub's own but for ``claims``."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    values = {"iss": "perfhub", "aud": "perfhub", "iat": now, "exp": now + 600, **claims}
    # json.dumps writes a lone surrogate as \\ud800: the hub's JSON decoder turns it back into one.
    return PyJWS().encode(json.dumps(values).encode(), TEST_SECRET, algorithm="HS256")


BAD_TEXT_CLAIMS: dict[str, dict[str, Any]] = {
    "employee_no with a lone surrogate": {"sub": "E000012", "roles": ["employee"], "employee_no": "E0000\ud800"},
    "sub with a lone surrogate": {"sub": "insider\udc00", "roles": ["hr_admin"]},
    "employee_no with NUL": {"sub": "E000012", "roles": ["employee"], "employee_no": "E000012\x00"},
    "sub with NUL": {"sub": "insider\x00", "roles": ["hr_admin"]},
    "sub with a newline": {"sub": "insider\nforged log line", "roles": ["hr_admin"]},
}
EMPLOYEE_QUERY = "{ employees(first: 1) { edges { node { employeeNo } } } }"
"""Scoped by the employee number: the query that took a lone surrogate to the database (a 500 before)."""


def test_claims_that_are_not_printable_text_make_the_token_invalid_on_http_and_websocket(
    served: ServedHub,
) -> None:
    for what, claims in BAD_TEXT_CLAIMS.items():
        token = signed(**claims)
        response = httpx.post(
            served.url,
            json={"query": EMPLOYEE_QUERY if "employee_no" in claims else "{ cycles { id } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 401, (what, response.text)
        [error] = response.json()["errors"]
        assert (error["message"], error["extensions"]["code"]) == ("invalid claims", "UNAUTHENTICATED"), what
        assert init_refusal(served, f"Bearer {token}") == (4401, "invalid claims"), what
    # The check refuses only what it must: a printable employee number that is not ASCII still gets in.
    printable = signed(sub="É-12 ok", roles=["hr_admin"])
    assert (
        httpx.post(
            served.url,
            json={"query": "{ cycles { id } }"},
            headers={"Authorization": f"Bearer {printable}"},
            timeout=10,
        ).status_code
        == 200
    )
    assert init_refusal(served, f"Bearer {printable}") == (0, "connection_ack")
