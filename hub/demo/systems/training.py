"""The demo training system: a read-only xAPI 1.0.3 LRS serving ``GET /xapi/statements``.

Basic auth is required (401 otherwise) and so is the ``X-Experience-API-Version`` header (400
otherwise). Queries take ``agent``, ``verb``, ``activity``, ``since``, ``until``, ``limit`` and
``ascending``; answers are StatementResults of at most ``page_size`` statements, newest stored first,
whose ``more`` link (``/xapi/statements?...&cursor=N``) fetches the next page.

Statements are a pure function of (seed, employee number, today): 0-6 completed courses over the two
years before ``today``, sometimes an attempted one, and for the first employee one completed statement
that a voiding statement withdraws, as the spec says an LRS must keep them apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from base64 import b64decode
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.demo.values import latent_performance

HOME_PAGE = "https://hr.perfhub.example"
"""The account homePage of every learner: agents are ``{"account": {"homePage": HOME_PAGE, "name": number}}``."""
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ACTIVITIES = "https://training.perfhub.example/courses/"
PAGE_SIZE = 500
VERSION = "1.0.3"
CHINA = dt.timezone(dt.timedelta(hours=8))
AUTHORITY = {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": "lrs-admin"}}


@dataclass(frozen=True, slots=True)
class Course:
    code: str
    name: str
    name_zh: str
    hours: float  # the nominal length; a learner's recorded time scatters around it


COURSES = (
    Course("integrity", "Integrity and Discipline for Public Servants", "廉洁自律与纪律规矩", 4.0),
    Course("documents", "Official Document Handling", "公文处理规范", 6.0),
    Course("reimbursement", "Financial Reimbursement Rules", "财务报销制度", 3.0),
    Course("fire-safety", "Fire Safety and Emergency Drills", "消防安全与应急演练", 2.5),
    Course("data-security", "Data Security and Confidentiality", "数据安全与保密", 3.0),
    Course("service", "Front-Desk Service Etiquette", "窗口服务礼仪", 2.0),
    Course("procurement", "Government Procurement Procedures", "政府采购流程", 5.0),
    Course("leadership", "Team Leadership Fundamentals", "团队管理基础", 8.0),
    Course("writing", "Report and Briefing Writing", "公文写作", 6.0),
    Course("office-software", "Office Software Skills", "办公软件应用", 4.5),
)


def _unit(*parts: object) -> float:
    # A uniform draw in (0, 1) from a hash of its arguments: a statement never depends on which
    # employees were generated before it.
    drawn = int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")
    return (drawn + 0.5) / 2.0**64


def _uuid(*parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def agent(number: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": number}}


def _statement(seed: int, number: str, index: int, verb: str, today: dt.date) -> dict[str, Any]:
    course = COURSES[int(_unit(seed, number, index, "course") * len(COURSES))]
    day = today - dt.timedelta(days=1 + int(_unit(seed, number, index, "day") * 729))
    minute = int(_unit(seed, number, index, "minute") * 8 * 60)
    timestamp = dt.datetime.combine(day, dt.time(9), CHINA) + dt.timedelta(minutes=minute)
    stored = timestamp + dt.timedelta(minutes=1 + int(_unit(seed, number, index, "lag") * 120))
    minutes = max(15, round(course.hours * 60 * (0.8 + 0.4 * _unit(seed, number, index, "time")) / 5) * 5)
    # Stronger performers tend to score higher: the same latent trait the appraisal data reflects.
    scaled = 0.55 + 0.3 * latent_performance(seed, number) + 0.15 * _unit(seed, number, index, "score")
    completed = verb == COMPLETED
    return {
        "id": _uuid(seed, number, index, verb),
        "actor": agent(number),
        "verb": {"id": verb, "display": {"en-US": "completed" if completed else "attempted"}},
        "object": {
            "objectType": "Activity",
            "id": ACTIVITIES + course.code,
            "definition": {
                "name": {"zh-CN": course.name_zh, "en-US": course.name},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "result": {
            "completion": completed,
            "duration": f"PT{minutes // 60}H{minutes % 60}M",
            **({"score": {"scaled": round(min(scaled, 1.0), 2)}, "success": scaled >= 0.6} if completed else {}),
        },
        "timestamp": _iso(timestamp),
        "stored": _iso(stored.astimezone(dt.UTC)),
        "authority": AUTHORITY,
        "version": VERSION,
    }


def statements_for(seed: int, number: str, today: dt.date) -> list[dict[str, Any]]:
    """Every statement the LRS stores about one employee, voided and voiding ones included."""
    completed = int(_unit(seed, number, "completed") * 7)
    statements = [_statement(seed, number, index, COMPLETED, today) for index in range(completed)]
    if _unit(seed, number, "attempted") < 0.3:
        statements.append(_statement(seed, number, completed, ATTEMPTED, today))
    if number == "E000001":
        # A completion entered by mistake and withdrawn: the LRS hides it, but answers the voiding statement.
        mistaken = _statement(seed, number, 99, COMPLETED, today)
        stored = dt.datetime.fromisoformat(mistaken["stored"]) + dt.timedelta(days=1)
        voiding = {
            "id": _uuid(seed, number, "voiding"),
            "actor": AUTHORITY,
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": mistaken["id"]},
            "timestamp": _iso(stored),
            "stored": _iso(stored),
            "authority": AUTHORITY,
            "version": VERSION,
        }
        statements += [mistaken, voiding]
    return statements


class BadQuery(ValueError):
    pass


def _agent_key(value: Any) -> tuple[str, ...] | None:
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


class _Store:
    """The statements of the demo organisation, with the LRS's query rules."""

    def __init__(self, statements: list[dict[str, Any]]) -> None:
        self.by_id = {statement["id"]: statement for statement in statements}
        self.voided = {
            s["object"]["id"]
            for s in statements
            if s["verb"]["id"] == VOIDED and s["object"]["objectType"] == "StatementRef"
        }
        stored = [(dt.datetime.fromisoformat(s["stored"]), s["id"], s) for s in statements]
        self.by_stored = [(moment, s) for moment, _id, s in sorted(stored, key=lambda row: (row[0], row[1]))]

    def _matches(self, statement: dict[str, Any], query: _Query, depth: int = 0) -> bool:
        target = statement["object"]
        if target.get("objectType") == "StatementRef" and depth < 10:
            # A statement about a statement matches the non-time filters when its target does.
            referenced = self.by_id.get(target["id"])
            if referenced is not None and self._matches(referenced, query, depth + 1):
                return True
        if query.agent is not None and query.agent not in (_agent_key(statement["actor"]), _agent_key(target)):
            return False
        if query.verb is not None and statement["verb"]["id"] != query.verb:
            return False
        return query.activity is None or target.get("id") == query.activity

    def select(self, query: _Query) -> list[dict[str, Any]]:
        rows = self.by_stored if query.ascending else reversed(self.by_stored)
        return [
            statement
            for moment, statement in rows
            if statement["id"] not in self.voided
            and (query.since is None or moment > query.since)
            and (query.until is None or moment <= query.until)
            and self._matches(statement, query)
        ]


