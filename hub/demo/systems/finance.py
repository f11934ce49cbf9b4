"""The demo finance system: REST, a static bearer token, page-numbered results.

``GET /api/v1/metrics/{metric}?employees=E1,E2&from=YYYY-MM-DD&to=YYYY-MM-DD&page=1&per_page=200``
answers ``{"data": [{"employee_no", "value"}], "meta": {"page", "pages", "per_page", "total"}}``.
"""

from __future__ import annotations

import math

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.demo.systems.rest import (
    PROBLEM_HANDLERS,
    DemoValues,
    bearer_token,
    check_secret,
    csv_param,
    int_param,
    metric_of,
    period_params,
)
from hub.demo.systems.roster import RosterSource

SYSTEM = "finance"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


def create_app(seed: int, employees: int | RosterSource, token: str) -> Starlette:
    """The finance system's app; requests must carry ``Authorization: Bearer <token>``."""
    values = DemoValues(seed, employees)

    async def metric(request: Request) -> JSONResponse:
        check_secret(bearer_token(request), token, 'Bearer realm="finance"')
        name = metric_of(SYSTEM, request.path_params["metric"]).metric
        start, _ = period_params(request, "from", "to")
        page = int_param(request, "page", 1, 1, 1_000_000)
        per_page = int_param(request, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        report = await values.report(name, csv_param(request, "employees"), start)
        rows = report[(page - 1) * per_page : page * per_page]
        meta = {"page": page, "pages": max(1, math.ceil(len(report) / per_page)), "per_page": per_page}
        return JSONResponse(
            {
                "data": [{"employee_no": number, "value": value} for number, value in rows],
                "meta": {**meta, "total": len(report)},
            }
        )

    return Starlette(
        routes=[Route("/api/v1/metrics/{metric}", metric, methods=["GET"])],
        exception_handlers=PROBLEM_HANDLERS,
    )
