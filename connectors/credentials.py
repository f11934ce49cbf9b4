"""The headers that authenticate the hub to a business system, including OAuth2 client credentials.

An OAuth2 access token is fetched on first use, kept until shortly before it expires, and renewed
when the system rejects it. Concurrent calls share one token fetch (a lock), and a call that saw a
token rejected renews only if nobody has renewed it in the meantime.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import quote

import httpx

from connectors.base import BadResponse, Unauthorised
from connectors.config import ApiKeyAuth, BasicAuth, BearerAuth, NoAuth, OAuth2ClientCredentials, SystemConfig
from connectors.responses import check_status, decode_json, send

EARLY_RENEWAL = 30.0
"""Seconds before its expiry that a token is renewed, so it does not expire in flight."""


class Credentials(Protocol):
    renewable: bool
    """Whether a 401 may be cured by fetching new credentials (OAuth2), i.e. is worth one more try."""

    async def headers(self, *, rejected: Mapping[str, str] | None = None) -> Mapping[str, str]: ...


class StaticCredentials:
    """Bearer tokens, API keys and Basic auth: the same headers every time."""

    renewable = False

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self, *, rejected: Mapping[str, str] | None = None) -> Mapping[str, str]:
        return self._headers


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class OAuth2Credentials:
    """OAuth2 client credentials grant (RFC 6749 4.4), the token cached until shortly before expiry."""

    renewable = True

    def __init__(
        self,
        system: str,
        config: OAuth2ClientCredentials,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        now: Callable[[], dt.datetime],
    ) -> None:
        self._system = system
        self._config = config
        self._client = client
        self._clock = clock
        self._now = now
        self._lock = asyncio.Lock()
        self._headers: dict[str, str] | None = None
        self._expires_at = 0.0
        self.fetches = 0

    async def headers(self, *, rejected: Mapping[str, str] | None = None) -> Mapping[str, str]:
        async with self._lock:
            stale = self._headers is None or self._clock() >= self._expires_at
            if stale or (rejected is not None and rejected == self._headers):
                self._headers = await self._fetch()
            assert self._headers is not None
            return self._headers

    async def _fetch(self) -> dict[str, str]:
        config = self._config
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {"Accept": "application/json"}
        if config.client_auth == "basic":
            # RFC 6749 2.3.1: the id and secret are form-encoded before they go into Basic auth.
            headers["Authorization"] = basic_header(
                quote(config.client_id, safe=""), quote(config.client_secret, safe="")
            )
        else:
            form |= {"client_id": config.client_id, "client_secret": config.client_secret}
        request = self._client.build_request("POST", config.token_url, data=form, headers=headers)
        response = await send(self._system, self._client, request)
        self.fetches += 1
        if response.status_code == 400:
            # RFC 6749 5.2: invalid_client / unauthorized_client may come back as 400.
            raise Unauthorised(self._system, "the token endpoint refused the client credentials (HTTP 400)")
        check_status(self._system, response, self._now())
        answer = decode_json(self._system, response)
        body = answer if isinstance(answer, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise BadResponse(self._system, "the token endpoint answered without an access_token")
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            self._expires_at = self._clock() + max(0.0, expires_in - min(EARLY_RENEWAL, expires_in / 10))
        else:
            # No lifetime given: keep the token until the system rejects it.
            self._expires_at = float("inf")
        return {"Authorization": f"Bearer {token}"}


def credentials_for(
    config: SystemConfig, client: httpx.AsyncClient, *, clock: Callable[[], float], now: Callable[[], dt.datetime]
) -> Credentials:
    auth = config.auth
    if isinstance(auth, NoAuth):
        return StaticCredentials({})
    if isinstance(auth, BearerAuth):
        return StaticCredentials({"Authorization": f"Bearer {auth.token}"})
    if isinstance(auth, ApiKeyAuth):
        return StaticCredentials({auth.header: auth.key})
    if isinstance(auth, BasicAuth):
        return StaticCredentials({"Authorization": basic_header(auth.username, auth.password)})
    return OAuth2Credentials(config.name, auth, client, clock=clock, now=now)
