"""Collecting an OPEN cycle's extension-indicator values from the business systems that measure them.

Every participant's pinned scheme says which (system, metric) feeds each extension indicator. The
values are fetched per metric for many employees at once (all metrics concurrently; each system's
connector limits its own concurrency), then written in one short transaction with their provenance.
Collecting twice stores no duplicates: a value already there is updated in place when it changed and
left alone when it did not. What could not be fetched is reported per employee and indicator: a system
that is down costs its employees' values, one employee's ``null``, text or value outside its range costs
that employee's value alone. ``refresh`` asks every system again even where its connector holds a fresh
answer (a source corrected a value inside the cache's lifetime).

The hub core does not import the connectors: any object with ``fetch_metric`` that answers with
``values`` and ``provenance`` (as ``connectors.base.MetricBatch`` does) will do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Protocol, TypeAlias, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, Employee, Indicator, IndicatorVersion, MetricValue
from hub.domain import MANUAL_SOURCE, CycleState, IndicatorCategory
from hub.operations.audit import AuditRecorder, audit_change
from hub.operations.batches import partitions
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import WrongCycleState
from hub.operations.metrics import PinnedItem, item_range, pinned_items, write_metric_values
from hub.operations.participation import Participant, participants
from hub.operations.ranges import ValidRange
from hub.operations.ratings import load_cycle
from hub.operations.rows import MetricValueRow, ReplacingRow
from hub.progress import SILENT, Progress

log = logging.getLogger("perfhub")

EMPLOYEES_PER_CALL = 200
"""Employee numbers per upstream request: keeps URLs and bodies bounded on every kind of system."""


class Provenance(Protocol):
    @property
    def fetched_at(self) -> dt.datetime: ...

    @property
    def stale(self) -> bool: ...


class Batch(Protocol):
    @property
    def values(self) -> Mapping[str, float]: ...

    @property
    def rejected(self) -> Mapping[str, str]:
        """Employee number -> why the system's answer for them is not a value."""
        ...

    @property
    def provenance(self) -> Provenance: ...


PeriodT = TypeVar("PeriodT")
"""The connectors' own period record: the core passes what ``make_period`` makes to ``fetch_metric``."""
PeriodT_contra = TypeVar("PeriodT_contra", contravariant=True)


class MetricFetcher(Protocol[PeriodT_contra]):
    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: PeriodT_contra, *, refresh: bool = False
    ) -> Batch:
        """``refresh``: ask the system even when the connector's cache holds a fresh answer."""
        ...


SourceLookup: TypeAlias = Callable[[str, str], MetricFetcher[PeriodT] | None]
"""(system, metric) -> the connector that answers for it, or None when none is configured."""
PeriodFactory: TypeAlias = Callable[[dt.date, dt.date], PeriodT]


@dataclass(frozen=True, slots=True)
class MissingMetric:
    employee_no: str
    indicator: str
    reason: str


@dataclass(slots=True)
class CollectReport:
    stored: int = 0
    """New values."""
    updated: int = 0
    """Values that were there and changed."""
    unchanged: int = 0
    stale: int = 0
    """Values served from a connector's cache while their system was down."""
    missing: list[MissingMetric] = field(default_factory=list)


@dataclass(slots=True)
class Collected:
    """The fetched values, a list per column rather than a dict per value: a cycle's worth of small dicts
    is made only for the insert, in a worker thread."""

    employee_id: list[int] = field(default_factory=list)
    indicator_version_id: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    fetched_at: list[dt.datetime] = field(default_factory=list)
    checksum: list[str] = field(default_factory=list)
    stale: list[bool] = field(default_factory=list)

    def add(
        self,
        employee_id: int,
        version_id: int,
        value: float,
        system: str,
        metric: str,
        fetched_at: dt.datetime,
        checksum: str,
        stale: bool,
    ) -> None:
        self.employee_id.append(employee_id)
        self.indicator_version_id.append(version_id)
        self.value.append(value)
        self.system.append(system)
        self.metric.append(metric)
        self.fetched_at.append(fetched_at)
        self.checksum.append(checksum)
        self.stale.append(stale)

    def __len__(self) -> int:
        return len(self.value)

    def rows(self, cycle_id: int) -> list[MetricValueRow]:
        """A ``metric_values`` row per value."""
        columns = zip(
            self.employee_id,
            self.indicator_version_id,
            self.value,
            self.system,
            self.metric,
            self.fetched_at,
            self.checksum,
            self.stale,
            strict=True,
        )
        return [
            {
                "cycle_id": cycle_id,
                "employee_id": employee_id,
                "indicator_version_id": version_id,
                "value": value,
                "system": system,
                "metric": metric,
                "fetched_at": fetched_at,
                "checksum": checksum,
                "stale": stale,
            }
            for employee_id, version_id, value, system, metric, fetched_at, checksum, stale in columns
        ]


