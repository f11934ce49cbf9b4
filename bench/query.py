"""Benchmark: a page of employees read through GraphQL under access control, as a ratio to a hand-written endpoint.

    .venv/bin/python -m bench.query [--repeat 100] [--first 50] [--employees 120] [--profile FILE]

The organisation is the demo's (``build_demo``, seed 7), seeded once into a temporary SQLite file. The
hub is ``create_app`` with production access control (verified bearer JWTs, the rate limiter switched
on, the document limits, the operation guard, row scope in SQL, field permissions), driven through
``httpx.ASGITransport``: everything runs in one process and one event loop. Cases:

* (a) baseline: ``GET /bench/page``, a hand-written Starlette endpoint added to the same app (same
  transport, same middleware) that reads the page with SQLAlchemy async Core on the hub's own engine
  (employees, then their departments, posts and results: 4 statements on one connection) and answers
  the same JSON as the GraphQL query, through ``JSONResponse``;
* (b) the GraphQL page as hr_admin;
* (c) the same as a manager (E000001, the head of the root department: every employee is in scope, but
  the statements carry the scope's recursive CTE and the ``managed`` column, and every guarded field
  reads the row);
* (d) as (b) without ``employeeNo name``: (b) - (d) is what the two guarded fields cost;
* (e) as (d) with two plain fields in their place (``idA: id idB: id``): (b) - (e) is what the
  permission check adds to a field over strawberry's fast path for a plain attribute.

With ``--compiled`` (``bench/query_compiled.py``), the page as a registered document sent by its hash alone:

* (f) hr_admin, pre-parsed and pre-validated, through the executor (compiled plans off);
* (g) hr_admin, through the page's compiled plan; (h) the manager, through it.

and the time per resolved field (every key of every object in the answer) of (b), (c), (f), (g), (h).

Every case is warmed up untimed, then timed ``--repeat`` times in a rotating order, from the request to
the parsed response; medians are reported. Every warm-up response is checked against the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import strawberry
from graphql import get_operation_ast, parse
from pydantic import SecretStr
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import query_compiled
from bench.served_baseline import read_page
from hub.app import PerfhubGraphQL, Resources, create_app
from hub.auth import Principal, Role, issue_token
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import AppraisalResult, Employee
from hub.demo.build import build_demo
from hub.ratelimit import RateLimiter
from resolvers.context import Context
from resolvers.loaders.results import ResultsByEmployeeLoader
from resolvers.scope import Scope
from schema.limits import CostModel, estimate_cost
from schema.permissions import NAMES

SEED = 7
EMPLOYEES = 120
TODAY = dt.date(2026, 11, 16)  # as bench.federation: the past cycle is PUBLISHED, the current one OPEN
JWT_SECRET = "perfhub-bench-only-secret-0123456789abcdef"
MANAGER = "E000001"
RATE = 1_000_000.0
"""The rate limiter stays on (every request takes a token from its bucket) but never refuses."""
WARM_UP = 5
BASELINE_PATH = "/bench/page"


NODE = "id employeeNo name department { name } post { code name } results { totalScore grade rankInPost }"
NODE_UNGUARDED = "id department { name } post { code name } results { totalScore grade rankInPost }"
NODE_PLAIN = "id idA: id idB: id department { name } post { code name } results { totalScore grade rankInPost }"
GUARDED_FIELDS = ("employeeNo", "name")


def say(message: str) -> None:
    print(f"[bench.query] {message}", flush=True)


def page_query(first: int, node: str) -> str:
    return f"{{ employees(first: {first}) {{ edges {{ node {{ {node} }} }} }} }}"


# --- (a) the baseline: the same page, hand-written -----------------------------------------------------


async def baseline_page(request: Request) -> Response:
    """The portal page with SQLAlchemy async Core and ``JSONResponse``: no GraphQL, no access control."""
    first = int(request.query_params.get("first", "50"))
    resources: Resources = request.app.state.resources
    async with resources.engine.connect() as connection:
        return JSONResponse({"data": await read_page(connection, first)})


# --- cases, counters, timing -----------------------------------------------------------------------------


@dataclass(slots=True)
class Case:
    key: str
    label: str
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    seconds: list[float] = field(default_factory=list)
    statements: int = 0
    checkouts: int = 0
    sql_seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass(slots=True)
class Counters:
    """Statements and pool checkouts on the hub's engine, and wall time inside the driver."""

    statements: int = 0
    checkouts: int = 0
    sql_seconds: float = 0.0
    _started: dict[int, float] = field(default_factory=dict)

    def attach(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            self.statements += 1
            self._started[id(cursor)] = time.perf_counter()

        @event.listens_for(sync_engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            self.sql_seconds += time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())

        @event.listens_for(sync_engine, "checkout")
        def checkout(*_: Any) -> None:
            self.checkouts += 1

    def reset(self) -> None:
        self.statements, self.checkouts, self.sql_seconds = 0, 0, 0.0


def graphql_case(key: str, label: str, query: str, token: str) -> Case:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})

    return Case(key, label, send)