def _numbers(employees: int) -> Iterator[str]:
    return (f"E{i:06d}" for i in range(1, employees + 1))


def _authorised(request: Request, credentials: tuple[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return False
    return secrets.compare_digest(user, credentials[0]) & secrets.compare_digest(password, credentials[1])


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status, headers=headers)


def _statements_endpoint(
    store: _Store, credentials: tuple[str, str], page_size: int
) -> Callable[[Request], Awaitable[Response]]:
    async def statements(request: Request) -> Response:
        if not _authorised(request, credentials):
            return _error(401, "basic authentication required", {"WWW-Authenticate": 'Basic realm="xAPI"'})
        if not request.headers.get("x-experience-api-version", "").startswith("1.0"):
            return _error(400, "the X-Experience-API-Version header is required (1.0.x)")
        params = dict(request.query_params)
        try:
            query = _Query.parse(params)
        except BadQuery as exc:
            return _error(400, str(exc))
        found = store.select(query)
        size = min(query.limit or page_size, page_size)
        page = found[query.cursor : query.cursor + size]
        more = ""
        if query.cursor + size < len(found):
            following = {**params, "cursor": str(query.cursor + size)}
            more = f"{request.url.path}?{urlencode(following)}"
        headers = {
            "X-Experience-API-Version": VERSION,
            "X-Experience-API-Consistent-Through": _iso(dt.datetime.now(dt.UTC)),
        }
        return JSONResponse({"statements": page, "more": more}, headers=headers)

    return statements


def create_app(
    seed: int,
    employees: int,
    credentials: tuple[str, str],
    *,
    today: dt.date | None = None,
    page_size: int = PAGE_SIZE,
) -> Starlette:
    """The LRS of the demo organisation's employees ``E000001``..``E{employees:06d}``."""
    day = today or dt.date.today()
    store = _Store([s for number in _numbers(employees) for s in statements_for(seed, number, day)])
    endpoint = _statements_endpoint(store, credentials, page_size)
    return Starlette(routes=[Route("/xapi/statements", endpoint, methods=["GET"])])
