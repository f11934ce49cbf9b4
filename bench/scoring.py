"""Benchmark: scoring a whole cycle on PostgreSQL, as a ratio to the database's floor (COPY of the same rows).

    .venv/bin/python -m bench.scoring --employees 100000 --database-url postgresql+asyncpg://.../DB [--repeat N]

The organisation is the demo's (``seed_demo``: the past cycle stays OPEN, full of ratings and metric values,
widened to 10 indicators per scheme by ``bench.dataset``), seeded into the database when it is empty and used in
place: every run is put back to OPEN afterwards (untimed).

* measured: ``score_cycle`` itself (reads, the engine, COPY of the rows, the transition and its audit entry);
* the floor: in one transaction, the same cycle lock and transition, the same read statements run with asyncpg
  (no SQLAlchemy rows, the whole cycle at once), the same DELETEs, then asyncpg's COPY of the *same rows* (every
  column and value of what a first ``score_cycle`` wrote, ids included, fetched by the benchmark beforehand), one
  COPY per table, into the same tables with the same constraints and indexes;
* the floor without foreign keys: the same, in a scratch copy of the database (``CREATE DATABASE ... TEMPLATE``)
  whose appraisal_results and indicator_scores have their foreign keys dropped: the difference is what checking
  them costs.

The ratio is reported only when every run wrote the same number of rows. Peak memory (VmHWM) is measured
in a child process that scores the cycle once (``--peak-rss``), beside one that only imports and connects.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from sqlalchemy import ClauseElement, func, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

from bench.dataset import BENCH_ACTOR, DEMO_ITEMS, open_target, reset
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import AppraisalResult, IndicatorScore
from hub.domain import CycleState
from hub.operations.commands import Caller
from hub.operations.cycles import discard_results, locked_cycle, record_transition
from hub.operations.participation import participants_statement
from hub.operations.scoring import CycleScore, score_cycle
from hub.operations.scoring_inputs import (
    metric_values_statement,
    pins_statement,
    rater_weights_statement,
    rating_means_statement,
    scheme_items_statement,
)
from hub.operations.scoring_rows import RESULT_COLUMNS, SCORE_COLUMNS

GOAL = 1.3
Sessions = async_sessionmaker[AsyncSession]
Job = Callable[[Sessions], Awaitable[None]]
FOREIGN_KEYS = """SELECT conrelid::regclass::text, conname FROM pg_constraint
    WHERE contype = 'f' AND conrelid IN ('appraisal_results'::regclass, 'indicator_scores'::regclass)"""


def say(message: str) -> None:
    print(f"[bench.scoring] {message}", flush=True)


@dataclass(frozen=True, slots=True)
class Rows:
    """What a first score_cycle wrote, every column (ids included), in the order it wrote them."""

    results: list[tuple[object, ...]]
    scores: list[tuple[object, ...]]


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert isinstance(driver, asyncpg.Connection), "the floor is PostgreSQL's, through asyncpg"
    return driver


async def _fetch(session: AsyncSession, driver: asyncpg.Connection, statement: ClauseElement) -> list[asyncpg.Record]:
    """``statement`` run by asyncpg itself: the SQL SQLAlchemy compiles, the parameters as it would bind them."""
    compiled = cast(
        SQLCompiler,
        statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}),
    )
    params = compiled.construct_params() or {}
    processors: dict[str, Any] = dict(compiled._bind_processors)  # bound as SQLAlchemy binds
    names = compiled.positiontup or ()
    args = [processors[name](params[name]) if name in processors else params[name] for name in names]
    fetched: list[asyncpg.Record] = await driver.fetch(compiled.string, *args)
    return fetched


async def fetch_rows(sessionmaker: Sessions, cycle_id: int) -> Rows:
    async with sessionmaker() as session:
        driver = await _driver(session)
        results = await driver.fetch(
            f"SELECT id, {', '.join(RESULT_COLUMNS)} FROM appraisal_results WHERE cycle_id = $1 ORDER BY id", cycle_id
        )
        scores = await driver.fetch(
            # inputs as the JSON text stored (SQLAlchemy's codec on the connection would hand a dict back)
            f"SELECT s.id, {', '.join('s.' + c for c in SCORE_COLUMNS)}::text FROM indicator_scores s "
            "JOIN appraisal_results r ON r.id = s.result_id WHERE r.cycle_id = $1 ORDER BY s.id",
            cycle_id,
        )
    return Rows([tuple(row) for row in results], [tuple(row) for row in scores])


async def floor(sessionmaker: Sessions, cycle_id: int, rows: Rows) -> None:
    """The database's floor for scoring the cycle: its reads, and COPY of rows produced beforehand."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=BENCH_ACTOR, reason=None)
        driver = await _driver(session)
        pins = {row[0]: row[1] for row in await _fetch(session, driver, pins_statement(cycle_id))}
        await _fetch(session, driver, scheme_items_statement(set(pins.values())))
        await _fetch(session, driver, rater_weights_statement(set(pins.values())))
        people = await _fetch(session, driver, participants_statement(cycle, list(pins)))
        first, last = people[0][0], people[-1][0]
        await _fetch(session, driver, metric_values_statement(cycle_id, first, last))
        await _fetch(session, driver, rating_means_statement(cycle_id, first, last))
        await discard_results(session, cycle_id)
        await driver.copy_records_to_table("appraisal_results", records=rows.results, columns=["id", *RESULT_COLUMNS])
        await driver.copy_records_to_table("indicator_scores", records=rows.scores, columns=["id", *SCORE_COLUMNS])


