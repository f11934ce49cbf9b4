"""The demo payroll system: an OData v2 service at ``/odata/v2/EmpCompensation`` shaped like SuccessFactors.

Basic auth is required (401 otherwise). It understands ``$format=json``, ``$filter`` made of
``userId eq '...'`` terms joined by ``or`` (parenthesised or not; anything else is a 400 with an OData
error body), ``$select``, ``$expand=empPayCompRecurringNav``, the effective-dating parameters
``fromDate``/``toDate``/``asOfDate`` (none of them: the records in force today), ``$top``, and
server-driven paging: at most ``page_size`` entities per answer, ``d.__next`` (with a ``$skiptoken``)
for the rest.

Records are a pure function of (seed, employee number, today): a hire, then maybe an annual raise and
a promotion, each an ``EmpCompensation`` row with its recurring pay components ``BASE`` (monthly base
salary, CNY) and, for some employees, ``BONUS`` (annual performance bonus, CNY).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.systems.basic_auth import basic_authorised
from hub.demo.systems.roster import PerRoster, Roster, RosterSource, RosterUnavailable, roster_source

PATH = "/odata/v2/EmpCompensation"
# SuccessFactors pages server-side at 1,000 entities by default; the demo does the same.
PAGE_SIZE = 1000
CURRENCY = "CNY"
PAY_GROUP = "CN01"
HIRE, ANNUAL_RAISE, PROMOTION = "HIRNEW", "PAYANNUAL", "PROPROMO"
"""The event reasons (``eventReason``) of the three kinds of compensation change."""
NAVIGATION = "empPayCompRecurringNav"
ENTITY_PROPERTIES = ("userId", "startDate", "seqNumber", "endDate", "event", "eventReason", "payGroup")
ITEM_PROPERTIES = ("userId", "startDate", "seqNumber", "payComponent", "paycompvalue", "currencyCode", "frequency")
END_OF_TIME = dt.date(9999, 12, 31)
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class CompensationEvent:
    user_id: str
    start: dt.date
    end: dt.date
    reason: str
    base: Decimal  # monthly
    bonus: Decimal | None  # yearly


def _unit(*parts: object) -> float:
    # A uniform draw in (0, 1) from a hash of its arguments: one employee's history never depends on
    # which others were generated before it.
    drawn = int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")
    return (drawn + 0.5) / 2.0**64


def _yuan(amount: float, step: int) -> Decimal:
    return Decimal(round(amount / step) * step).quantize(Decimal("0.01"))


def compensation_for(seed: int, number: str, today: dt.date) -> list[CompensationEvent]:
    """One employee's compensation history, oldest first: 1-3 events, the last one in force today."""

    def draw(*parts: object) -> float:
        return _unit(seed, number, "pay", *parts)

    service_years = 1 + 14 * draw("service")
    hire = today - dt.timedelta(days=int(service_years * 365.25))
    # Monthly base pay of a public institution's staff: post pay plus grade pay plus allowances.
    changes = [(hire, HIRE, 5200 + 4800 * draw("base"))]
    wanted = 1 + int(draw("events") * 3)
    raise_on = dt.date(hire.year + 1 + int(draw("raise-year") * 3), 1, 1)
    if wanted >= 2 and raise_on <= today:
        changes.append((raise_on, ANNUAL_RAISE, changes[-1][2] * (1.03 + 0.03 * draw("raise"))))
        days_left = (today - raise_on).days - 180
        if wanted >= 3 and days_left > 31:
            day = raise_on + dt.timedelta(days=180 + int(draw("promotion-day") * days_left))
            promoted_on = day.replace(day=1)
            changes.append((promoted_on, PROMOTION, changes[-1][2] * (1.08 + 0.07 * draw("promotion"))))
    bonus = _yuan(12000 + 24000 * draw("bonus"), 100) if draw("has-bonus") < 0.6 else None
    bonus_from = int(draw("bonus-from") * len(changes))
    events = []
    for index, (start, reason, base) in enumerate(changes):
        end = changes[index + 1][0] - dt.timedelta(days=1) if index + 1 < len(changes) else END_OF_TIME
        events.append(
            CompensationEvent(number, start, end, reason, _yuan(base, 10), bonus if index >= bonus_from else None)
        )
    return events


def odata_date(day: dt.date) -> str:
    return f"/Date({(day - EPOCH).days * 86_400_000})/"


class ODataError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> ODataError:
    return ODataError(400, "COE_GENERAL_BAD_REQUEST", message)


_TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|'(?P<string>(?:[^']|'')*)'|(?P<word>[A-Za-z_][\w/]*))")


