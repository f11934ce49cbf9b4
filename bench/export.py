"""Benchmark: the Parquet export of a cycle's results, as a ratio to PostgreSQL's COPY of the same columns.

    .venv/bin/python -m bench.export [--results 100000] [--repeat 5] [--quick] [--server URL]

Issue 15's goal: exporting 100,000 results as Parquet costs at most 2x ``COPY (SELECT ...) TO STDOUT`` of the
same columns. On a database of its own, created on the server and dropped at the end: the demo organisation
(120 employees, seed 7) and ``bench.export_data.add_results`` (synthetic results in the published cycle, no
scoring, seconds). Then, alternating in each repetition (export first in odd ones, COPY first in even ones):

* measured: the export as the endpoint makes it for hr_admin, ``resolvers.export.open_export`` (parameters,
  checks, the audit entry) and ``hub.export.formats.encode`` into Parquet, every byte taken as a response
  would take it;
* baseline: asyncpg's ``copy_from_query`` of the same SELECT (same joins and columns, same order), text format,
  every byte taken the same way.

Both read over one loopback connection to the same server. The best run of each and the median of the
per-repetition ratios are reported; bytes are reported too (Parquet compresses, COPY's text does not).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import time

import asyncpg
from pydantic import SecretStr
from sqlalchemy import make_url

from bench.export_data import add_results
from hub.auth import Principal, Role
from hub.config import Settings
from hub.db.engine import DatabaseTimeouts, create_bounded_engine, create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from hub.export.endpoint import ExportRequest
from hub.export.formats import Format, encode
from resolvers.export import open_export

GOAL = 2.0
TODAY = dt.date(2026, 11, 16)
SECRET = "perfhub-bench-export-secret-0123456789abcdef"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

COPY_SELECT = """
SELECT r.id, r.cycle_id, c.name, r.employee_id, e.employee_no, e.name, d.code, d.name, p.code, p.name, p.family,
       r.total_score, r.grade, r.computed_total, r.computed_grade, r.calibrated, r.rank_in_post,
       r.percentile_in_post, r.rank_in_department, r.percentile_in_department
FROM appraisal_results r
JOIN cycles c ON c.id = r.cycle_id
JOIN employees e ON e.id = r.employee_id
JOIN departments d ON d.id = r.department_id
JOIN posts p ON p.id = r.post_id
WHERE r.cycle_id = {cycle}
ORDER BY r.id
"""
"""The results export's columns (``hub.export.columns.RESULTS``), as one hand-written statement."""


def say(message: str) -> None:
    print(f"[bench.export] {message}", flush=True)


async def _admin(server: str, statement: str) -> None:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def time_export(settings: Settings, cycle: int) -> tuple[float, int]:
    """Seconds and bytes of hr_admin's Parquet export of the cycle, as the endpoint makes it."""
    engine = create_bounded_engine(settings.database_url, DatabaseTimeouts.of(settings))
    try:
        request = ExportRequest(
            dataset="results",
            parameters={"cycleId": [str(cycle)]},
            principal=Principal(subject="bench", roles=frozenset({Role.HR_ADMIN})),
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            today=TODAY,
            request_id="bench",
        )
        async with engine.connect() as connection:  # open the pool's connection untimed, as a served hub has it
            await connection.exec_driver_sql("SELECT 1")
        started = time.perf_counter()
        export = await open_export(request)
        size = 0
        async for chunk in encode(export.batches, export.columns, Format.PARQUET):
            size += len(chunk)
        return time.perf_counter() - started, size
    finally:
        await engine.dispose()


async def time_copy(url: str, cycle: int) -> tuple[float, int]:
    """Seconds and bytes of ``COPY (the same SELECT) TO STDOUT`` through asyncpg."""
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        size = 0

        async def take(data: bytes) -> None:
            nonlocal size
            size += len(data)

        started = time.perf_counter()
        await connection.copy_from_query(COPY_SELECT.format(cycle=int(cycle)), output=take)
        return time.perf_counter() - started, size
    finally:
        await connection.close()


async def run(args: argparse.Namespace) -> int:
    name = f"perfhub_bench_export_{os.getpid()}"
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    await _admin(args.server, f'CREATE DATABASE "{name}"')
    try:
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            await upgrade(engine)
            await build_demo(create_sessionmaker(engine), seed=7, employees=120, today=TODAY)
            cycle = await add_results(create_sessionmaker(engine), args.results)
            async with engine.connect() as connection:
                await connection.exec_driver_sql("ANALYZE")
            say(f"seeded {args.results:,} results in {time.perf_counter() - started:.1f} s (database {name})")
        finally:
            await engine.dispose()
        settings = Settings(database_url=url, demo=False, jwt_secret=SecretStr(SECRET), webhooks=False)
        exports: list[float] = []
        copies: list[float] = []
        ratios: list[float] = []
        for repetition in range(args.repeat):
            if repetition % 2 == 0:
                export_seconds, export_bytes = await time_export(settings, cycle)
                copy_seconds, copy_bytes = await time_copy(url, cycle)
            else:
                copy_seconds, copy_bytes = await time_copy(url, cycle)
                export_seconds, export_bytes = await time_export(settings, cycle)
            exports.append(export_seconds)
            copies.append(copy_seconds)
            ratios.append(export_seconds / copy_seconds)
            say(
                f"run {repetition + 1}: export {export_seconds:.3f} s ({export_bytes:,} bytes Parquet), "
                f"COPY {copy_seconds:.3f} s ({copy_bytes:,} bytes text): {ratios[-1]:.2f}x"
            )
        best = min(exports) / min(copies)
        median = statistics.median(ratios)
        say(
            f"{args.results:,} results: best export {min(exports):.3f} s, best COPY {min(copies):.3f} s; "
            f"ratio of the bests {best:.2f}x, median of the runs' ratios {median:.2f}x (goal <= {GOAL:g}x)"
        )
        return 0 if median <= GOAL else 1
    finally:
        await _admin(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000, help="results added to the published cycle")
    parser.add_argument("--repeat", type=int, default=5, help="alternating repetitions of both")
    parser.add_argument("--quick", action="store_true", help="10,000 results, 3 repetitions")
    parser.add_argument(
        "--server", default=DEFAULT_SERVER, help="a PostgreSQL server URL (asyncpg); its database is not used"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.results, args.repeat = 10_000, 3
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
