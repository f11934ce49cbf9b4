"""What the three REST demo systems (finance, security, tickets) share: errors, query parsing, values.

Each system speaks its own dialect on the wire (see docs/systems.example.toml); underneath they all
report :func:`hub.demo.values.demo_metric_value` for the employees on their roster
(:mod:`hub.demo.systems.roster`), so that a value fetched over HTTP equals the one the seed stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.demo.indicators import METRICS, MetricProfile
from hub.demo.systems.roster import ROSTER_HANDLERS, ExceptionHandlers, Roster, RosterSource, roster_source
from hub.demo.values import demo_metric_value


class Problem(Exception):
    """An expected failure of a request, answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


async def _problem_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)  # registered for Problem only
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


PROBLEM_HANDLERS: ExceptionHandlers = {
    Problem: _problem_response,
    **ROSTER_HANDLERS,
}


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


_IN_LOOP = 1000  # employees whose values are computed on the event loop itself (a few milliseconds)


class DemoValues:
    """The metric values of the employees on the roster, as the three REST systems report them."""

    _KEPT = 16  # whole-organisation reports kept: a client paging through one asks for it per page

    def __init__(self, seed: int, people: int | RosterSource) -> None:
        self.seed = seed
        self._people = roster_source(people)
        self._everyone: dict[tuple[Roster, str, dt.date], list[tuple[str, float]]] = {}

    async def report(self, metric: str, numbers: Iterable[str] | None, start: dt.date) -> list[tuple[str, float]]:
        """(employee number, value) for each asked-for employee with a record, in the asked order.

        None asks for everyone on the roster. Unknown numbers and employees without a record are left
        out, as a real system leaves out what it does not hold.
        """
        roster = await self._people()
        # A value is a few hashes and an inverse normal, microseconds each: a page the hub asks for
        # (200 employees) is computed at once, but a whole organisation's would hold up the event loop
        # these systems share with the hub in demo mode, so it goes to a worker thread, once.
        if numbers is not None:
            wanted = list(dict.fromkeys(numbers))
            if len(wanted) <= _IN_LOOP:
                return self._values(roster, wanted, metric, start)
            return await asyncio.to_thread(self._values, roster, wanted, metric, start)
        key = (roster, metric, start)
        if key not in self._everyone:
            self._everyone[key] = await asyncio.to_thread(self._values, roster, roster.numbers, metric, start)
            while len(self._everyone) > self._KEPT:
                del self._everyone[next(iter(self._everyone))]
        return self._everyone[key]

    def _values(self, roster: Roster, wanted: Sequence[str], metric: str, start: dt.date) -> list[tuple[str, float]]:
        report = []
        for number in wanted:
            if not roster.knows(number):
                continue
            value = demo_metric_value(self.seed, number, metric, start)
            if value is not None:
                report.append((number, value))
        return report