def parse_user_filter(text: str) -> set[str]:
    """The userIds of ``userId eq 'A' or (userId eq 'B' or ...)``; the only grammar this sandbox serves."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise _bad(f"$filter: cannot read {text[position:]!r}")
        kind = match.lastgroup
        value = match[kind].replace("''", "'") if kind == "string" else match[kind]
        tokens.append((kind, value))
        position = match.end()
    users: set[str] = set()
    at = _or(tokens, 0, users)
    if at != len(tokens):
        raise _bad("$filter: only userId eq '...' terms joined by 'or' are supported")
    return users


def _or(tokens: list[tuple[str, str]], at: int, users: set[str]) -> int:
    at = _term(tokens, at, users)
    while at < len(tokens) and tokens[at] == ("word", "or"):
        at = _term(tokens, at + 1, users)
    return at


def _term(tokens: list[tuple[str, str]], at: int, users: set[str]) -> int:
    if at < len(tokens) and tokens[at][0] == "open":
        at = _or(tokens, at + 1, users)
        if at >= len(tokens) or tokens[at][0] != "close":
            raise _bad("$filter: unbalanced parentheses")
        return at + 1
    if tokens[at : at + 2] != [("word", "userId"), ("word", "eq")] or at + 2 >= len(tokens):
        raise _bad("$filter: only userId eq '...' terms joined by 'or' are supported")
    if tokens[at + 2][0] != "string":
        raise _bad("$filter: userId is compared with a string literal")
    users.add(tokens[at + 2][1])
    return at + 3


def _date_param(request: Request, name: str) -> dt.date | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise _bad(f"{name}: not a date (yyyy-MM-dd)") from None


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise _bad(f"{name}: not a non-negative integer")
    return int(value)


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which properties an answer carries: everything, or what $select names."""

    entity: frozenset[str]
    items: frozenset[str] | None  # None: the navigation is not expanded

    @classmethod
    def parse(cls, select: str | None, expand: str | None) -> _Shape:
        if expand not in (None, "", NAVIGATION):
            raise _bad(f"$expand: only {NAVIGATION} can be expanded")
        expanded = expand == NAVIGATION
        if select is None or select.strip() in ("", "*"):
            return cls(frozenset(ENTITY_PROPERTIES), frozenset(ITEM_PROPERTIES) if expanded else None)
        entity: set[str] = set()
        items: set[str] = set()
        for name in (part.strip() for part in select.split(",")):
            head, _, tail = name.partition("/")
            if not tail and head in ENTITY_PROPERTIES:
                entity.add(head)
            elif head == NAVIGATION and (not tail or tail == "*"):
                items.update(ITEM_PROPERTIES)
            elif head == NAVIGATION and tail in ITEM_PROPERTIES:
                items.add(tail)
            else:
                raise _bad(f"$select: invalid property name {name!r}")
        return cls(frozenset(entity), frozenset(items) if expanded and items else None)


def _entity(event: CompensationEvent, shape: _Shape, root: str) -> dict[str, object]:
    start = event.start.isoformat()
    values: dict[str, object] = {
        "userId": event.user_id,
        "startDate": odata_date(event.start),
        "seqNumber": "1",  # Edm.Int64 travels as a string
        "endDate": odata_date(event.end),
        "event": "H" if event.reason == HIRE else "5",
        "eventReason": event.reason,
        "payGroup": PAY_GROUP,
    }
    uri = f"{root}{PATH}(seqNumber=1L,startDate=datetime'{start}T00:00:00',userId='{event.user_id}')"
    body: dict[str, object] = {"__metadata": {"uri": uri, "type": "SFOData.EmpCompensation"}}
    body.update({name: value for name, value in values.items() if name in shape.entity})
    if shape.items is not None:
        components = [("BASE", event.base, "MON")] + ([("BONUS", event.bonus, "ANN")] if event.bonus else [])
        items = []
        for component, amount, frequency in components:
            item = {
                "userId": event.user_id,
                "startDate": odata_date(event.start),
                "seqNumber": "1",
                "payComponent": component,
                "paycompvalue": f"{amount:.2f}",  # Edm.Decimal travels as a string
                "currencyCode": CURRENCY,
                "frequency": frequency,
            }
            item_uri = f"{root}/odata/v2/EmpPayCompRecurring(payComponent='{component}',{uri.partition('(')[2]}"
            items.append(
                {"__metadata": {"uri": item_uri, "type": "SFOData.EmpPayCompRecurring"}}
                | {name: value for name, value in item.items() if name in shape.items}
            )
        body[NAVIGATION] = {"results": items}
    return body