async def scoring(sessionmaker: Sessions, cycle_id: int) -> None:
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller(BENCH_ACTOR))


async def written(sessionmaker: Sessions, cycle_id: int) -> tuple[int, int]:
    """(appraisal_results, indicator_scores) rows of the cycle."""
    async with sessionmaker() as session:
        results = await session.scalar(
            select(func.count()).select_from(AppraisalResult).where(AppraisalResult.cycle_id == cycle_id)
        )
        scores = await session.scalar(
            select(func.count())
            .select_from(IndicatorScore)
            .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
            .where(AppraisalResult.cycle_id == cycle_id)
        )
    return int(results or 0), int(scores or 0)


@dataclass(slots=True)
class Run:
    seconds: float
    results: int
    scores: int


async def timed(url: str, cycle_id: int, job: Job) -> Run:
    """One run of ``job`` on a connected engine, what it wrote counted, then the cycle put back to OPEN (untimed)."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        async with engine.connect() as connection:  # a fresh start for both: no dead rows of the previous run
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE appraisal_results, indicator_scores"))
        gc.collect()
        started = time.perf_counter()
        await job(sessionmaker)
        seconds = time.perf_counter() - started
        results, scores = await written(sessionmaker, cycle_id)
        await reset(sessionmaker, cycle_id)
    finally:
        await engine.dispose()
    return Run(seconds, results, scores)


async def _admin(url: str, *statements: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await autocommit.execute(text(statement))
    finally:
        await engine.dispose()


async def scratch_without_foreign_keys(url: str) -> str:
    """A copy of the database whose result tables have no foreign keys (dropped first if it exists)."""
    source = make_url(url)
    name = f"{source.database}_nofk"
    await _admin(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'
    )
    scratch = source.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(scratch)
    try:
        async with engine.begin() as connection:
            for table, constraint in (await connection.execute(text(FOREIGN_KEYS))).all():
                await connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'))
    finally:
        await engine.dispose()
    return scratch


def peak_rss(url: str, cycle_id: int, *, score: bool) -> int:
    """The peak resident memory (bytes) of a child process that connects and scores the cycle (or only connects)."""
    mode = "score" if score else "idle"
    out = subprocess.run(
        [sys.executable, "-m", "bench.scoring", "--peak-rss", mode, "--database-url", url, "--cycle", str(cycle_id)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["peak_rss_kib"]) * 1024


async def child(url: str, cycle_id: int, mode: str) -> None:
    engine = create_engine(url)
    try:
        if mode == "score":
            await scoring(create_sessionmaker(engine), cycle_id)
        else:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    print(json.dumps({"peak_rss_kib": _high_water_kib()}))


def _high_water_kib() -> int:
    """The process's peak resident memory: VmHWM, which starts afresh at exec (``ru_maxrss`` does not on Linux: a
    child started by a parent holding a gigabyte would report the parent's gigabyte)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(runs: dict[str, list[Run]], rss: tuple[int, int], employees: int) -> int:
    counts = {(run.results, run.scores) for kind in runs.values() for run in kind}
    best = {kind: min(run.seconds for run in kind_runs) for kind, kind_runs in runs.items()}
    median = {kind: _median([run.seconds for run in kind_runs]) for kind, kind_runs in runs.items()}
    print(f"\nScoring a cycle of {employees:,} employees on PostgreSQL, {len(runs['scoring'])} runs each, alternating")
    print("| | COPY floor | COPY floor without foreign keys | score_cycle |")
    print("|---|---:|---:|---:|")
    print(f"| best, s | {best['floor']:.2f} | {best['nofk']:.2f} | {best['scoring']:.2f} |")
    print(f"| median, s | {median['floor']:.2f} | {median['nofk']:.2f} | {median['scoring']:.2f} |")
    results, scores = sorted(counts)[0]
    print(f"\nrows written per run: {results:,} appraisal_results, {scores:,} indicator_scores")
    idle, scored = rss
    print(f"peak RSS of a child process: {scored / 2**20:,.0f} MiB scoring, {idle / 2**20:,.0f} MiB only connecting")
    if len(counts) != 1:
        print(f"row counts differ between runs: {sorted(counts)}; no ratio reported")
        return 1
    ratio = best["scoring"] / best["floor"]
    share = (best["floor"] - best["nofk"]) / best["floor"]
    print(f"foreign-key checking: {share:.0%} of the floor (best runs)")
    verdict = "holds" if ratio <= GOAL else "does NOT hold"
    print(f"ratio score_cycle / COPY floor: {ratio:.2f}x best, {median['scoring'] / median['floor']:.2f}x median")
    print(f"(goal <= {GOAL:g}x: {verdict})")
    return 0


