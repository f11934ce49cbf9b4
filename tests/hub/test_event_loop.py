"""Long work stays off the event loop: scoring, import and collect hand their pure computation to a
worker thread, and read and write big results in slices.

These tests pin the structure, never a duration; ``python -m bench.event_loop`` measures what it buys
(the latency of /healthz while a cycle of 10,000 employees is scored, imported or collected).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee
from hub.demo.indicators import METRICS
from hub.demo.organisation import SeedSummary
from hub.operations.batches import execute_in_chunks, partitions
from hub.operations.commands import Caller
from hub.operations.metrics import MetricValuesImport, import_metric_values
from hub.operations.scoring import CycleScore, score_cycle
from tests.hub.operations.test_collect import FakeSystem, collect_from
from tests.hub.operations.test_metrics_import import NOW, _csv, _lines, _measured

Sessions = async_sessionmaker[AsyncSession]


class Offloaded:
    """Records what went through ``asyncio.to_thread``, and on which thread it ran."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.threads: set[int] = set()


@pytest.fixture
def offloaded(monkeypatch: pytest.MonkeyPatch) -> Offloaded:
    seen = Offloaded()
    real = asyncio.to_thread

    async def recording(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        seen.names.append(getattr(func, "__name__", repr(func)))

        def run() -> Any:
            seen.threads.add(threading.get_ident())
            return func(*args, **kwargs)

        return await real(run)

    monkeypatch.setattr(asyncio, "to_thread", recording)
    return seen


async def test_scoring_runs_the_engine_and_builds_its_rows_in_a_worker_thread(
    sessionmaker: Sessions, seeded: SeedSummary, offloaded: Offloaded
) -> None:
    """The engine over every participant, and the result and indicator-score rows, are computed off the loop."""
    report = await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    assert report.scored > 0
    assert {"_compute", "_result_rows", "_score_rows"} <= set(offloaded.names)
    assert threading.get_ident() not in offloaded.threads


async def test_an_import_is_parsed_and_checked_in_a_worker_thread(
    sessionmaker: Sessions, seeded: SeedSummary, offloaded: Offloaded
) -> None:
    """Parsing the CSV and resolving its rows against the database's maps happen off the loop."""
    cycle = seeded.current_cycle_id
    measured = await _measured(sessionmaker, cycle)
    report = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(_lines(measured))), Caller("test", now=NOW)
    )
    assert report.imported == len(measured)
    assert {"parse_metric_csv", "_resolve_all"} <= set(offloaded.names)
    assert threading.get_ident() not in offloaded.threads


async def test_collect_assembles_what_it_wants_and_stores_in_a_worker_thread(
    sessionmaker: Sessions, seeded: SeedSummary, offloaded: Offloaded
) -> None:
    """Who needs which value, and which fetched values are new or changed, are worked out off the loop."""
    systems = {name: FakeSystem(name) for name in {profile.system for profile in METRICS.values()}}
    report = await collect_from(sessionmaker, seeded.current_cycle_id, systems)
    assert report.stored > 0
    assert {"_assign", "_sort_out"} <= set(offloaded.names)


async def test_big_reads_come_in_partitions_and_big_writes_in_chunks(sessionmaker: Sessions) -> None:
    """120 employees read 50 at a time are three partitions; 120 rows written 50 at a time, three statements."""
    async with sessionmaker() as session:
        sizes = [len(part) async for part in partitions(session, select(Employee.employee_no), size=50)]
    assert sizes == [50, 50, 20]

    class Recording:
        def __init__(self) -> None:
            self.batches: list[int] = []

        async def execute(self, _statement: Any, rows: list[dict[str, Any]]) -> None:
            self.batches.append(len(rows))

    recording = Recording()
    await execute_in_chunks(recording, "INSERT", [{"n": n} for n in range(120)], size=50)  # type: ignore[arg-type]
    assert recording.batches == [50, 50, 20]
