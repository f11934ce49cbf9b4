"""Benchmark: ``scoreStatistics`` grouped by post on 100,000 results, against the same GROUP BY by hand.

    .venv/bin/python -m bench.statistics [--results 100000] [--repeat 30] [--quick]

PostgreSQL only (``PERFHUB_BENCH_DATABASE_URL``, default the local server's ``postgres`` database, which is
used only to create and drop the bench's own database). The organisation is the demo's (120 employees, its
posts, departments and schemes); then ``--results`` employees and as many results are added in two
``INSERT ... SELECT FROM generate_series`` statements (seconds, not the demo's minutes) to the demo's current
cycle (OPEN, so without results of its own), spread over the demo's posts with deterministic scores and grades,
and the tables are analysed.

* measured: the query as a client sends it, ``POST /graphql`` as hr_admin, served in process
  (``create_app`` through ``httpx.ASGITransport``: token verification, rate limiter, parsing, validation,
  cost, the resolver's one statement, rounding, JSON), asking every figure: count, mean, stddev, min, max,
  p25/p50/p75/p90 and the grade distribution;
* baseline: the same figures written by hand in one SQL statement (``GROUP BY posts.code`` with
  ``percentile_cont(ARRAY[...])`` and ``count(*) FILTER`` per grade) run through a bare asyncpg connection,
  rows fetched into Python.

The two alternate, the order swapped every round, after warm-up runs of each; the ratio is of the medians.
The two answers are compared (counts and means per post) before anything is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from bench.served import POSTGRES, _admin
from hub.app import create_app
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from hub.demo.organisation import SeedSummary

GOAL = 1.5
SEED = 7
TODAY = dt.date(2026, 11, 16)
SECRET = "perfhub-bench-only-secret-0123456789abcdef"

QUERY = """query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [POST]) {
  key count mean stddev min max p25 p50 p75 p90 grades { grade count } } }"""
# What a person writes by hand for the same figures: one GROUP BY, no privacy rules (hr_admin has none).
BASELINE = """
SELECT p.code, count(*), avg(r.total_score), stddev_pop(r.total_score), min(r.total_score), max(r.total_score),
       percentile_cont(ARRAY[0.25, 0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY r.total_score),
       count(*) FILTER (WHERE r.grade = 'S'), count(*) FILTER (WHERE r.grade = 'A'),
       count(*) FILTER (WHERE r.grade = 'B'), count(*) FILTER (WHERE r.grade = 'C'),
       count(*) FILTER (WHERE r.grade = 'D')
FROM appraisal_results r JOIN posts p ON p.id = r.post_id
WHERE r.cycle_id = $1
GROUP BY p.code
"""
EMPLOYEES = """
INSERT INTO employees (employee_no, name, department_id, post_id, status, created_at, updated_at)
SELECT 'BENCH-' || g, 'Bench ' || g, p.department_id, p.id, 'ACTIVE', now(), now()
FROM generate_series(1, :count) AS g
JOIN (SELECT id, department_id, row_number() OVER (ORDER BY id) - 1 AS n FROM posts) AS p
  ON p.n = g % (SELECT count(*) FROM posts)
"""
# Scores spread over 0-100 by a multiplicative hash; grades by the demo's bands (90/80/70/60).
RESULTS = """
INSERT INTO appraisal_results (cycle_id, employee_id, post_id, department_id, scheme_version_id, total_score, grade,
                               calibrated, computed_total, computed_grade, computed_at)
SELECT :cycle, e.id, e.post_id, e.department_id, s.id, x.score,
       CASE WHEN x.score >= 90 THEN 'S' WHEN x.score >= 80 THEN 'A' WHEN x.score >= 70 THEN 'B'
            WHEN x.score >= 60 THEN 'C' ELSE 'D' END,
       false, x.score,
       CASE WHEN x.score >= 90 THEN 'S' WHEN x.score >= 80 THEN 'A' WHEN x.score >= 70 THEN 'B'
            WHEN x.score >= 60 THEN 'C' ELSE 'D' END,
       now()
FROM employees e
CROSS JOIN LATERAL (SELECT 40 + ((e.id * 7919) % 6001) / 100.0 AS score) AS x
JOIN LATERAL (SELECT id FROM scheme_versions ORDER BY id LIMIT 1) AS s ON true
WHERE e.employee_no LIKE 'BENCH-%'
"""


def say(message: str) -> None:
    print(f"[bench.statistics] {message}", flush=True)


@contextlib.asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A database of the bench's own on the server, dropped afterwards whatever happens."""
    name = f"perfhub_bench_statistics_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(url: str, results: int) -> SeedSummary:
    """The demo organisation, then ``results`` employees with a result each in the past cycle, analysed."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        summary = await build_demo(create_sessionmaker(engine), seed=SEED, employees=120, today=TODAY)
        async with engine.begin() as connection:
            # Into the demo's current cycle, OPEN and so without results: the bench's are the only ones there.
            await connection.execute(text(EMPLOYEES), {"count": results})
            await connection.execute(text(RESULTS), {"cycle": summary.current_cycle_id})
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))
        return summary
    finally:
        await engine.dispose()


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> int:
    async with bench_database() as url:
        began = time.perf_counter()
        summary = await seed(url, args.results)
        cycle = summary.current_cycle_id
        say(f"seeded {args.results:,} results on PostgreSQL in {time.perf_counter() - began:.1f} s")
        settings = Settings(
            database_url=url,
            demo=False,
            demo_systems=False,
            jwt_secret=SecretStr(SECRET),
            worker_process=False,
            webhooks=False,
            rate_limit_per_second=1_000_000.0,
            rate_limit_burst=1_000_000,
            connector_cache_url=None,
        )
        app = create_app(settings, clock=lambda: TODAY, systems=None)
        token = issue_token(settings, role=Role.HR_ADMIN, subject="bench")
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://perfhub.bench") as client,
            ):
                headers = {"Authorization": f"Bearer {token}"}
                body = {"query": QUERY, "variables": {"c": str(cycle)}}

                async def hub() -> object:
                    response = await client.post("/graphql", json=body, headers=headers)
                    response.raise_for_status()
                    return response.json()

                async def baseline() -> object:
                    return await connection.fetch(BASELINE, cycle)

                statements: list[str] = []

                def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
                    statements.append(statement)

                engine = app.state.resources.engine.sync_engine
                event.listen(engine, "before_cursor_execute", record)
                answered = await hub()
                event.remove(engine, "before_cursor_execute", record)
                assert isinstance(answered, dict) and "errors" not in answered, answered
                groups = {tuple(group["key"]): group for group in answered["data"]["scoreStatistics"]}
                rows = await connection.fetch(BASELINE, cycle)
                assert len(groups) == len(rows) and sum(row[1] for row in rows) == args.results
                for row in rows:
                    group = groups[(row[0],)]
                    assert group["count"] == row[1] and abs(group["mean"] - row[2]) <= 0.005, (group, row)
                # The outbox watcher's poll (``max(result_events.id)``) may fall into the window: not the request's.
                reads = [statement for statement in statements if "appraisal_results" in statement]
                say(f"{len(rows)} posts; both answers agree; the request read results in {len(reads)} statement(s):")
                for statement in reads:
                    say("  " + " ".join(statement.split())[:160])
                for _ in range(args.warmup):
                    await hub()
                    await baseline()
                measured: list[float] = []
                base: list[float] = []
                for round_ in range(args.repeat):
                    order = [(hub, measured), (baseline, base)]
                    for action, into in order if round_ % 2 == 0 else reversed(order):
                        into.append(await timed(action))
        finally:
            await connection.close()
    hub_ms, base_ms = statistics.median(measured) * 1000, statistics.median(base) * 1000
    ratio = hub_ms / base_ms
    print()
    print(f"scoreStatistics(groupBy: [POST]) on {args.results:,} results, PostgreSQL, {args.repeat} alternating runs")
    print(f"  baseline, hand-written GROUP BY through asyncpg: median {base_ms:8.2f} ms")
    print(f"  perfhub, POST /graphql in process as hr_admin:   median {hub_ms:8.2f} ms")
    print(f"  ratio {ratio:.2f} (goal <= {GOAL})")
    return 0 if ratio <= GOAL else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.statistics", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10,000 results, 10 runs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.results, args.repeat, args.warmup = 10_000, 10, 2
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
