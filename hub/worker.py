"""Long work in a process of its own: scoring a cycle, importing and collecting its metric values.

Both are seconds of Python for a big cycle: building the rows SQLAlchemy reads and writes, the engine's
arithmetic, parsing a CSV file. In the hub's process that work holds the GIL, and slicing it or moving
it to a thread only spreads the stall (benchmarks: ``bench.event_loop``): a request that arrives
meanwhile waits for the interpreter at every system call. In a process of its own the hub's event loop
only waits for the answer, and every other request is served as if nothing ran.

The worker opens its own engine on the same database and runs the very operation the hub would have
run (``hub.operations``), in its own transaction, with the cycle's lock and the audit entry inside it:
what it commits is what an in-process run would have committed. It is started on first use and lives
as long as the app. It dies with the hub (a ``kill -9`` of the hub ends the worker's transaction
uncommitted, as it would have ended the hub's own) and ignores the terminal's signals, which are the
hub's to handle. Errors come back as the same exception types, so callers cannot tell the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.base import Period
from connectors.config import SystemsConfig
from hub.child import belong_to
from hub.config import Settings
from hub.db.engine import (
    DatabaseTimeouts,
    DatabaseUnavailable,
    create_bounded_engine,
    create_sessionmaker,
    unavailable_reason,
)
from hub.db.models import Cycle
from hub.operations.audit import AuditRecorder
from hub.operations.collect import (
    CollectReport,
    CycleCollectMetrics,
    MetricFetcher,
    PeriodFactory,
    SourceLookup,
    collect_metrics,
)
from hub.operations.commands import Caller
from hub.operations.metrics import MetricValuesImport, MetricValuesImported, import_metric_values
from hub.operations.scoring import CycleScore, ScoringReport, score_cycle
from hub.systems import open_systems

log = logging.getLogger("perfhub")

T = TypeVar("T")
Arguments = TypeVarTuple("Arguments")

WORKER_NICENESS = 10
"""How much lower the worker's CPU priority is than the hub's (``nice``)."""


class WorkerFailed(RuntimeError):
    """The worker process failed in a way that is not one of the operations' errors (its traceback is in
    the message, for the hub's log), or died while it worked (its transaction did not commit)."""


@dataclass(frozen=True, slots=True)
class _Raised:
    """An exception, carried back from the worker as its class and its attributes."""

    kind: type[BaseException]
    args: tuple[object, ...]
    state: dict[str, object]

    def rebuild(self) -> BaseException:
        # Not ``kind(*args)``: the operations' errors take other constructor arguments than they store.
        error = self.kind.__new__(self.kind)
        error.args = self.args
        error.__dict__.update(self.state)
        return error


# --- The worker process's side ------------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None
_settings: Settings | None = None
_systems_config: SystemsConfig | None = None
_sources: SourceLookup[Period] | None = None
_opened = contextlib.AsyncExitStack()


def _start(settings: Settings, systems: SystemsConfig | None, parent_pid: int, gc_threshold: tuple[int, ...]) -> None:
    """Runs once in the worker process, before its first job."""
    global _loop, _engine, _sessionmaker, _settings, _systems_config
    # The collector as the hub tuned it (``perfhub serve`` raises the first threshold): a cycle's worth
    # of rows in memory otherwise sets off a full collection every few hundred allocations.
    gc.set_threshold(*gc_threshold)
    belong_to(parent_pid)
    # Batch work yields the CPU to the hub: on a busy machine a request is served before the next slice
    # of scoring (the benchmark's stalls with both at one priority were the hub waiting for a core).
    os.nice(WORKER_NICENESS)
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _settings, _systems_config = settings, systems
    timeouts = DatabaseTimeouts.of(settings)
    if timeouts.statement is not None:
        # Every transaction here is a mutation's: the full statement timeout, not the API's read timeout.
        timeouts = dataclasses.replace(timeouts, read_statement=timeouts.statement)
    _engine = create_bounded_engine(settings.database_url, timeouts)
    _sessionmaker = create_sessionmaker(_engine)


def _run(job: Awaitable[T]) -> T | _Raised:
    assert _loop is not None
    try:
        return _loop.run_until_complete(job)
    except Exception as error:  # every failure goes back to the hub, typed where it can be
        return _portable(error)


def _portable(error: Exception) -> _Raised:
    reason = unavailable_reason(error)
    if reason is not None:
        return _Raised(DatabaseUnavailable, (reason,), {"reason": reason})
    carried = _Raised(type(error), error.args, dict(getattr(error, "__dict__", {})))
    try:
        pickle.loads(pickle.dumps(carried))
    except Exception:
        text = "".join(traceback.format_exception(error))
        return _Raised(WorkerFailed, (f"in the worker process: {text}",), {})
    return carried


