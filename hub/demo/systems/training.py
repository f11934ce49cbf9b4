"""The demo training system: a read-only xAPI 1.0.3 LRS serving ``GET /xapi/statements``.

Basic auth is required (401 otherwise) and so is the ``X-Experience-API-Version`` header (400
otherwise). Queries take ``agent``, ``verb``, ``activity``, ``since``, ``until``, ``limit`` and
``ascending``; answers are StatementResults of at most ``page_size`` statements, newest stored first,
whose ``more`` link (``/xapi/statements?...&cursor=N``) fetches the next page.

What it stores is :mod:`hub.demo.systems.statements`: every learner's statements, derived from the
seed, for the employees on the roster (:mod:`hub.demo.systems.roster`).
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.systems.basic_auth import basic_authorised
from hub.demo.systems.roster import PerRoster, Roster, RosterSource, RosterUnavailable, roster_source
from hub.demo.systems.statements import (
    ACTIVITIES,
    ATTEMPTED,
    AUTHORITY,
    COMPLETED,
    COURSES,
    HOME_PAGE,
    MISTAKEN,
    VERSION,
    VOIDED,
    VOIDING,
    Entry,
    Statement,
    agent,
    entries_for,
    iso,
    render,
    stable_uuid,
    statements_for,
)

__all__ = [
    "ACTIVITIES",
    "ATTEMPTED",
    "COMPLETED",
    "COURSES",
    "HOME_PAGE",
    "VOIDED",
    "agent",
    "create_app",
    "statements_for",
]

PAGE_SIZE = 500


class BadQuery(ValueError):
    pass


def _agent_key(value: object) -> tuple[str, ...] | None:
    """An agent's inverse functional identifier, the thing agents are compared by."""
    if not isinstance(value, dict):
        return None
    account = value.get("account")
    if isinstance(account, dict):
        return ("account", str(account.get("homePage")), str(account.get("name")))
    for ifi in ("mbox", "mbox_sha1sum", "openid"):
        if isinstance(value.get(ifi), str):
            return (ifi, value[ifi])
    return None