def baseline_case(first: int) -> Case:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(BASELINE_PATH, params={"first": first})

    return Case("a", "baseline: hand-written Starlette + SQLAlchemy Core", send)


async def call(case: Case, client: httpx.AsyncClient) -> dict[str, Any]:
    response = await case.send(client)
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"case ({case.key}) failed ({response.status_code}): {str(body)[:500]}")
    return body


def expected(case: Case, baseline: dict[str, Any]) -> dict[str, Any]:
    """What a case must answer, derived from the baseline's answer."""
    if case.key in ("a", "b", "c", "f", "g", "h"):
        return baseline
    edges = []
    for edge in baseline["data"]["employees"]["edges"]:
        node = {name: value for name, value in edge["node"].items() if name not in GUARDED_FIELDS}
        if case.key == "e":
            node = {"id": node["id"], "idA": node["id"], "idB": node["id"], **node}
        edges.append({"node": node})
    return {"data": {"employees": {"edges": edges}}}


async def measure(cases: list[Case], client: httpx.AsyncClient, counters: Counters, repeat: int, first: int) -> None:
    """Warms every case up (checking its answer), then times each ``repeat`` times in a rotating order."""
    baseline = await call(cases[0], client)
    if len(baseline["data"]["employees"]["edges"]) != first:
        raise RuntimeError(f"the baseline page has {len(baseline['data']['employees']['edges'])} employees")
    for case in cases:
        for _ in range(WARM_UP):
            counters.reset()
            body = await call(case, client)
            if body != expected(case, baseline):
                raise RuntimeError(f"case ({case.key}) answered differently from the baseline: {str(body)[:500]}")
            case.statements, case.checkouts = counters.statements, counters.checkouts
    for n in range(repeat):
        for case in cases[n % len(cases) :] + cases[: n % len(cases)]:
            counters.reset()
            started = time.perf_counter()
            await call(case, client)
            case.seconds.append(time.perf_counter() - started)
            case.sql_seconds.append(counters.sql_seconds)
            if (counters.statements, counters.checkouts) != (case.statements, case.checkouts):
                say(f"({case.key}): statements changed between runs: {counters.statements} vs {case.statements}")


# --- profile -----------------------------------------------------------------------------------------------

REPOSITORY = Path(__file__).resolve().parents[1]
# Access-control functions on the read path, as (label, file fragment, function name) in the profile.
NAMED = [
    ("JWT verification (Authenticator.authenticate)", "hub/auth.py", "authenticate"),
    ("admission: introspection check + rate limiter (_admit)", "hub/app.py", "_admit"),
    ("cost estimate (estimate_cost)", "schema/limits.py", "estimate_cost"),
    ("operation guard (OperationGuard.on_execute)", "schema/operation_guard.py", "on_execute"),
    ("field permissions (strawberry PermissionExtension.resolve)", "strawberry/permission.py", "resolve"),
    ("  of which the rule (RuleCheck.has_permission)", "schema/permissions.py", "has_permission"),
    ("row scope: the managed condition (Scope._managed)", "resolvers/scope.py", "_managed"),
    ("row scope: employee statement (Scope.employee_rows)", "resolvers/scope.py", "employee_rows"),
    ("SQLAlchemy cache keys of the executed statements", "sqlalchemy/sql/cache_key.py", "_generate_cache_key"),
]


