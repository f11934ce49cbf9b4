"""The demo tickets system: REST behind OAuth2 client credentials, offset paging through Link headers.

``POST /oauth/token`` (form: ``grant_type=client_credentials``, the client's id and secret in the
form or in HTTP Basic auth, optional ``scope``) answers
``{"access_token", "token_type": "Bearer", "expires_in", "scope"}``.
``GET /rest/stats?metric=..&assignees=E1,E2&since=YYYY-MM-DD&until=YYYY-MM-DD[&offset=..][&limit=..]``
with ``Authorization: Bearer <access token>`` answers ``[{"assignee", "metric", "value"}]`` and, while
more rows remain, ``Link: <next page URL>; rel="next"``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.demo.systems.rest import (
    PROBLEM_HANDLERS,
    DemoValues,
    Problem,
    bearer_token,
    csv_param,
    int_param,
    metric_of,
    period_params,
)
from hub.demo.systems.roster import RosterSource

SYSTEM = "tickets"
SCOPE = "stats.read"
TOKEN_TTL = 3600  # seconds
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_FORM = "application/x-www-form-urlencoded"


def _oauth_error(status: int, error: str, description: str, challenge: bool = False) -> JSONResponse:
    # RFC 6749 section 5.2: token endpoint errors carry an "error" code, not a free text.
    headers = {"WWW-Authenticate": 'Basic realm="tickets"'} if challenge else None
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    # RFC 6749 section 2.3.1: client id and secret are form-urlencoded before the Basic encoding.
    return (unquote(user), unquote(password)) if colon else None


class _Tokens:
    """The access tokens issued so far, each with the monotonic time it expires at."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        now = time.monotonic()
        # Forget expired tokens here, so that a long demo run does not grow the table forever.
        self._expiry = {token: at for token, at in self._expiry.items() if at > now}
        token = secrets.token_urlsafe(24)
        self._expiry[token] = now + self.ttl
        return token

    def valid(self, token: str | None) -> bool:
        return token is not None and self._expiry.get(token, 0.0) > time.monotonic()


def create_app(
    seed: int, employees: int | RosterSource, credentials: tuple[str, str], token_ttl: int = TOKEN_TTL
) -> Starlette:
    """The tickets system's app; ``credentials`` is the (client id, client secret) it accepts."""
    values = DemoValues(seed, employees)
    tokens = _Tokens(token_ttl)

    async def token(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
            return _oauth_error(400, "invalid_request", f"the body must be {_FORM}")
        form = {key: items[0] for key, items in parse_qs((await request.body()).decode()).items()}
        client = _basic_credentials(request) or (form.get("client_id", ""), form.get("client_secret", ""))
        given = f"{client[0]}\n{client[1]}".encode()
        if not secrets.compare_digest(given, f"{credentials[0]}\n{credentials[1]}".encode()):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret", challenge=True)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        if any(scope != SCOPE for scope in form.get("scope", SCOPE).split()):
            return _oauth_error(400, "invalid_scope", f"the only scope is {SCOPE!r}")
        return JSONResponse(
            {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": token_ttl, "scope": SCOPE},
            headers={"Cache-Control": "no-store"},
        )

    async def stats(request: Request) -> JSONResponse:
        if not tokens.valid(bearer_token(request)):
            raise Problem(
                401, "missing, unknown or expired access token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        name = request.query_params.get("metric")
        if not name:
            raise Problem(400, "missing query parameter 'metric'")
        metric = metric_of(SYSTEM, name).metric
        start, _ = period_params(request, "since", "until")
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        report = await values.report(metric, csv_param(request, "assignees"), start)
        rows = report[offset : offset + limit]
        headers = {"X-Total-Count": str(len(report))}
        if offset + limit < len(report):
            following = request.url.include_query_params(offset=offset + limit, limit=limit)
            headers["Link"] = f'<{following}>; rel="next"'
        body = [{"assignee": number, "metric": metric, "value": value} for number, value in rows]
        return JSONResponse(body, headers=headers)

    return Starlette(
        routes=[Route("/oauth/token", token, methods=["POST"]), Route("/rest/stats", stats, methods=["GET"])],
        exception_handlers=PROBLEM_HANDLERS,
    )