def _error(error: ODataError, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": error.code, "message": {"lang": "en-US", "value": error.message}}}
    return JSONResponse(body, status_code=error.status, headers=headers)


_SUPPORTED = {"$format", "$filter", "$select", "$expand", "$top", "$skiptoken"}


class _Payroll:
    """The compensation histories of the employees on the roster.

    Histories named by ``$filter`` (the hub asks for 100 at a time) are computed when asked for;
    everyone's, for an unfiltered query, once per roster in a worker thread.
    """

    def __init__(self, seed: int, people: RosterSource, today: dt.date) -> None:
        self.seed, self.today, self._people = seed, today, people
        self._everyone = PerRoster(lambda roster: self._histories(roster, roster.numbers))

    def _histories(self, roster: Roster, users: Iterable[str]) -> dict[str, list[CompensationEvent]]:
        return {user: compensation_for(self.seed, user, self.today) for user in users if roster.knows(user)}

    async def history(self, users: set[str] | None) -> dict[str, list[CompensationEvent]]:
        """user -> history, for the users asked for (None: everyone) that are on the roster."""
        roster = await self._people()
        if users is None:
            return await self._everyone.get(roster)
        if len(users) <= 1000:  # the hub asks for 100: a few milliseconds, not worth a thread
            return self._histories(roster, users)
        return await asyncio.to_thread(self._histories, roster, users)


def _endpoint(
    payroll: _Payroll, credentials: tuple[str, str], page_size: int, today: dt.date
) -> Callable[[Request], Awaitable[Response]]:
    async def entity_set(request: Request) -> Response:
        if not basic_authorised(request, credentials):
            denied = ODataError(401, "COE_AUTHENTICATION_FAILED", "basic authentication required")
            return _error(denied, {"WWW-Authenticate": 'Basic realm="SuccessFactors"'})
        try:
            return await _answer(request, payroll, page_size, today)
        except ODataError as error:
            return _error(error)
        except RosterUnavailable as error:
            return _error(ODataError(503, "COE_SERVICE_UNAVAILABLE", str(error)), {"Retry-After": "1"})

    return entity_set


async def _answer(request: Request, payroll: _Payroll, page_size: int, today: dt.date) -> Response:
    params = request.query_params
    unknown = sorted(name for name in params if name.startswith("$") and name not in _SUPPORTED)
    if unknown:
        raise _bad(f"system query options not supported by this sandbox: {', '.join(unknown)}")
    if params.get("$format", "json") != "json":
        raise _bad("$format: only json is served")
    users = parse_user_filter(params["$filter"]) if "$filter" in params else None
    shape = _Shape.parse(params.get("$select"), params.get("$expand"))
    start, end, as_of = (_date_param(request, name) for name in ("fromDate", "toDate", "asOfDate"))
    history = await payroll.history(users)
    if start is None and end is None:
        start = end = as_of or today  # effective-dated: the record in force on that day
    start, end = start or dt.date.min, end or END_OF_TIME
    found = [event for user in sorted(history) for event in history[user] if event.start <= end and event.end >= start]
    top = _int_param(request, "$top")
    if top is not None:
        found = found[:top]
    skip = _int_param(request, "$skiptoken") or 0
    page = found[skip : skip + page_size]
    root = str(request.base_url).rstrip("/")
    data: dict[str, object] = {"results": [_entity(event, shape, root) for event in page]}
    if skip + page_size < len(found):
        data["__next"] = str(request.url.include_query_params(**{"$skiptoken": str(skip + page_size)}))
    return JSONResponse({"d": data})


def create_app(
    seed: int,
    employees: int | RosterSource,
    credentials: tuple[str, str],
    *,
    today: dt.date | None = None,
    page_size: int = PAGE_SIZE,
    extra_routes: Sequence[Route] = (),
) -> Starlette:
    """The payroll service of the employees on the roster (given a size: ``E000001``..``E{employees:06d}``);
    ``extra_routes``: what else it serves (the demo's bonus lines, ``hub.demo.systems.consumers``)."""
    day = today or dt.date.today()
    endpoint = _endpoint(_Payroll(seed, roster_source(employees), day), credentials, page_size, day)
    return Starlette(routes=[Route(PATH, endpoint, methods=["GET"]), *extra_routes])


def annual_bonus(seed: int, number: str, today: dt.date) -> Decimal | None:
    """The employee's annual bonus component in force today, as this system records it."""
    return compensation_for(seed, number, today)[-1].bonus