@dataclass(frozen=True, slots=True)
class _Wanted:
    employee_id: int
    employee_no: str
    version_id: int
    indicator: str
    valid: ValidRange
    """The values the version accepts (its declared range; 0-100 for a percentage): any other is no value."""


class NoConnector(Exception):
    """No connector answers for a (system, metric) an indicator names."""


def _reason(error: Exception) -> str:
    """Why a fetch failed, for the people who read the report: a system's own typed error (it carries a
    ``code``) or a missing connector says itself; anything else is logged, not shown."""
    if getattr(error, "code", None) is not None or isinstance(error, NoConnector):
        return str(error)
    log.error("collect: unexpected failure", exc_info=error)
    return f"unexpected failure ({type(error).__name__}; logged)"


def value_checksum(system: str, metric: str, employee_no: str, start: dt.date, end: dt.date, value: float) -> str:
    """The sha256 of the canonical JSON of one reported value: its provenance fingerprint."""
    record = {
        "employee_no": employee_no,
        "metric": metric,
        "period": f"{start.isoformat()}/{end.isoformat()}",
        "system": system,
        "value": value,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _collecting(cycle: Cycle) -> Cycle:
    """The cycle, when it is OPEN: values are collected then only (checked before fetching, and again before
    storing, under the lock)."""
    if cycle.state is not CycleState.OPEN:
        raise WrongCycleState(cycle.state, "metric values are collected only while it is OPEN")
    return cycle


async def _wanted(session: AsyncSession, cycle_id: int) -> tuple[Cycle, dict[tuple[str, str], list[_Wanted]]]:
    """The OPEN cycle, and (system, metric) -> who needs a value of it under their pinned scheme.

    No lock: the fetching that follows takes network time, and no lock is held across it; the state
    is checked again under the lock before anything is stored.
    """
    cycle = _collecting(await load_cycle(session, cycle_id))
    measured = pinned_items(cycle_id).where(
        Indicator.category == IndicatorCategory.EXTENSION,
        IndicatorVersion.source_system != MANUAL_SOURCE,
        IndicatorVersion.source_metric.is_not(None),
    )
    items = (await session.execute(measured)).all()
    by_post: defaultdict[int, list[PinnedItem]] = defaultdict(list)
    for item in items:
        by_post[item.post_id].append(item)
    people = await participants(session, cycle, list(by_post))
    numbers: dict[int, str] = {}
    async for found in partitions(session, select(Employee.id, Employee.employee_no)):
        numbers.update(found)
    # A record per participant and measured indicator (hundreds of thousands in a big organisation):
    # pure work, in a worker thread, so that the event loop keeps serving other requests.
    return cycle, await asyncio.to_thread(_assign, people, by_post, numbers)


def _assign(
    people: list[Participant], by_post: dict[int, list[PinnedItem]], numbers: dict[int, str]
) -> dict[tuple[str, str], list[_Wanted]]:
    wanted: defaultdict[tuple[str, str], list[_Wanted]] = defaultdict(list)
    for person in people:
        for item in by_post[person.post_id]:
            wanted[(item.source_system, item.source_metric)].append(
                _Wanted(person.employee_id, numbers[person.employee_id], item.version_id, item.code, item_range(item))
            )
    return wanted


def _checked_value(system: str, metric: str, wanted: _Wanted, batch: Batch, span: str) -> float | str:
    """The employee's value in ``batch``, or why they have none: absent, or not a value (the system's
    ``null`` or text, a number that is not finite or outside the version's valid range)."""
    value = batch.values.get(wanted.employee_no)
    rejected = batch.rejected.get(wanted.employee_no)
    if value is None and rejected is not None:
        return f"{system} answered {metric} for {span}, but {rejected}"
    if value is None:
        # A system leaves out both whom it does not know and whom it knows without a value: the reason
        # names both, since the answer cannot tell them apart.
        return f"{system} answered without {metric} for {span}: it does not know the employee or holds no value"
    problem = wanted.valid.problem(value)
    if problem is not None:
        return f"{system} answered {metric} for {span}, but {problem}"
    return value


@dataclass(frozen=True, slots=True)
class CycleCollectMetrics:
    cycle_id: Annotated[int, IdOf("cycle")]
    refresh: bool = described(
        "Ask every system again, even where the hub holds an answer it fetched moments ago (a source "
        "corrected a value); the fresh answers are kept for the next collection.",
        default=False,
    )


async def collect_metrics(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: CycleCollectMetrics,
    caller: Caller,
    *,
    sources: SourceLookup[PeriodT],
    make_period: PeriodFactory[PeriodT],
    progress: Progress = SILENT,
) -> CollectReport:
    """Fetch and store every extension value of an OPEN cycle; report what could not be fetched.

    Fetch first, then lock: the values are stored in one transaction under the cycle's exclusive
    lock, after checking again that the cycle is still OPEN. ``sources`` and ``make_period`` are the
    process's connectors (the core imports none).
    """
    cycle_id = command.cycle_id
    async with sessionmaker() as session:
        cycle, wanted = await _wanted(session, cycle_id)
        start, end = cycle.period_start, cycle.period_end
    report = CollectReport()
    calls = [
        (system, metric, chunk)
        for (system, metric), people in sorted(wanted.items())
        for chunk in (people[i : i + EMPLOYEES_PER_CALL] for i in range(0, len(people), EMPLOYEES_PER_CALL))
    ]
    collected = Collected()
    progress.begin("collect", len(calls), "call")

    async def fetch(system: str, metric: str, chunk: list[_Wanted]) -> None:
        source = sources(system, metric)
        try:
            if source is None:
                raise NoConnector(f"no connector is configured for {system}/{metric}")
            numbers = [w.employee_no for w in chunk]
            batch = await source.fetch_metric(metric, numbers, make_period(start, end), refresh=command.refresh)
        except Exception as error:  # a connector error or a missing one: reported, never fatal
            report.missing.extend(MissingMetric(w.employee_no, w.indicator, _reason(error)) for w in chunk)
            return
        finally:
            progress.advance()
        for w in chunk:
            value = _checked_value(system, metric, w, batch, f"{start}..{end}")
            if isinstance(value, str):
                report.missing.append(MissingMetric(w.employee_no, w.indicator, value))
                continue
            checksum = value_checksum(system, metric, w.employee_no, start, end, value)
            provenance = batch.provenance
            collected.add(
                w.employee_id, w.version_id, value, system, metric, provenance.fetched_at, checksum, provenance.stale
            )

    try:
        await asyncio.gather(*(fetch(*call) for call in calls))
    finally:
        progress.end()
    await store_collected(sessionmaker, cycle_id, collected, caller.audit, report)
    report.stale = sum(collected.stale)
    report.missing.sort(key=lambda m: (m.employee_no, m.indicator))
    return report


_StoredValue: TypeAlias = Row[int, int, int, str, bool]
"""A value already stored: (id, employee_id, indicator_version_id, checksum, stale)."""


async def store_collected(
    sessionmaker: async_sessionmaker[AsyncSession],
    cycle_id: int,
    collected: Collected,
    audit: AuditRecorder | None,
    report: CollectReport,
) -> None:
    """Stores fetched values in one transaction under the cycle's exclusive lock: new ones inserted,
    changed ones updated in place, unchanged ones left alone; with the audit entry. Counts each kind
    on ``report``."""
    async with sessionmaker() as session, session.begin():
        _collecting(await locked_cycle(session, cycle_id))  # it may have moved on while we were fetching
        stored = select(
            MetricValue.id,
            MetricValue.employee_id,
            MetricValue.indicator_version_id,
            MetricValue.checksum,
            MetricValue.stale,
        ).where(MetricValue.cycle_id == cycle_id)
        existing: dict[tuple[int, int], _StoredValue] = {}
        async for found in partitions(session, stored):
            existing.update(((row.employee_id, row.indicator_version_id), row) for row in found)
        new, changed, unchanged = await asyncio.to_thread(_sort_out, collected.rows(cycle_id), existing)
        await write_metric_values(session, new, changed)
        await audit_change(session, audit)
    report.stored, report.updated, report.unchanged = len(new), len(changed), unchanged


def _sort_out(
    rows: list[MetricValueRow], existing: dict[tuple[int, int], _StoredValue]
) -> tuple[list[MetricValueRow], list[ReplacingRow], int]:
    """(new rows, changed rows with the id they replace, how many are unchanged)."""
    new: list[MetricValueRow] = []
    changed: list[ReplacingRow] = []
    unchanged = 0
    for row in rows:
        found = existing.get((row["employee_id"], row["indicator_version_id"]))
        if found is None:
            new.append(row)
        elif found.checksum != row["checksum"] or bool(found.stale) != row["stale"]:
            # A changed value, or the same value now confirmed fresh (or only available stale): the
            # provenance must say which.
            changed.append({**row, "b_id": found.id})
        else:
            unchanged += 1
    return new, changed, unchanged