def _ping() -> int:
    return os.getpid()


def _score(command: CycleScore, caller: Caller) -> tuple[ScoringReport, bool] | _Raised:
    assert _sessionmaker is not None
    sessionmaker = _sessionmaker

    async def job() -> tuple[ScoringReport, bool]:
        report = await score_cycle(sessionmaker, command, caller)
        slim = ScoringReport(
            _columns_only(report.cycle), report.scored, report.blocked, report.coverage, report.incomplete
        )
        return slim, _committed(caller)

    return _run(job())


def _columns_only(cycle: Cycle) -> Cycle:
    """A copy of the cycle's row without what the session hung on it: the scored cycle's ``results``
    collection holds every result and indicator score it wrote, which would cross back to the hub
    (and be unpickled there, holding the interpreter) for nothing."""
    copy = Cycle()
    for attribute in inspect(Cycle).column_attrs:
        setattr(copy, attribute.key, getattr(cycle, attribute.key))
    return copy


def _import(command: MetricValuesImport, caller: Caller) -> tuple[MetricValuesImported, bool] | _Raised:
    assert _sessionmaker is not None
    sessionmaker = _sessionmaker

    async def job() -> tuple[MetricValuesImported, bool]:
        report = await import_metric_values(sessionmaker, command, caller)
        return report, _committed(caller)

    return _run(job())


async def _connected_sources() -> SourceLookup[Period]:
    """The business systems' connectors, opened at the first collection and kept for the process's life."""
    global _sources
    if _sources is None:
        assert _settings is not None
        systems = await _opened.enter_async_context(open_systems(_settings, _systems_config))

        def lookup(system: str, metric: str) -> MetricFetcher[Period] | None:
            return None if systems is None else systems.source_for(system, metric)

        _sources = lookup
    return _sources


def _collect(
    command: CycleCollectMetrics, caller: Caller, make_period: PeriodFactory[Period]
) -> tuple[CollectReport, bool] | _Raised:
    assert _sessionmaker is not None
    sessionmaker = _sessionmaker

    async def job() -> tuple[CollectReport, bool]:
        sources = await _connected_sources()
        report = await collect_metrics(sessionmaker, command, caller, sources=sources, make_period=make_period)
        return report, _committed(caller)

    return _run(job())


# --- The hub's side -----------------------------------------------------------------------------------


class Worker:
    """The hub's handle on its worker process: started on first use, replaced if it dies."""

    def __init__(self, settings: Settings, systems: SystemsConfig | None) -> None:
        self._settings = settings
        self._systems = systems
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the hub has threads and an event loop that a forked child must not inherit.
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._settings, self._systems, os.getpid(), gc.get_threshold()),
            )
        return self._pool

    async def _call(self, function: Callable[[*Arguments], T | _Raised], *args: *Arguments) -> T:
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._executor(), function, *args)
        except BrokenProcessPool as error:
            self._pool = None  # the next job starts a new worker
            raise WorkerFailed("the worker process died; its transaction did not commit") from error
        if isinstance(answer, _Raised):
            raise answer.rebuild()
        return answer

    async def pid(self) -> int:
        """The worker's process id (starting it if need be)."""
        return await self._call(_ping)

    async def score(self, command: CycleScore, caller: Caller) -> ScoringReport:
        """``hub.operations.scoring.score_cycle``, in the worker."""
        report, committed = await self._call(_score, command, caller)
        _note_commit(caller.audit, committed)
        return report

    async def import_metrics(self, command: MetricValuesImport, caller: Caller) -> MetricValuesImported:
        """``hub.operations.metrics.import_metric_values``, in the worker."""
        report, committed = await self._call(_import, command, caller)
        _note_commit(caller.audit, committed)
        return report

    async def collect(
        self, command: CycleCollectMetrics, caller: Caller, *, make_period: PeriodFactory[Period]
    ) -> CollectReport:
        """``hub.operations.collect.collect_metrics``, in the worker, through connectors of its own to the
        systems the hub was configured with (their cache is shared with the hub's only through Redis,
        ``PERFHUB_CONNECTOR_CACHE_URL``)."""
        report, committed = await self._call(_collect, command, caller, make_period)
        _note_commit(caller.audit, committed)
        return report

    async def close(self) -> None:
        """Stops the worker after the job it is running, if any (without blocking the event loop)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _committed(caller: Caller) -> bool:
    """Whether the operation wrote the caller's audit entry (the worker's copy of the recorder knows)."""
    return caller.audit is not None and caller.audit.committed


def _note_commit(audit: AuditRecorder | None, committed: bool) -> None:
    # The worker wrote the audit entry in the transaction of the change: the hub must not write another.
    if audit is not None and committed:
        audit.committed = True