def layer(filename: str, function: str) -> str:
    """Which layer a profiled function belongs to."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if path.startswith(str(REPOSITORY)):
        return "perfhub " + path[len(str(REPOSITORY)) + 1 :].split("/", 1)[0] + "/"
    if "/asyncio/" in path or "epoll" in function or "selectors" in path:
        return "asyncio (event loop, tasks, waiting)"
    return "Python builtins and stdlib"


async def profile(case: Case, client: httpx.AsyncClient, runs: int, path: Path) -> None:
    """``runs`` more requests of ``case`` under cProfile; stats to ``path``, a per-request breakdown printed.

    cProfile sees the event loop's thread only (aiosqlite runs SQLite in threads) and inflates code made
    of many small calls (the GraphQL executor) more than the rest: the shares are indicative.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        await call(case, client)
    profiler.disable()
    profiler.dump_stats(path)
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    layers: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        name = layer(filename, function)
        layers[name] = layers.get(name, 0.0) + tottime
    print()
    print(f"Profile of case ({case.key}), {runs} requests under cProfile: {total / runs * 1000:.1f} ms per request")
    print("| layer (own time) | ms per request | share |")
    print("|---|---:|---:|")
    for name, seconds in sorted(layers.items(), key=lambda item: -item[1])[:10]:
        print(f"| {name} | {seconds / runs * 1000:.2f} | {seconds / total:.0%} |")
    print()
    print("| access-control function (cumulative) | calls per request | ms per request | share |")
    print("|---|---:|---:|---:|")
    for label, fragment, name in NAMED:
        # The outermost of the matching entries (a name may wrap a function of the same name).
        calls, cumulative = max(
            (
                (nc, ct)
                for (filename, _line, function), (_cc, nc, _tt, ct, _callers) in raw.items()
                if function == name and fragment in filename.replace("\\", "/")
            ),
            key=lambda entry: entry[1],
            default=(0, 0.0),
        )
        print(f"| {label} | {calls / runs:.0f} | {cumulative / runs * 1000:.2f} | {cumulative / total:.0%} |")
    say(f"profile saved to {path} (python -m pstats {path})")


# --- the access-control steps alone ------------------------------------------------------------------------


def per_call(function: Callable[[], object], number: int) -> float:
    """Seconds per call: the best of 5 batches of ``number`` calls."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - started) / number)
    return best


def scoped_statements(resources: Resources, principal: Principal, first: int) -> Callable[[], object]:
    """What one request builds in its statements from the row scope, up to SQLAlchemy's cache keys.

    The page and count statements as ``resolvers.organisation.employees`` builds them, and the results
    loader's statement; the department and post loaders are not scoped. SQLAlchemy computes every
    executed statement's cache key to find its compiled form, so the keys are part of the cost.
    """
    ids = list(range(1, first + 1))

    def build() -> object:
        scope = Scope(principal)
        page = scope.employee_rows().order_by(Employee.id).limit(first + 1)
        in_scope = scope.employees()
        count = select(func.count()).select_from(Employee).where(*([] if in_scope is None else [in_scope]))
        loader = ResultsByEmployeeLoader(resources.sessionmaker, scope)
        results = loader.statement().where(AppraisalResult.employee_id.in_(set(ids)))
        return [statement._generate_cache_key() for statement in (page, count, results)]

    return build


def access_steps(
    graphql: PerfhubGraphQL, resources: Resources, settings: Settings, header: str, first: int
) -> dict[str, float]:
    """Each access-control step of one caller's read path timed alone, in seconds per request."""
    # The benchmark's settings keep the buckets in this process (no Redis) and the schema is strawberry's.
    assert isinstance(graphql.rate_limiter, RateLimiter)
    assert isinstance(graphql.schema, strawberry.Schema)
    limiter, schema = graphql.rate_limiter, graphql.schema._schema
    document = parse(page_query(first, NODE))
    operation = get_operation_ast(document)
    assert operation is not None
    model = CostModel(
        max_cost=settings.max_cost,
        list_size=settings.cost_list_size,
        system_field=settings.cost_system_field,
        max_page_size=settings.max_page_size,
    )
    row = SimpleNamespace(employee_no="E000002", managed=True)  # what the rule reads of an employee row
    fields = first * len(GUARDED_FIELDS)
    principal = graphql.authenticator.authenticate(header)
    info: Any = SimpleNamespace(  # the one attribute of strawberry's Info that the rule reads
        context=Context(settings=settings, sessionmaker=resources.sessionmaker, today=TODAY, principal=principal)
    )
    return {
        "JWT verification (Authenticator.authenticate)": per_call(
            lambda: graphql.authenticator.authenticate(header), 500
        ),
        "rate limiter (RateLimiter.acquire)": per_call(lambda: limiter.acquire(principal.subject), 5000),
        "cost estimate (estimate_cost)": per_call(lambda: estimate_cost(schema, document, operation, {}, model), 500),
        "operation guard (token expiry)": per_call(
            lambda: principal.expired(dt.datetime.now(dt.UTC), settings.jwt_leeway_seconds), 5000
        ),
        f"field rule NAMES.allows x {fields} (the rule only)": fields * per_call(lambda: NAMES.allows(row, info), 5000),
        "scoped statements built + cache keys (page, count, results)": per_call(
            scoped_statements(resources, principal, first), 100
        ),
    }