def _timestamp(value: str, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class _Query:
    agent: tuple[str, ...] | None
    verb: str | None
    activity: str | None
    since: dt.datetime | None
    until: dt.datetime | None
    limit: int
    ascending: bool
    cursor: int

    @classmethod
    def parse(cls, params: dict[str, str]) -> _Query:
        if "statementId" in params or "voidedStatementId" in params:
            raise BadQuery("single-statement lookups are not served by this sandbox")
        key = None
        if "agent" in params:
            try:
                key = _agent_key(json.loads(params["agent"]))
            except json.JSONDecodeError:
                key = None
            if key is None:
                raise BadQuery("agent is not an Agent object (JSON) with an identifier")
        numbers = {}
        for name in ("limit", "cursor"):
            try:
                numbers[name] = int(params.get(name, "0"))
            except ValueError:
                raise BadQuery(f"{name} is not an integer") from None
            if numbers[name] < 0:
                raise BadQuery(f"{name} is negative")
        if params.get("ascending", "false") not in ("true", "false"):
            raise BadQuery("ascending is neither true nor false")
        return cls(
            agent=key,
            verb=params.get("verb"),
            activity=params.get("activity"),
            since=_timestamp(params["since"], "since") if "since" in params else None,
            until=_timestamp(params["until"], "until") if "until" in params else None,
            limit=numbers["limit"],
            ascending=params.get("ascending") == "true",
            cursor=numbers["cursor"],
        )


def _learner(key: tuple[str, ...] | None) -> str | None:
    """The employee number an agent key names, when it is one of the demo's account agents."""
    if key is not None and key[0] == "account" and key[1] == HOME_PAGE:
        return key[2]
    return None


_AUTHORITY_KEY = _agent_key(AUTHORITY)


class _Store:
    """Entries in stored order, with the LRS's query rules: newest first unless ascending, voided
    statements hidden, a statement about a statement matching the non-time filters of its target."""

    def __init__(self, seed: int, entries: list[Entry]) -> None:
        self.seed = seed
        self.entries = sorted(entries)
        self.moments = [entry.stored for entry in self.entries]

    def _matches(self, entry: Entry, query: _Query) -> bool:
        if entry.ordinal == VOIDING:
            target = entry._replace(ordinal=MISTAKEN, verb=COMPLETED)
            return self._matches(target, query) or (
                query.agent in (None, _AUTHORITY_KEY)
                and query.verb in (None, VOIDED)
                and query.activity in (None, stable_uuid(self.seed, entry.number, MISTAKEN, COMPLETED))
            )
        return (
            (query.agent is None or _learner(query.agent) == entry.number)
            and (query.verb is None or query.verb == entry.verb)
            and (query.activity is None or query.activity == ACTIVITIES + COURSES[entry.course].code)
        )

    def select(self, query: _Query) -> list[Entry]:
        # stored > since and stored <= until, found by bisection: only that window is scanned.
        low = 0 if query.since is None else bisect.bisect_right(self.moments, query.since)
        high = len(self.moments) if query.until is None else bisect.bisect_right(self.moments, query.until)
        found = [entry for entry in self.entries[low:high] if self._matches(entry, query)]
        return found if query.ascending else found[::-1]


class _Lrs:
    """The statements of the employees on the roster.

    One learner's are computed when asked for (a handful). A query about everyone (xAPI cannot filter
    by several agents, so the hub's batches are such queries) needs them all in stored order: they are
    indexed once per roster, in a worker thread, and the last few queries' results are kept, since a
    client pages through one result with ``cursor`` links.
    """

    _KEPT = 16

    def __init__(self, seed: int, people: RosterSource, today: dt.date) -> None:
        self.seed, self.today, self._people = seed, today, people
        self._everyone = PerRoster(self._index)
        self._found: dict[tuple[Roster, _Query], list[Entry]] = {}

    def _index(self, roster: Roster) -> _Store:
        return _Store(self.seed, [entry for number in roster.numbers for entry in self._entries(number)])

    def _entries(self, number: str) -> list[Entry]:
        return entries_for(self.seed, number, self.today)

    async def page(self, query: _Query, size: int) -> tuple[list[Statement], bool]:
        """The statements of one page of ``query``, and whether more follow."""
        roster = await self._people()
        number = _learner(query.agent)
        if number is not None and roster.knows(number):
            found = _Store(self.seed, self._entries(number)).select(query)
        else:
            found = await self._select_everyone(roster, query)
        entries = found[query.cursor : query.cursor + size]
        # Rendering a page is milliseconds of hashing, and the event loop is shared with the hub.
        page = await asyncio.to_thread(lambda: [render(self.seed, entry, self.today) for entry in entries])
        return page, query.cursor + size < len(found)

    async def _select_everyone(self, roster: Roster, query: _Query) -> list[Entry]:
        key = (roster, dataclasses.replace(query, cursor=0, limit=0))
        if key not in self._found:
            store = await self._everyone.get(roster)
            self._found[key] = await asyncio.to_thread(store.select, query)
            while len(self._found) > self._KEPT:
                del self._found[next(iter(self._found))]
        return self._found[key]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status, headers=headers)


def _statements_endpoint(
    lrs: _Lrs, credentials: tuple[str, str], page_size: int
) -> Callable[[Request], Awaitable[Response]]:
    async def statements(request: Request) -> Response:
        if not basic_authorised(request, credentials):
            return _error(401, "basic authentication required", {"WWW-Authenticate": 'Basic realm="xAPI"'})
        if not request.headers.get("x-experience-api-version", "").startswith("1.0"):
            return _error(400, "the X-Experience-API-Version header is required (1.0.x)")
        params = dict(request.query_params)
        try:
            query = _Query.parse(params)
        except BadQuery as exc:
            return _error(400, str(exc))
        size = min(query.limit or page_size, page_size)
        try:
            page, has_more = await lrs.page(query, size)
        except RosterUnavailable as exc:
            return _error(503, str(exc), {"Retry-After": "1"})
        more = ""
        if has_more:
            following = {**params, "cursor": str(query.cursor + size)}
            more = f"{request.url.path}?{urlencode(following)}"
        headers = {
            "X-Experience-API-Version": VERSION,
            "X-Experience-API-Consistent-Through": iso(dt.datetime.now(dt.UTC)),
        }
        return JSONResponse({"statements": page, "more": more}, headers=headers)

    return statements


def create_app(
    seed: int,
    employees: int | RosterSource,
    credentials: tuple[str, str],
    *,
    today: dt.date | None = None,
    page_size: int = PAGE_SIZE,
    extra_routes: Sequence[Route] = (),
) -> Starlette:
    """The LRS of the employees on the roster (given a size: ``E000001``..``E{employees:06d}``); ``extra_routes``:
    what else it serves (the demo's webhook receiver and enrolments, ``hub.demo.systems.consumers``)."""
    lrs = _Lrs(seed, roster_source(employees), today or dt.date.today())
    statements = Route("/xapi/statements", _statements_endpoint(lrs, credentials, page_size), methods=["GET"])
    return Starlette(routes=[statements, *extra_routes])
