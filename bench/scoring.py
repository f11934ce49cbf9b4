"""Benchmark: scoring a whole cycle, as a ratio to the bare I/O of the same inputs and outputs.

    .venv/bin/python -m bench.scoring --employees 100000 [--database-url URL] [--repeat N]

The organisation is the demo's (``seed_demo``: the past cycle stays OPEN, full of ratings and metric
values), seeded once and cached as a SQLite file (see ``bench.dataset``); every run starts from a fresh
copy of that file, so every run scores the same OPEN cycle into an empty results table.

* baseline, "bare I/O": in one transaction, the SELECTs ``score_cycle`` issues (cycle, pins, scheme
  items, rater weights, participants, metric values, rating means averaged in SQL) materialised into
  Python, then the same DELETEs and the same INSERTs (one appraisal_results row per participant, read
  back for its id, then one indicator_scores row per scheme item, same columns, executemany in chunks
  of ``WRITE_CHUNK``) with trivial values (constants, the raw inputs) instead of the engine's, committed;
* measured: ``score_cycle(sessionmaker, cycle_id, actor="bench")`` itself.

The ratio is reported only when both wrote the same number of rows. A database given as a server URL
(PostgreSQL) cannot be copied: it is used in place and put back to OPEN between runs (untimed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.dataset import (
    BENCH_ACTOR,
    DEMO_ITEMS,
    Dataset,
    cache_file,
    inspect,
    is_file_database,
    prepare_in_place,
    remove_sqlite,
    reset,
    seeded_sqlite,
    sqlite_url,
)
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import (
    AppraisalResult,
    IndicatorScore,
    utcnow,
)
from hub.domain import CycleState, Grade
from hub.operations.commands import Caller
from hub.operations.cycles import discard_results, locked_cycle, participants, record_transition
from hub.operations.scoring import (
    WRITE_CHUNK,
    CycleScore,
    metric_values_statement,
    pins_statement,
    rater_weights_statement,
    rating_means_statement,
    scheme_items_statement,
    score_cycle,
)

GOAL = 2.0
# The Core tables score_cycle inserts into (a Core executemany, not the ORM's bulk path).
RESULTS = cast(Table, AppraisalResult.__table__)
SCORES = cast(Table, IndicatorScore.__table__)


def say(message: str) -> None:
    print(f"[bench.scoring] {message}", flush=True)


# --- where the time goes: seconds inside the driver, per kind of statement --------------------------


class SqlClock:
    """Wall time inside the DBAPI cursor (SQLite's thread included), per statement verb.

    For SELECTs the aiosqlite adapter fetches every row inside ``execute``, so the figure includes
    the fetch; turning the raw tuples into Row objects is Python time and is not counted here.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.statements: Counter[str] = Counter()
        self.last_end = 0.0
        self._started = 0.0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.seconds.clear()
        self.statements.clear()
        self.last_end = 0.0

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.last_end = time.perf_counter()
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.seconds[verb] += self.last_end - self._started
        self.statements[verb] += 1


@dataclass(slots=True)
class Run:
    """One timed run and what it left in the database."""

    seconds: float
    results: int
    scores: int
    sql: dict[str, float] = field(default_factory=dict)
    commit: float = 0.0  # from the end of the last statement to the return: COMMIT, close
    statements: dict[str, int] = field(default_factory=dict)  # cursor executes per verb

    @property
    def python(self) -> float:
        return self.seconds - sum(self.sql.values()) - self.commit


# --- the baseline: the same reads and writes as score_cycle, no engine ---------------------------------


async def bare_io(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> None:
    """score_cycle's statements with trivial values: the floor any implementation of it pays."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=BENCH_ACTOR, reason=None)
        pins = dict((await session.execute(pins_statement(cycle.id))).all())
        item_rows = (await session.execute(scheme_items_statement(set(pins.values())))).all()
        (await session.execute(rater_weights_statement(set(pins.values())))).all()
        people = await participants(session, cycle, list(pins))
        metric_rows = (await session.execute(metric_values_statement(cycle.id))).all()
        metrics = {(row.employee_id, row.indicator_version_id): row for row in metric_rows}
        rating_rows = (await session.execute(rating_means_statement(cycle.id))).all()
        means: defaultdict[tuple[int, int], dict[str, float]] = defaultdict(dict)
        for ratee_id, indicator_version_id, role, mean in rating_rows:
            means[(ratee_id, indicator_version_id)][role.value] = float(mean)

        items: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
        for row in item_rows:
            items[row.scheme_version_id].append((row.indicator_version_id, row.weight))
        scored = [person for person in people if pins[person.post_id] in items]

        await discard_results(session, cycle.id)
        computed_at = utcnow()
        result_rows = [
            {
                "cycle_id": cycle.id,
                "employee_id": person.employee_id,
                "post_id": person.post_id,
                "department_id": person.department_id,
                "scheme_version_id": pins[person.post_id],
                "total_score": 50.0,
                "grade": Grade.B,
                "rank_in_post": 1,
                "percentile_in_post": 50.0,
                "rank_in_department": 1,
                "percentile_in_department": 50.0,
                "calibrated": False,
                "computed_total": 50.0,
                "computed_grade": Grade.B,
                "computed_at": computed_at,
            }
            for person in scored
        ]
        for start in range(0, len(result_rows), WRITE_CHUNK):
            await session.execute(RESULTS.insert(), result_rows[start : start + WRITE_CHUNK])
        result_ids = dict(
            (
                await session.execute(
                    select(AppraisalResult.employee_id, AppraisalResult.id).where(AppraisalResult.cycle_id == cycle.id)
                )
            ).all()
        )
        score_rows: list[dict[str, Any]] = []
        for person in scored:
            result_id = result_ids[person.employee_id]
            for indicator_version_id, weight in items[pins[person.post_id]]:
                key = (person.employee_id, indicator_version_id)
                metric = metrics.get(key)
                by_role = means.get(key)
                raw = metric.value if metric else (sum(by_role.values()) / len(by_role) if by_role else None)
                score_rows.append(
                    {
                        "result_id": result_id,
                        "indicator_version_id": indicator_version_id,
                        "raw_value": raw,
                        "normalized_score": raw,
                        "weight": weight,
                        "effective_weight": weight,
                        "weighted_score": raw,
                        "provenance_system": metric.system if metric else None,
                        "provenance_metric": metric.metric if metric else None,
                        "provenance_fetched_at": metric.fetched_at if metric else None,
                        "provenance_stale": bool(metric.stale) if metric else False,
                        "provenance_checksum": metric.checksum if metric else None,
                        "inputs": by_role,
                    }
                )
        for start in range(0, len(score_rows), WRITE_CHUNK):
            await session.execute(SCORES.insert(), score_rows[start : start + WRITE_CHUNK])


async def scoring(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> None:
    await score_cycle(sessionmaker, CycleScore(cycle_id), Caller(BENCH_ACTOR))


async def written(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> tuple[int, int]:
    """(appraisal_results, indicator_scores) rows of the cycle."""
    async with sessionmaker() as session:
        results = (
            await session.execute(
                select(func.count()).select_from(AppraisalResult).where(AppraisalResult.cycle_id == cycle_id)
            )
        ).scalar_one()
        scores = (
            await session.execute(
                select(func.count())
                .select_from(IndicatorScore)
                .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
                .where(AppraisalResult.cycle_id == cycle_id)
            )
        ).scalar_one()
    return results, scores


# --- running: a fresh copy (or a reset database) per run ----------------------------------------------

Job = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Target:
    """Where runs happen: copies of a seeded SQLite file, or one database reset between runs."""

    dataset: Dataset
    source: Path | None  # the seeded file to copy per run; None = use dataset.url in place

    def fresh(self) -> tuple[str, Path | None]:
        if self.source is None:
            return self.dataset.url, None
        copy = self.source.with_name(self.source.name + ".run")
        remove_sqlite(copy)
        shutil.copyfile(self.source, copy)
        with copy.open("rb+") as handle:  # nothing left for the kernel to write back while timing
            os.fsync(handle.fileno())
        return sqlite_url(copy), copy


async def timed(target: Target, job: Job, profiler: cProfile.Profile | None = None) -> Run:
    url, copy = target.fresh()
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    clock = SqlClock(engine)
    cycle_id = target.dataset.past_cycle_id
    try:
        async with engine.connect() as connection:  # connect (and set the PRAGMAs) before the clock
            await connection.execute(text("SELECT 1"))
        gc.collect()
        clock.reset()
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        await job(sessionmaker)
        ended = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        sql, last_statement_end, statements = dict(clock.seconds), clock.last_end, dict(clock.statements)
        results, scores = await written(sessionmaker, cycle_id)
        if copy is None:
            await reset(sessionmaker, cycle_id)
    finally:
        await engine.dispose()
        if copy is not None:
            remove_sqlite(copy)
    return Run(ended - started, results, scores, sql, ended - last_statement_end, statements)


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def report(target: Target, baseline: list[Run], measured: list[Run]) -> int:
    base, best = _best(baseline), _best(measured)
    counts = {(run.results, run.scores) for run in baseline + measured}
    dataset = target.dataset
    print()
    print(f"Scoring a cycle: {dataset.employees:,} employees, best of {len(measured)}")
    print("| | bare I/O (baseline) | score_cycle |")
    print("|---|---:|---:|")
    print(f"| seconds | {base.seconds:.2f} | {best.seconds:.2f} |")
    print(f"| appraisal_results rows written | {base.results:,} | {best.results:,} |")
    print(f"| indicator_scores rows written | {base.scores:,} | {best.scores:,} |")
    for verb in sorted(set(base.sql) | set(best.sql)):
        print(f"| in {verb} statements, s | {base.sql.get(verb, 0.0):.2f} | {best.sql.get(verb, 0.0):.2f} |")
    for verb in sorted(set(base.statements) | set(best.statements)):
        print(f"| {verb} statements | {base.statements.get(verb, 0)} | {best.statements.get(verb, 0)} |")
    print(f"| commit (after the last statement), s | {base.commit:.2f} | {best.commit:.2f} |")
    print(f"| Python (the rest), s | {base.python:.2f} | {best.python:.2f} |")
    if len(counts) != 1:
        print(f"\nrow counts differ between runs or from score_cycle's: {sorted(counts)}; no ratio reported")
        return 1
    per_employee = best.scores / best.results if best.results else 0.0
    ratio = best.seconds / base.seconds
    verdict = "holds" if ratio <= GOAL else "does NOT hold"
    print(f"\nindicator scores per employee: {per_employee:.2f}")
    print(f"ratio score_cycle / bare I/O: {ratio:.2f}x (goal <= {GOAL:g}x: {verdict})")
    return 0


async def main_async(args: argparse.Namespace) -> int:
    url: str | None = args.database_url
    build = {"employees": args.employees, "seed": args.seed, "indicators": args.indicators, "say": say}
    if url is None or (is_file_database(url) and not args.in_place):
        path = cache_file(args.employees, args.seed, args.indicators) if url is None else _sqlite_path(url)
        seeded = await seeded_sqlite(path, rebuild=args.rebuild, **build)
        dataset = await inspect(sqlite_url(seeded), args.employees, say)
        source: Path | None = seeded
    else:
        source = None
        await prepare_in_place(url, **build)
        dataset = await inspect(url, args.employees, say)
    target = Target(dataset, source)

    baseline: list[Run] = []
    measured: list[Run] = []
    for n in range(1, args.repeat + 1):
        baseline.append(await timed(target, bare_io_job(dataset.past_cycle_id)))
        measured.append(await timed(target, scoring_job(dataset.past_cycle_id)))
        say(f"run {n}/{args.repeat}: bare I/O {baseline[-1].seconds:.2f} s, score_cycle {measured[-1].seconds:.2f} s")
    status = report(target, baseline, measured)
    if args.profile is not None:
        await profile(target, args.profile)
    return status


def bare_io_job(cycle_id: int) -> Job:
    return lambda sessionmaker: bare_io(sessionmaker, cycle_id)


def scoring_job(cycle_id: int) -> Job:
    return lambda sessionmaker: scoring(sessionmaker, cycle_id)


async def profile(target: Target, path: Path) -> None:
    """One more score_cycle under cProfile (slower than unprofiled); stats saved to ``path``."""
    say("profiling one more score_cycle run with cProfile")
    profiler = cProfile.Profile()
    await timed(target, scoring_job(target.dataset.past_cycle_id), profiler)
    profiler.dump_stats(path)
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(25)
        print(out.getvalue())
    say(f"profile saved to {path} (python -m pstats {path})")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise SystemExit(f"{url} names no database file")
    return Path(database).resolve()


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
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument(
        "--database-url",
        help="a SQLite file to seed (once) and copy per run, or a server database used in place "
        "(seeded when empty, reset between runs); default: a cached file under "
        f"{cache_file(1, 0, 0).parent}",
    )
    parser.add_argument("--in-place", action="store_true", help="reset between runs instead of copying")
    parser.add_argument("--rebuild", action="store_true", help="seed again even if a cached file exists")
    parser.add_argument("--profile", type=Path, help="also profile one score_cycle run; stats to this file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
