"""What the three REST demo systems (finance, security, tickets) share: errors, query parsing, values.

Each system speaks its own dialect on the wire (see docs/systems.example.toml); underneath they all
report :func:`hub.demo.values.demo_metric_value` for the employees the demo organisation has, so
that a value fetched over HTTP equals the one the seed stored.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.demo.indicators import METRICS, MetricProfile
from hub.demo.values import demo_metric_value


class Problem(Exception):
    """An expected failure of a request, answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


async def _problem_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)  # registered for Problem only
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


PROBLEM_HANDLERS = {Problem: _problem_response}


def metric_of(system: str, name: str) -> MetricProfile:
    """The catalogue's profile of ``name`` when ``system`` reports it; 404 otherwise."""
    profile = METRICS.get(name)
    if profile is None or profile.system != system:
        known = ", ".join(sorted(m for m, p in METRICS.items() if p.system == system))
        raise Problem(404, f"unknown metric {name!r}; this system reports: {known}")
    return profile


def check_secret(given: str | None, expected: str, challenge: str) -> None:
    """401 unless ``given`` equals ``expected`` (compared in constant time)."""
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "missing or invalid credentials", {"WWW-Authenticate": challenge})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def date_param(request: Request, name: str) -> dt.date:
    """A required ISO date query parameter; 400 when it is missing or malformed."""
    raw = request.query_params.get(name)
    if raw is None:
        raise Problem(400, f"missing query parameter {name!r} (an ISO date)")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Problem(400, f"{name}={raw!r} is not an ISO date (YYYY-MM-DD)") from None


def period_params(request: Request, start: str, end: str) -> tuple[dt.date, dt.date]:
    """The requested period from its two query parameters; 400 when it ends before it starts."""
    first, last = date_param(request, start), date_param(request, end)
    if last < first:
        raise Problem(400, f"{end} ({last}) is before {start} ({first})")
    return first, last


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An optional whole-number query parameter within [low, high]; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise Problem(400, f"{name} must be between {low} and {high}")
    return value


def csv_param(request: Request, name: str) -> list[str] | None:
    """The items of a comma-separated query parameter, or None when it is absent."""
    raw = request.query_params.get(name)
    return None if raw is None else [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class DemoValues:
    """The metric values of the demo organisation's employees (E000001 .. E{employees:06d})."""

    seed: int
    employees: int

    def knows(self, number: str) -> bool:
        if len(number) != 7 or number[0] != "E" or not number[1:].isdigit():
            return False
        return 1 <= int(number[1:]) <= self.employees

    def all_numbers(self) -> list[str]:
        return [f"E{i + 1:06d}" for i in range(self.employees)]

    def report(self, metric: str, numbers: Iterable[str] | None, start: dt.date) -> list[tuple[str, float]]:
        """(employee number, value) for each asked-for employee with a record, in the asked order.

        None asks for everyone. Unknown numbers and employees without a record are left out, as a
        real system leaves out what it does not hold.
        """
        wanted = self.all_numbers() if numbers is None else list(dict.fromkeys(numbers))
        report = []
        for number in wanted:
            if not self.knows(number):
                continue
            value = demo_metric_value(self.seed, number, metric, start)
            if value is not None:
                report.append((number, value))
        return report