def components(app: Starlette, settings: Settings, tokens: dict[str, str], first: int) -> None:
    """Each access-control step of the read path timed alone, in microseconds per request."""
    graphql = next(route.endpoint for route in app.routes if isinstance(route, Route) and route.path == "/graphql")
    assert isinstance(graphql, PerfhubGraphQL)
    resources: Resources = app.state.resources
    steps: dict[str, dict[str, float]] = {}
    for who, token in tokens.items():
        for step, seconds in access_steps(graphql, resources, settings, f"Bearer {token}", first).items():
            steps.setdefault(step, {})[who] = seconds
    print()
    print("Access-control steps timed alone (best of 5 batches), microseconds per request:")
    print(f"| step | {' | '.join(tokens)} |")
    print(f"|---|{'---:|' * len(tokens)}")
    for step, by_role in steps.items():
        print(f"| {step} | {' | '.join(f'{by_role[who] * 1e6:.1f}' for who in tokens)} |")


# --- report --------------------------------------------------------------------------------------------------


def report(cases: dict[str, Case], first: int, employees: int, repeat: int) -> None:
    base = cases["a"].median
    print()
    print(
        f"A page of {first} employees ({employees} in the organisation): median of {repeat} timed runs per case, "
        f"after {WARM_UP} warm-up runs"
    )
    print("| case | median (ms) | min-max (ms) | x baseline | statements | connections | in driver (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in cases.values():
        print(
            f"| ({case.key}) {case.label} | {case.median * 1000:.2f} | {min(case.seconds) * 1000:.2f}-"
            f"{max(case.seconds) * 1000:.2f} | {case.median / base:.2f}x | {case.statements} | {case.checkouts} | "
            f"{statistics.median(case.sql_seconds) * 1000:.2f} |"
        )
    b, c, d, e = (cases[key].median for key in "bcde")
    fields = first * len(GUARDED_FIELDS)
    print()
    print(f"(b)/(a) hr_admin over baseline: {b / base:.2f}x")
    print(f"(c)/(a) manager over baseline:  {c / base:.2f}x   ((c)-(b): {(c - b) * 1000:+.2f} ms)")
    print(
        f"(b)-(d) the {fields} guarded field values (employeeNo, name on {first} employees): {(b - d) * 1000:+.2f} ms, "
        f"{(b - d) / fields * 1e6:+.1f} us per employee field"
    )
    print(
        f"(e)-(d) {fields} plain field values (id twice, aliased) in their place: {(e - d) * 1000:+.2f} ms, "
        f"{(e - d) / fields * 1e6:+.1f} us per employee field"
    )
    print(f"(b)-(e) the permission check over a plain field: {(b - e) / fields * 1e6:+.1f} us per employee field")


# --- main ------------------------------------------------------------------------------------------------------


async def seeded(path: Path, employees: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        await build_demo(create_sessionmaker(engine), seed=SEED, employees=employees, today=TODAY)
    finally:
        await engine.dispose()


async def main_async(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="perfhub-bench-query-") as directory:
        path = Path(directory) / "perfhub.db"
        await seeded(path, args.employees)
        say(f"seeded the demo ({args.employees} employees, seed {SEED}) in {time.perf_counter() - began:.1f} s")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}",
            demo=False,
            demo_systems=False,
            jwt_secret=SecretStr(JWT_SECRET),
            rate_limit_per_second=RATE,
            rate_limit_burst=int(RATE),
            connector_cache_url=None,
        )
        app: Starlette = create_app(settings, clock=lambda: TODAY, systems=None)
        app.router.routes.append(Route(BASELINE_PATH, baseline_page, methods=["GET"]))
        admin = issue_token(settings, role=Role.HR_ADMIN, subject="bench")
        manager = issue_token(settings, role=Role.MANAGER, employee_number=MANAGER)
        first = args.first
        cases = [
            baseline_case(first),
            graphql_case("b", "GraphQL, hr_admin", page_query(first, NODE), admin),
            graphql_case("c", f"GraphQL, manager {MANAGER}", page_query(first, NODE), manager),
            graphql_case("d", "GraphQL, hr_admin, without employeeNo name", page_query(first, NODE_UNGUARDED), admin),
            graphql_case("e", "GraphQL, hr_admin, idA: id idB: id instead", page_query(first, NODE_PLAIN), admin),
        ]
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            others: dict[str, httpx.AsyncClient] = {}
            if args.compiled:
                document = page_query(first, NODE)
                folder = Path(directory) / "documents"
                engines: list[AsyncEngine] = []
                apps = query_compiled.registered_apps(settings, folder, document, lambda: TODAY, engines)
                others = await stack.enter_async_context(apps)
            resources: Resources = app.state.resources
            counters = Counters()
            counters.attach(resources.engine)
            for other in engines if others else []:
                counters.attach(other)
            if others:
                document = page_query(first, NODE)
                cases += [
                    Case(
                        "f",
                        "hash, hr_admin, pre-parsed, executor",
                        query_compiled.by_hash(others["executor"], document, admin),
                    ),
                    Case("g", "hash, hr_admin, compiled plan", query_compiled.by_hash(others["plan"], document, admin)),
                    Case(
                        "h",
                        f"hash, manager {MANAGER}, compiled plan",
                        query_compiled.by_hash(others["plan"], document, manager),
                    ),
                ]
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://perfhub.bench"
            ) as client:
                say(f"timing {len(cases)} cases x {args.repeat} runs")
                planned_before = query_compiled.planned()
                await measure(cases, client, counters, args.repeat, first)
                if others:
                    fields = query_compiled.resolved_fields((await call(cases[0], client))["data"])
                    say(f"compiled plans answered {query_compiled.planned() - planned_before} operations")
                components(app, settings, {"hr_admin": admin, "manager": manager}, first)
                if args.profile is not None:
                    await profile(cases[2 if args.profile_manager else 1], client, args.profile_runs, args.profile)
    report({case.key: case for case in cases}, first, args.employees, args.repeat)
    if args.compiled:
        base = cases[0].median
        print()
        print(f"Per resolved field ({fields} in the answer): median / fields, and (median - baseline) / fields")
        print("| case | us per field | us per field over the baseline |")
        print("|---|---:|---:|")
        for case in cases:
            if case.key in "bcfgh":
                per_field, over = case.median / fields * 1e6, (case.median - base) / fields * 1e6
                print(f"| ({case.key}) {case.label} | {per_field:.2f} | {over:.2f} |")
    print(f"\nrate limiter: on, {RATE:,.0f} requests per second, burst {int(RATE):,} (never refuses)")
    say(f"total {time.perf_counter() - began:.1f} s")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="timed runs of each case; the median is reported")
    parser.add_argument("--first", type=int, default=50, help="employees per page")
    parser.add_argument("--employees", type=int, default=EMPLOYEES, help="employees in the demo organisation")
    parser.add_argument("--profile", type=Path, help="also profile case (b) under cProfile; stats to this file")
    parser.add_argument("--profile-runs", type=int, default=50, help="requests profiled with --profile")
    parser.add_argument("--profile-manager", action="store_true", help="profile case (c) instead of (b)")
    parser.add_argument("--compiled", action="store_true", help="also the page by hash: pre-parsed, and compiled")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not 1 <= args.first <= 500:
        parser.error("--first must be between 1 and 500 (the hub's maximum page size)")
    if args.employees < args.first:
        parser.error("--employees must be at least --first")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse_args())))
