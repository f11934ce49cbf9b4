"""The demo security system: REST, an API key header, cursor-paged results.

``GET /v2/{metric}?employee_id=E1&employee_id=E2&start=YYYY-MM-DD&end=YYYY-MM-DD[&cursor=..][&limit=..]``
with ``X-API-Key`` answers ``{"items": [{"staff": {"number"}, "rate"}], "next_cursor": str | null}``.
"""

from __future__ import annotations

import base64
import binascii

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.demo.systems.rest import (
    PROBLEM_HANDLERS,
    DemoValues,
    Problem,
    check_secret,
    int_param,
    metric_of,
    period_params,
)
from hub.demo.systems.roster import RosterSource

SYSTEM = "security"
API_KEY_HEADER = "X-API-Key"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _cursor(offset: int) -> str:
    # Opaque to clients, as real cursors are: nobody should compute the next one themselves.
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        label, _, number = text.partition(":")
        if label != "offset" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error):
        raise Problem(400, f"invalid cursor {cursor!r}") from None


def create_app(seed: int, employees: int | RosterSource, api_key: str) -> Starlette:
    """The security system's app; requests must carry ``X-API-Key: <api_key>``."""
    values = DemoValues(seed, employees)

    async def metric(request: Request) -> JSONResponse:
        check_secret(request.headers.get(API_KEY_HEADER), api_key, f'ApiKey header="{API_KEY_HEADER}"')
        name = metric_of(SYSTEM, request.path_params["metric"]).metric
        start, _ = period_params(request, "start", "end")
        cursor = request.query_params.get("cursor")
        offset = _offset(cursor) if cursor else 0
        limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        numbers = request.query_params.getlist("employee_id") or None
        report = await values.report(name, numbers, start)
        rows = report[offset : offset + limit]
        following = offset + limit
        return JSONResponse(
            {
                "items": [{"staff": {"number": number}, "rate": value} for number, value in rows],
                "next_cursor": _cursor(following) if following < len(report) else None,
            }
        )

    return Starlette(routes=[Route("/v2/{metric}", metric, methods=["GET"])], exception_handlers=PROBLEM_HANDLERS)