async def main_async(args: argparse.Namespace) -> int:
    if args.peak_rss:
        await child(args.database_url, args.cycle, args.peak_rss)
        return 0
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("the floor is PostgreSQL's COPY: give --database-url postgresql+asyncpg://...")
    target = await open_target(args, say, in_place=True)
    url, cycle_id = target.dataset.url, target.dataset.past_cycle_id
    say("scoring once to fetch the rows the floor copies (untimed)")
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await scoring(sessionmaker, cycle_id)
        rows = await fetch_rows(sessionmaker, cycle_id)
        await reset(sessionmaker, cycle_id)
    finally:
        await engine.dispose()
    say(f"{len(rows.results):,} results and {len(rows.scores):,} indicator scores; copying the database without FKs")
    scratch = await scratch_without_foreign_keys(url)
    runs: dict[str, list[Run]] = {"floor": [], "nofk": [], "scoring": []}
    for n in range(1, args.repeat + 1):
        runs["floor"].append(await timed(url, cycle_id, lambda s: floor(s, cycle_id, rows)))
        runs["nofk"].append(await timed(scratch, cycle_id, lambda s: floor(s, cycle_id, rows)))
        runs["scoring"].append(await timed(url, cycle_id, lambda s: scoring(s, cycle_id)))
        say(
            ", ".join(f"{kind} {kind_runs[-1].seconds:.2f} s" for kind, kind_runs in runs.items())
            + f" ({n}/{args.repeat})"
        )
    say("peak memory: a child process scores the cycle once")
    rss = (peak_rss(url, cycle_id, score=False), peak_rss(url, cycle_id, score=True))
    await _reset_url(url, cycle_id)
    if not args.keep_scratch:
        await _admin(url, f'DROP DATABASE IF EXISTS "{make_url(scratch).database}" WITH (FORCE)')
    print(f"load average before the report: {os.getloadavg()}")
    return report(runs, rss, target.dataset.employees)


async def _reset_url(url: str, cycle_id: int) -> None:
    engine = create_engine(url)
    try:
        await reset(create_sessionmaker(engine), cycle_id)
    finally:
        await engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--indicators",
        type=int,
        default=10,
        help=f"items per scheme of the scored cycle (the demo seeds {DEMO_ITEMS}; more are added)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PERFHUB_BENCH_DATABASE_URL"),
        help="a PostgreSQL database used in place (seeded when empty, reset between runs)",
    )
    parser.add_argument("--rebuild", action="store_true", help="(SQLite files only; unused here)")
    parser.add_argument("--keep-scratch", action="store_true", help="keep the copy without foreign keys")
    parser.add_argument("--peak-rss", choices=("score", "idle"), help=argparse.SUPPRESS)
    parser.add_argument("--cycle", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse_args())))
