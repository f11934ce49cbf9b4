"""The benchmark organisation: the demo seeded once per (employees, seed, indicators), cached as a file.

``seed_demo`` leaves the past cycle OPEN with its ratings and metric values, ready to be scored. The
demo's schemes have 5 items (3 people-rated core indicators, 2 extension indicators of the post's
family); ``widen_past_cycle`` brings every scheme the past cycle pins to ``indicators`` items by adding
extension indicators of the other families, with equal weights re-normalised to 100 and a metric value
per participant drawn by the demo's own ``demo_metric_value`` (about 2% missing, as in the demo).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.console import ConsoleProgress
from hub.db.engine import create_engine, create_sessionmaker, is_sqlite
from hub.db.migrate import alembic_config, upgrade
from hub.db.models import (
    Cycle,
    CycleScheme,
    Employee,
    IndicatorVersion,
    MetricValue,
    SchemeItem,
)
from hub.demo.organisation import seed_demo
from hub.demo.values import demo_metric_value, metric_checksum
from hub.domain import MANUAL_SOURCE, CycleState
from hub.operations.commands import Caller
from hub.operations.cycles import CycleReopen, reopen_cycle
from hub.operations.participation import participants

# A fixed "today" so that the same (employees, seed) always gives the same rows, whatever the date.
TODAY = dt.date(2025, 5, 15)
DEMO_ITEMS = 5  # 3 core + 2 extension items per scheme, as the demo seeds them
WEIGHT_TOTAL = 100
INSERT_CHUNK = 5_000
BENCH_ACTOR = "bench"
# Bump when the way this module builds the database changes, so stale cache files are not reused.
DATASET_VERSION = 1

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A seeded database and the cycle to score in it."""

    url: str
    past_cycle_id: int
    employees: int
    items_per_scheme: int


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def cache_dir() -> Path:
    """Where seeded files are kept between runs: outside the repository, so git never sees them."""
    override = os.environ.get("PERFHUB_BENCH_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perfhub-bench"


def cache_file(employees: int, seed: int, indicators: int) -> Path:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    name = f"scoring-e{employees}-s{seed}-i{indicators}-m{head}-v{DATASET_VERSION}.db"
    return cache_dir() / name


async def find_past_cycle(session: AsyncSession) -> int:
    """The demo's past cycle: the earlier of its two cycles."""
    cycle_id = (
        await session.execute(select(Cycle.id).order_by(Cycle.period_start, Cycle.id).limit(1))
    ).scalar_one_or_none()
    if cycle_id is None:
        raise RuntimeError("the database has no cycle; seed it first")
    return cycle_id


def _even_weights(parts: int) -> list[float]:
    # Whole numbers adding up to exactly 100; the first items take the remainder.
    share, rest = divmod(WEIGHT_TOTAL, parts)
    return [float(share + (1 if i < rest else 0)) for i in range(parts)]


async def widen_past_cycle(
    sessionmaker: async_sessionmaker[AsyncSession], *, seed: int, indicators: int, say: Say
) -> int:
    """Brings every scheme pinned by the past cycle to ``indicators`` items; returns how many were added."""
    async with sessionmaker() as session, session.begin():
        cycle = await session.get_one(Cycle, await find_past_cycle(session))
        pins = dict(
            (
                await session.execute(
                    select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle.id)
                )
            ).all()
        )
        item_rows = (
            await session.execute(
                select(
                    SchemeItem.id,
                    SchemeItem.scheme_version_id,
                    SchemeItem.indicator_version_id,
                    SchemeItem.position,
                    IndicatorVersion.source_system,
                    IndicatorVersion.source_metric,
                )
                .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
                .where(SchemeItem.scheme_version_id.in_(set(pins.values())))
                .order_by(SchemeItem.scheme_version_id, SchemeItem.position, SchemeItem.id)
            )
        ).all()
        by_scheme: defaultdict[int, list[Any]] = defaultdict(list)
        for row in item_rows:
            by_scheme[row.scheme_version_id].append(row)
        # Every extension indicator version some post of this cycle is measured on, with its source.
        sources = {
            row.indicator_version_id: (row.source_system, row.source_metric)
            for row in item_rows
            if row.source_system != MANUAL_SOURCE
        }
        added: dict[int, list[int]] = {}  # scheme version -> indicator versions added
        for scheme_id, rows in by_scheme.items():
            if len(rows) > indicators:
                raise ValueError(f"scheme version {scheme_id} already has {len(rows)} items (> {indicators})")
            present = {row.indicator_version_id for row in rows}
            spare = sorted(set(sources) - present)
            need = indicators - len(rows)
            if need > len(spare):
                raise ValueError(f"only {len(rows) + len(spare)} indicators available per scheme")
            added[scheme_id] = spare[:need]
            weights = _even_weights(indicators)
            await session.execute(
                update(SchemeItem),
                [{"id": row.id, "weight": weights[n]} for n, row in enumerate(rows)],
            )
            await session.execute(
                insert(SchemeItem),
                [
                    {
                        "scheme_version_id": scheme_id,
                        "indicator_version_id": version_id,
                        "weight": weights[len(rows) + n],
                        "position": rows[-1].position + 1 + n,
                    }
                    for n, version_id in enumerate(added[scheme_id])
                ],
            )
        # One metric value per participant and added indicator, drawn the way the demo draws them.
        fetched_at = (
            await session.execute(select(func.max(MetricValue.fetched_at)).where(MetricValue.cycle_id == cycle.id))
        ).scalar_one()
        numbers = dict((await session.execute(select(Employee.id, Employee.employee_no))).all())
        people = await participants(session, cycle, list(pins))
        say(f"widening to {indicators} indicators: metric values for {len(people):,} participants")
        batch: list[dict[str, Any]] = []
        written = 0
        for person in people:
            number = numbers[person.employee_id]
            for version_id in added.get(pins[person.post_id], ()):
                system, metric = sources[version_id]
                value = demo_metric_value(seed, number, metric, cycle.period_start)
                if value is None:  # the system has no record: scoring applies the missing policy
                    continue
                batch.append(
                    {
                        "cycle_id": cycle.id,
                        "employee_id": person.employee_id,
                        "indicator_version_id": version_id,
                        "value": value,
                        "system": system,
                        "metric": metric,
                        "fetched_at": fetched_at,
                        "stale": False,
                        "checksum": metric_checksum(
                            system, metric, number, cycle.period_start, cycle.period_end, value
                        ),
                    }
                )
                if len(batch) == INSERT_CHUNK:
                    await session.execute(insert(MetricValue), batch)
                    written += len(batch)
                    batch = []
        if batch:
            await session.execute(insert(MetricValue), batch)
            written += len(batch)
    return written


