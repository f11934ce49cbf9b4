"""Benchmark: perfhub as served (uvicorn, loopback) against hand-written endpoints, driven by wrk (issue 16).

    .venv/bin/python -m bench.served [--employees N ...] [--large] [--seconds 5] [--rounds 2]
        [--concurrency 1 8 32] [--no-sqlite] [--output FILE]

For each database — PostgreSQL at 10,000 employees (``--large`` adds 100,000; ``--employees 2000`` for a quick
run), each in a bench database this creates, seeds with the demo (``build_demo``, which ends with ``ANALYZE``)
and drops, and the SQLite demo (120 employees) — it starts two servers on loopback, one process each, both
under uvicorn with its defaults (uvloop): perfhub (``hub.served:worker_app``, as ``perfhub serve`` runs it:
production access control, the rate limiter on but never refusing, its h11 protocol with the header
deadline) and ``bench.served_baseline``
(hand-written Starlette + SQLAlchemy Core, same SQL semantics). Every case's answers are checked byte for
byte before any timing. Then, per case and concurrency (open connections), it alternates the two servers
``--rounds`` times, each run ``--seconds`` long after a short untimed warm-up, with wrk in a process of its
own (installed with apt-get when missing; else ``bench.load``'s Python generator: the report says which),
and reports the medians of req/s, p50 and p99 and the ratio perfhub / hand-written.

Cases: the portal page of 50 (``bench.query``'s) as hr_admin and as a manager (E000001, the root
department's head: every employee in scope, through the reporting line's recursive CTE), the same page sent by
the hash of ``bench/documents/PortalPage.graphql`` (registered by PERFHUB_PERSISTED_DOCUMENTS: its compiled
plan, ``schema/compiled.py``) as both, and the employee
detail (department, post, manager, results with their cycles), as hr_admin, and the README's first query
(``bench/served_readme.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import make_url, select, text

from bench.load import Load, Request, find_wrk, run_python, run_wrk
from bench.query import MANAGER, NODE, page_query
from bench.served_readme import readme_query
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import AppraisalResult, Employee
from hub.demo.build import build_demo
from hub.persisted import sha256_hex

SEED = 7
TODAY = dt.date(2026, 11, 16)  # as bench.query: the past cycle PUBLISHED, the current one OPEN
SECRET = "perfhub-bench-only-secret-0123456789abcdef"
PAGE = 50
DETAIL = (
    "query Detail($id: ID!) { employee(id: $id) { id employeeNo name department { name } post { code name } "
    "manager { employeeNo name } results { cycle { name } totalScore grade rankInPost } } }"
)
DOCUMENTS = Path(__file__).parent / "documents"
"""The portal's registered documents (PERFHUB_PERSISTED_DOCUMENTS): PortalPage.graphql is the page of NODE."""
POSTGRES = os.environ.get("PERFHUB_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
"""The server's maintenance database: the bench creates and drops its own databases beside it."""


HUB_PROTOCOL = "hub.http_protocol:HeaderTimeoutH11Protocol"
"""perfhub serve's HTTP protocol (h11, with its header deadline); the hand-written side gets uvicorn's default
(httptools, with uvicorn[standard])."""


def say(message: str) -> None:
    print(f"[bench.served] {message}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Case:
    name: str
    perfhub: Request
    baseline: Request
    runs: dict[tuple[str, int], list[Load]] = field(default_factory=dict)
    """(side, concurrency) -> the timed runs."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def server(app: str, env: dict[str, str], ready_path: str, *options: str) -> Iterator[str]:
    """One uvicorn process serving ``app`` (a factory) on a free loopback port; its base URL while it runs."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--port", str(port), *options]
    command += ["--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine imports the hub slowly
        while True:
            try:
                status = httpx.get(base + ready_path, timeout=5).status_code
            except httpx.TransportError:
                status = None
            if status is not None and status < 500:
                break
            if status is not None:
                raise RuntimeError(f"{app}: {ready_path} answered {status}")
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


async def seed(url: str, employees: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await build_demo(create_sessionmaker(engine), seed=SEED, employees=employees, today=TODAY)
    finally:
        await engine.dispose()


async def detail_id(url: str) -> int:
    """An employee with a manager and results: the detail reads every part."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            scored = select(AppraisalResult.employee_id)
            key = await connection.scalar(
                select(Employee.id)
                .where(Employee.manager_id.is_not(None), Employee.id.in_(scored))
                .order_by(Employee.id)
            )
    finally:
        await engine.dispose()
    assert key is not None
    return int(key)


async def _admin(*statements: str) -> None:
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def postgres_database(employees: int) -> Iterator[str]:
    name = f"perfhub_bench_served_{employees}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        started = time.perf_counter()
        asyncio.run(seed(url, employees))
        say(f"seeded {employees} employees on PostgreSQL in {time.perf_counter() - started:.0f} s")
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="perfhub-bench-served-") as directory:
        url = f"sqlite+aiosqlite:///{directory}/perfhub.db"
        asyncio.run(seed(url, 120))
        yield url


def cases(perfhub: str, baseline: str, settings: Settings, detail: int) -> list[Case]:
    def graphql(query: str, token: str, variables: dict[str, str] | None = None) -> Request:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = (("Content-Type", "application/json"), ("Authorization", f"Bearer {token}"))
        return Request(f"{perfhub}/graphql", body, headers)

    def by_hash(document: str, token: str, variables: dict[str, object]) -> Request:
        """A registered document (bench/documents/, PERFHUB_PERSISTED_DOCUMENTS) by its hash alone."""
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
        body = json.dumps({"variables": variables, "extensions": extensions}).encode()
        headers = (("Content-Type", "application/json"), ("Authorization", f"Bearer {token}"))
        return Request(f"{perfhub}/graphql", body, headers)

    admin = issue_token(settings, role=Role.HR_ADMIN, subject="bench")
    manager = issue_token(settings, role=Role.MANAGER, employee_number=MANAGER)
    page = page_query(PAGE, NODE)
    registered = (DOCUMENTS / "PortalPage.graphql").read_text(encoding="utf-8")
    detail_document = (DOCUMENTS / "EmployeeDetail.graphql").read_text(encoding="utf-8")
    return [
        Case(
            "portal page of 50 by hash (compiled plan), hr_admin",
            by_hash(registered, admin, {"first": PAGE}),
            Request(f"{baseline}/page?first={PAGE}"),
        ),
        Case(
            "portal page of 50 by hash (compiled plan), manager",
            by_hash(registered, manager, {"first": PAGE}),
            Request(f"{baseline}/page?first={PAGE}&manager={MANAGER}"),
        ),
        Case("portal page of 50, hr_admin", graphql(page, admin), Request(f"{baseline}/page?first={PAGE}")),
        Case(
            "portal page of 50, manager",
            graphql(page, manager),
            Request(f"{baseline}/page?first={PAGE}&manager={MANAGER}"),
        ),
        Case("employee detail", graphql(DETAIL, admin, {"id": str(detail)}), Request(f"{baseline}/employee/{detail}")),
        Case(
            "employee detail by hash (compiled plan)",
            by_hash(detail_document, admin, {"id": str(detail)}),
            Request(f"{baseline}/employee/{detail}"),
        ),
        Case("README's first query", graphql(readme_query(), admin), Request(f"{baseline}/readme")),
    ]


def fetch(request: Request) -> bytes:
    method = "GET" if request.body is None else "POST"
    response = httpx.request(method, request.url, content=request.body, headers=dict(request.headers), timeout=60)
    response.raise_for_status()
    return response.content


def check(case: Case) -> None:
    """Both sides answer the same bytes (and no errors): otherwise the timings would compare different work."""
    ours, theirs = fetch(case.perfhub), fetch(case.baseline)
    if ours != theirs or b'"errors"' in ours:
        raise RuntimeError(f"{case.name}: answers differ\n perfhub: {ours[:400]!r}\n by hand: {theirs[:400]!r}")


def measure(all_cases: list[Case], args: argparse.Namespace, wrk: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="perfhub-bench-load-") as scratch:

        def load(request: Request, seconds: float, connections: int) -> Load:
            if wrk is not None:
                return run_wrk(wrk, request, seconds, connections, Path(scratch))
            return run_python(request, seconds, connections, Path(scratch))

        for case in all_cases:
            for connections in args.concurrency:
                for side in ("perfhub", "baseline"):
                    load(getattr(case, side), 1, connections)  # warm-up: pools, caches, the allocator
                for round_ in range(args.rounds):
                    sides = ("perfhub", "baseline") if round_ % 2 == 0 else ("baseline", "perfhub")
                    for side in sides:
                        run = load(getattr(case, side), args.seconds, connections)
                        if run.failed:
                            say(f"{case.name} ({side}, c={connections}): {run.failed} failed requests")
                        case.runs.setdefault((side, connections), []).append(run)
                ours, theirs = case.runs[("perfhub", connections)], case.runs[("baseline", connections)]
                say(
                    f"{case.name}, c={connections}: perfhub {_median(ours, 'requests_per_second'):.1f} req/s, "
                    f"by hand {_median(theirs, 'requests_per_second'):.1f} req/s"
                )


def _median(runs: list[Load], attribute: str) -> float:
    return float(statistics.median(float(getattr(run, attribute)) for run in runs))


def _ratio(rate: float, base: float) -> str:
    # A side that answered nothing in its runs (every request failed or timed out) has no ratio; the table
    # still prints, so that a long run's other cells are not lost with it.
    return f"{rate / base:.2f}" if base > 0 else "n/a"


def table(database: str, all_cases: list[Case], concurrency: list[int]) -> list[str]:
    lines = [
        f"**{database}**",
        "",
        "| case | c | perfhub req/s | p50 ms | p99 ms | by hand req/s | p50 ms | p99 ms | perfhub / by hand |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in all_cases:
        for connections in concurrency:
            ours, theirs = case.runs[("perfhub", connections)], case.runs[("baseline", connections)]
            rate, base = _median(ours, "requests_per_second"), _median(theirs, "requests_per_second")
            lines.append(
                f"| {case.name} | {connections} | {rate:.1f} | {_median(ours, 'p50_ms'):.1f} | "
                f"{_median(ours, 'p99_ms'):.1f} | {base:.1f} | {_median(theirs, 'p50_ms'):.1f} | "
                f"{_median(theirs, 'p99_ms'):.1f} | {_ratio(rate, base)} |"
            )
    return [*lines, ""]


def bench_database(label: str, url: str, args: argparse.Namespace, wrk: str | None) -> list[str]:
    settings = Settings(database_url=url, jwt_secret=SecretStr(SECRET), demo=False)
    hub_env = {
        "PERFHUB_DATABASE_URL": url,
        "PERFHUB_JWT_SECRET": SECRET,
        "PERFHUB_DEMO": "false",
        "PERFHUB_DEMO_SYSTEMS": "false",
        # On, as served, but never refusing: every request still takes a token from its bucket.
        "PERFHUB_RATE_LIMIT_PER_SECOND": "1000000",
        "PERFHUB_RATE_LIMIT_BURST": "1000000",
        # The portal's documents, registered: the "by hash" cases run the page's compiled plan (the others send
        # texts that are not registered, and run through the executor as before).
        "PERFHUB_PERSISTED_DOCUMENTS": str(DOCUMENTS),
    }
    detail = asyncio.run(detail_id(url))
    with (
        server("hub.served:worker_app", hub_env, "/healthz", "--http", HUB_PROTOCOL) as perfhub,
        server("bench.served_baseline:create_app", {"BENCH_DATABASE_URL": url}, "/page?first=1") as baseline,
    ):
        all_cases = cases(perfhub, baseline, settings, detail)
        for case in all_cases:
            check(case)
        say(f"{label}: every case answers the same bytes on both sides; timing")
        measure(all_cases, args, wrk)
    return table(label, all_cases, args.concurrency)


def environment(wrk: str | None) -> list[str]:
    load_generator = "Python (bench.load, httpx)"
    if wrk is not None:
        load_generator = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    packages = ("strawberry-graphql", "graphql-core", "sqlalchemy", "asyncpg", "uvicorn", "uvloop", "starlette")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return [
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
        f"- Python {platform.python_version()}; " + ", ".join(f"{name} {version(name)}" for name in packages),
        f"- perfhub at {commit}; load generator: {load_generator}, one thread, in a process of its own",
    ]


def main(args: argparse.Namespace) -> int:
    # SIGTERM as Ctrl-C: the servers stop and the bench databases are dropped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    wrk = find_wrk()
    say(f"load generator: {'wrk at ' + wrk if wrk else 'Python fallback (wrk unavailable)'}")
    report = [*environment(wrk), ""]
    for employees in args.employees:
        with postgres_database(employees) as url:
            report += bench_database(f"PostgreSQL, {employees:,} employees", url, args, wrk)
    if args.sqlite:
        with sqlite_database() as url:
            report += bench_database("SQLite demo, 120 employees", url, args, wrk)
    text_ = "\n".join(report)
    print(text_)
    if args.output is not None:
        args.output.write_text(text_ + "\n", encoding="utf-8")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.served", description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, action="append", help="PostgreSQL sizes (default 10000)")
    parser.add_argument("--large", action="store_true", help="also 100,000 employees")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one timed run")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per side, alternating")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="open connections")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite demo")
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    args.employees = (args.employees or [10_000]) + ([100_000] if args.large else [])
    if min(args.employees) < PAGE or args.rounds < 1 or min(args.concurrency) < 1:
        parser.error("--employees must be at least 50, --rounds and --concurrency at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main(parse_args()))
