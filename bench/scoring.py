"""Benchmark: scoring a whole cycle, as a ratio to the bare I/O of the same inputs and outputs.

    .venv/bin/python -m bench.scoring --employees 100000 [--database-url URL] [--repeat N]

The organisation is the demo's (``seed_demo``: the past cycle stays OPEN, full of ratings and metric
values), seeded once and cached as a SQLite file (see ``bench.dataset``); every run starts from a fresh
copy of that file, so every run scores the same OPEN cycle into an empty results table.

* baseline, "bare I/O": in one transaction, ``score_cycle``'s own read phase (cycle, pins, scheme
  items, rater weights, participants, metric values, rating means averaged in SQL) into Python, then the
  same DELETEs and the same INSERTs (one appraisal_results row per participant, read back for its id,
  then one indicator_scores row per scheme item, same columns, executemany in chunks of
  ``WRITE_CHUNK``) with trivial values (constants, the raw inputs) instead of the engine's, committed;
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
import pstats
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.dataset import (
    BENCH_ACTOR,
    DEMO_ITEMS,
    Target,
    cache_file,
    open_target,
    remove_sqlite,
    reset,
)
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import AppraisalResult, IndicatorScore, utcnow
from hub.domain import CycleState, Grade

# The baseline runs score_cycle's own read phase and chunked insert (private to the operation: nothing
# but this benchmark needs them apart from score_cycle).
from hub.operations import scoring as scoring_phases
from hub.operations.batches import execute_in_chunks
from hub.operations.commands import Caller
from hub.operations.cycles import discard_results, locked_cycle, record_transition
from hub.operations.scoring import CycleScore, score_cycle
from hub.operations.scoring_inputs import read_inputs

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
    """score_cycle's statements with trivial values: the floor any implementation of it pays.

    The reads are score_cycle's own read phase (the same statements, the same partitions), so the two
    cannot drift apart; the writes are the same rows, in the same chunks, with constants instead of the
    engine's values.
    """
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id)
        record_transition(session, cycle, CycleState.SCORED, actor=BENCH_ACTOR, reason=None)
        inputs = await read_inputs(session, cycle)
        scored = [person for person in inputs.people if inputs.pins[person.post_id] in inputs.schemes]

        await discard_results(session, cycle.id)
        computed_at = utcnow()
        result_rows = [
            {
                "cycle_id": cycle.id,
                "employee_id": person.employee_id,
                "post_id": person.post_id,
                "department_id": person.department_id,
                "scheme_version_id": inputs.pins[person.post_id],
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
        await execute_in_chunks(session, insert(RESULTS), result_rows)
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
            compiled = inputs.schemes[inputs.pins[person.post_id]].compiled
            for indicator_version_id, weight in zip(compiled.ids, compiled.weights, strict=True):
                key = (person.employee_id, indicator_version_id)
                metric = inputs.metrics.get(key)
                by_role = inputs.ratings.get(key)
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
                        "inputs": scoring_phases._rating_inputs(by_role),
                    }
                )
        await execute_in_chunks(session, insert(SCORES), score_rows)


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
    target = await open_target(args, say, in_place=args.in_place)
    dataset = target.dataset

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


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse_args())))