async def _prepare(engine: AsyncEngine, *, employees: int, seed: int, indicators: int, say: Say) -> int:
    """Migrates and seeds an empty database, widens its schemes; returns the past cycle's id."""
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    say(f"seeding {employees:,} employees (seed {seed}); 100,000 take about a minute")
    summary = await seed_demo(sessionmaker, seed=seed, employees=employees, today=TODAY, progress=ConsoleProgress())
    if indicators != DEMO_ITEMS:
        await widen_past_cycle(sessionmaker, seed=seed, indicators=indicators, say=say)
    return summary.past_cycle_id


async def seeded_sqlite(path: Path, *, employees: int, seed: int, indicators: int, rebuild: bool, say: Say) -> Path:
    """The seeded SQLite file at ``path``, built on first use (then reused)."""
    if path.exists() and not rebuild:  # noqa: ASYNC240 - a stat before a minute of seeding
        say(f"reusing the seeded database {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    remove_sqlite(partial)
    engine = create_engine(sqlite_url(partial))
    try:
        await _prepare(engine, employees=employees, seed=seed, indicators=indicators, say=say)
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    remove_sqlite(path)
    partial.replace(path)
    remove_sqlite(partial)
    size = path.stat().st_size  # noqa: ASYNC240
    say(f"seeded database saved as {path} ({size / 2**20:,.0f} MiB)")
    return path


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def remove_sqlite(path: Path) -> None:
    for file in _sqlite_files(path):
        file.unlink(missing_ok=True)


async def prepare_in_place(url: str, *, employees: int, seed: int, indicators: int, say: Say) -> None:
    """A database used in place (e.g. PostgreSQL): seeded when empty, else put back to OPEN."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            count = (await session.execute(select(func.count()).select_from(Employee))).scalar_one()
        if count == 0:
            await _prepare(engine, employees=employees, seed=seed, indicators=indicators, say=say)
        else:
            say(f"reusing the organisation in {url} (assumed seeded by this benchmark)")
            async with sessionmaker() as session:
                cycle_id = await find_past_cycle(session)
            await reset(sessionmaker, cycle_id)
    finally:
        await engine.dispose()


async def inspect(url: str, employees: int, say: Say) -> Dataset:
    """Checks the database holds the expected organisation with its past cycle OPEN, and describes it."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            if is_sqlite(url):  # copies of the file must not need its -wal
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            count = (await session.execute(select(func.count()).select_from(Employee))).scalar_one()
            if count != employees:
                raise SystemExit(f"{url} holds {count:,} employees, not {employees:,}")
            cycle_id = await find_past_cycle(session)
            state = (await session.execute(select(Cycle.state).where(Cycle.id == cycle_id))).scalar_one()
            if state != CycleState.OPEN:
                raise SystemExit(f"cycle {cycle_id} is {state}, not OPEN")
            pinned = select(CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle_id)
            sizes = (
                await session.execute(
                    select(func.count())
                    .select_from(SchemeItem)
                    .where(SchemeItem.scheme_version_id.in_(pinned))
                    .group_by(SchemeItem.scheme_version_id)
                )
            ).scalars()
            items = sorted(set(sizes))
    finally:
        await engine.dispose()
    say(f"cycle {cycle_id} is OPEN; {count:,} employees; scheme items per pinned scheme: {items}")
    return Dataset(url, cycle_id, employees, max(items))


async def reset(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> None:
    """Back to OPEN with no results (untimed), for databases that cannot be copied per run."""
    async with sessionmaker() as session:
        state = (await session.execute(select(Cycle.state).where(Cycle.id == cycle_id))).scalar_one()
    if state == CycleState.SCORED:
        await reopen_cycle(sessionmaker, CycleReopen(cycle_id, reason="benchmark reset"), Caller(BENCH_ACTOR))
    elif state != CycleState.OPEN:
        raise SystemExit(f"cycle {cycle_id} is {state}; the benchmark needs it OPEN or SCORED")


def is_file_database(url: str) -> bool:
    return is_sqlite(url) and ":memory:" not in url


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


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise SystemExit(f"{url} names no database file")
    return Path(database).resolve()


async def open_target(args: argparse.Namespace, say: Say, *, in_place: bool = False) -> Target:
    """Where a benchmark runs, from the options every benchmark on this dataset takes (``--database-url``,
    ``--employees``, ``--seed``, ``--indicators``, ``--rebuild``): no URL is the cached seeded file; a
    SQLite URL is a file seeded once and copied per run (used as it is with ``in_place``); a server URL is
    used in place, seeded when empty."""
    url: str | None = args.database_url
    build: dict[str, Any] = {"employees": args.employees, "seed": args.seed, "indicators": args.indicators}
    if url is None or (is_file_database(url) and not in_place):
        path = cache_file(**build) if url is None else _sqlite_path(url)
        seeded = await seeded_sqlite(path, rebuild=args.rebuild, say=say, **build)
        return Target(await inspect(sqlite_url(seeded), args.employees, say), seeded)
    await prepare_in_place(url, say=say, **build)
    return Target(await inspect(url, args.employees, say), None)
