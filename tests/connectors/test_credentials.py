"""Credentials: static headers on every request; OAuth2 client credentials fetched, cached and renewed."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from connectors.base import BadResponse, Unauthorised
from connectors.config import ApiKeyAuth, Auth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from connectors.http import track_retries
from tests.connectors.conftest import FakeClock, FakeSleep, Script, http_client


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (BearerAuth(token="tok"), "Authorization", "Bearer tok"),
        (ApiKeyAuth(header="X-API-Key", key="k3y"), "X-API-Key", "k3y"),
        (BasicAuth(username="u", password="p"), "Authorization", "Basic " + base64.b64encode(b"u:p").decode()),
    ],
)
async def test_static_credentials_go_on_every_request(
    auth: Auth, header: str, value: str, sleep: FakeSleep, clock: FakeClock
) -> None:
    """Bearer, API key and Basic auth are plain headers."""
    script = Script(httpx.Response(200, json={}))
    async with http_client(script, sleep, clock, auth=auth) as port:
        await port.get_json("/a")
        await port.get_json("/b")
    assert [request.headers[header] for request in script.requests] == [value, value]


def oauth2(client_auth: str = "basic") -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        token_url="/oauth/token",
        client_id="hub",
        client_secret="s3cret",
        scope="stats.read",
        client_auth=client_auth,  # type: ignore[arg-type]
    )


class TokenServer:
    """An OAuth2 token endpoint plus an API that accepts only the latest token."""

    def __init__(self, *, expires_in: int | None = 3600) -> None:
        self.issued = 0
        self.api_calls = 0
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_requests.append(request)
            self.issued += 1
            body: dict[str, Any] = {"access_token": f"token-{self.issued}", "token_type": "Bearer"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return httpx.Response(200, json=body)
        self.api_calls += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != f"token-{self.issued}" or token in self.revoked:
            return httpx.Response(401)
        return httpx.Response(200, json={"token": token})


async def test_oauth2_fetches_one_token_and_reuses_it_until_it_expires(sleep: FakeSleep, clock: FakeClock) -> None:
    """The client credentials grant runs once; a token near its expiry is renewed before use."""
    server = TokenServer(expires_in=3600)
    async with http_client(server, sleep, clock, auth=oauth2()) as port:
        await asyncio.gather(*(port.get_json("/x") for _ in range(5)))
        assert server.issued == 1
        clock.advance(3600 - 31)
        await port.get_json("/x")
        assert server.issued == 1
        clock.advance(1)
        await port.get_json("/x")
        assert server.issued == 2
    request = server.token_requests[0]
    assert dict(httpx.QueryParams(request.content.decode())) == {
        "grant_type": "client_credentials",
        "scope": "stats.read",
    }
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"hub:s3cret").decode()


async def test_oauth2_client_secret_may_travel_in_the_form_body(sleep: FakeSleep, clock: FakeClock) -> None:
    """client_auth = "body" sends client_id and client_secret as form fields instead of Basic auth."""
    server = TokenServer()
    async with http_client(server, sleep, clock, auth=oauth2("body")) as port:
        await port.get_json("/x")
    form = dict(httpx.QueryParams(server.token_requests[0].content.decode()))
    assert form["client_id"] == "hub"
    assert form["client_secret"] == "s3cret"
    assert "Authorization" not in server.token_requests[0].headers


async def test_oauth2_renews_a_rejected_token_once(sleep: FakeSleep, clock: FakeClock) -> None:
    """A 401 with a cached token fetches a new one and tries again, without counting as a retry."""
    server = TokenServer()
    async with http_client(server, sleep, clock, auth=oauth2()) as port:
        await port.get_json("/x")
        server.revoked.add("token-1")
        with track_retries() as tracker:
            assert await port.get_json("/x") == {"token": "token-2"}
    assert server.issued == 2
    assert server.api_calls == 3
    assert not tracker.retried


async def test_oauth2_gives_up_when_even_a_new_token_is_rejected(sleep: FakeSleep, clock: FakeClock) -> None:
    """Refreshing happens once per attempt; a second 401 is Unauthorised, not retried."""
    server = TokenServer()
    server.revoked.update(f"token-{n}" for n in range(1, 10))
    async with http_client(server, sleep, clock, auth=oauth2()) as port:
        with pytest.raises(Unauthorised):
            await port.get_json("/x")
    assert (server.issued, server.api_calls) == (2, 2)


async def test_oauth2_without_expires_in_keeps_the_token_until_rejected(sleep: FakeSleep, clock: FakeClock) -> None:
    """No lifetime from the server means the token lives until the API says otherwise."""
    server = TokenServer(expires_in=None)
    async with http_client(server, sleep, clock, auth=oauth2()) as port:
        await port.get_json("/x")
        clock.advance(10**6)
        await port.get_json("/x")
    assert server.issued == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(400, json={"error": "invalid_client"}), Unauthorised),
        (httpx.Response(401), Unauthorised),
        (httpx.Response(200, json={"token_type": "Bearer"}), BadResponse),
        (httpx.Response(200, content=b"not json"), BadResponse),
    ],
)
async def test_a_token_endpoint_that_refuses_or_misbehaves_is_not_retried(
    answer: httpx.Response, error: type[Exception], sleep: FakeSleep, clock: FakeClock
) -> None:
    """Bad client credentials will not get better by asking again."""
    script = Script(answer)
    async with http_client(script, sleep, clock, auth=oauth2()) as port:
        with pytest.raises(error):
            await port.get_json("/x")
    assert len(script.requests) == 1


async def test_a_token_endpoint_that_is_down_is_retried(sleep: FakeSleep, clock: FakeClock) -> None:
    """The token request is part of the attempt: a 503 there is transient like anywhere else."""
    answers = [httpx.Response(503), httpx.Response(200, json={"access_token": "t", "expires_in": 60})]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return answers.pop(0)
        return httpx.Response(200, content=json.dumps({"ok": 1}).encode())

    async with http_client(handler, sleep, clock, auth=oauth2()) as port:
        assert await port.get_json("/x") == {"ok": 1}
    assert len(sleep.calls) == 1
