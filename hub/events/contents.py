"""What a result event carries, one shape for every channel: ``resultEvents``, the ``resultPublished``
subscription and the webhook's CloudEvents ``data``.

A training module acts on the weak indicators, a payroll module on the grade, whether it was calibrated, the
cycle's period and the employee number it keys on. Those are read here once per batch of events (two
statements, whatever the batch's size) and handed to each channel as the same record, so the three cannot
drift apart: the schema's ``ResultEvent`` fields read its attributes, and ``as_data`` spells the same record
as the JSON the GraphQL fields give (camelCase names, scores rounded as the API shows them, dates ISO).

An event is a fact: its record is the one of the moment it was written. The appenders (``hub.events.outbox``,
``hub.closedloop.needs``) store it with the event (``snapshot_of``, the outbox's ``snapshot`` column) in the
transaction that writes it, and every channel reads that (``read_event_contents``): a ``result.published`` event
replayed after three corrections still carries the published figures, and each ``result.revised`` its own
correction's. Events written before the snapshots (migration 0015) have none and are read from the live tables
as before. Only the event's nested ``result`` object shows the result as it is now.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appraisal.shown import shown_cents
from hub.db.models import AppraisalResult, Cycle, Employee, Indicator, IndicatorScore, IndicatorVersion, Post
from hub.db.rows import read_rows
from hub.domain import Grade, IndicatorCategory


def shown(value: object) -> float | None:
    """A stored score as the API shows it: rounded half-up to two decimals, as ``schema/rounding.py``'s
    ``two_decimals`` does for the schema's score fields (None, NaN and infinities as they are)."""
    if value is None:
        return None
    number = cast(float, value)
    return float(shown_cents(number)) if math.isfinite(number) else number


@dataclass(frozen=True, slots=True)
class EventIndicatorScore:
    """One indicator's part in the event's result: which indicator (code and version) and how it scored."""

    indicator_code: str
    indicator_name: str
    category: IndicatorCategory
    version: int
    raw_value: float | None
    normalized_score: float | None
    weight: float


@dataclass(frozen=True, slots=True)
class EventContents:
    """The result an event is about, as every channel shows it."""

    result_id: int
    cycle_id: int
    cycle_name: str
    period_start: dt.date
    period_end: dt.date
    employee_id: int
    employee_no: str
    post_id: int
    post_family: str
    department_id: int
    total_score: float
    grade: Grade
    calibrated: bool
    indicator_scores: tuple[EventIndicatorScore, ...]


# The columns a record is made of, by its fields' names: the hub reads them with SQLAlchemy, and the bench's
# hand-written endpoint (``bench/events_baseline.py``) selects the same names with asyncpg.
_PART_COLUMNS = {
    "indicator_code": Indicator.code,
    "indicator_name": Indicator.name,
    "category": Indicator.category,
    "version": IndicatorVersion.version,
    "raw_value": IndicatorScore.raw_value,
    "normalized_score": IndicatorScore.normalized_score,
    "weight": IndicatorScore.weight,
}
_RESULT_COLUMNS = {
    "result_id": AppraisalResult.id,
    "cycle_id": AppraisalResult.cycle_id,
    "cycle_name": Cycle.name,
    "period_start": Cycle.period_start,
    "period_end": Cycle.period_end,
    "employee_id": AppraisalResult.employee_id,
    "employee_no": Employee.employee_no,
    "post_id": AppraisalResult.post_id,
    "post_family": Post.family,
    "department_id": AppraisalResult.department_id,
    "total_score": AppraisalResult.total_score,
    "grade": AppraisalResult.grade,
    "calibrated": AppraisalResult.calibrated,
}

_PART_NAMES = tuple(_PART_COLUMNS)
_RESULT_NAMES = tuple(_RESULT_COLUMNS)


def part_of(values: Mapping[str, object]) -> EventIndicatorScore:
    """An indicator's part from its stored values (named as its fields), its score rounded as shown."""
    read = dict(values)
    read["category"] = IndicatorCategory(str(read["category"]))
    read["normalized_score"] = shown(read["normalized_score"])
    return EventIndicatorScore(**read)  # type: ignore[arg-type]  # the columns are the fields, typed above


def contents_of(values: Mapping[str, object], parts: Sequence[EventIndicatorScore]) -> EventContents:
    """A result's contents from its stored values (named as the fields), its total rounded as shown."""
    read = dict(values)
    read["grade"] = Grade(str(read["grade"]))
    read["total_score"] = shown(read["total_score"])
    return EventContents(**read, indicator_scores=tuple(parts))  # type: ignore[arg-type]  # as part_of


async def read_contents(session: AsyncSession, result_ids: Collection[int]) -> dict[int, EventContents]:
    """The contents of the events about these results, by result id (a result that is gone is left out)."""
    if not result_ids:
        return {}
    ids = set(result_ids)
    parts: dict[int, list[EventIndicatorScore]] = {result_id: [] for result_id in ids}
    scores = await read_rows(
        session,
        select(IndicatorScore.result_id.label("of"), *(column.label(name) for name, column in _PART_COLUMNS.items()))
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(IndicatorScore.result_id.in_(ids))
        .order_by(IndicatorScore.result_id, IndicatorScore.id),  # the order of the result's indicatorScores
    )
    # The rows' columns are in the dictionaries' order (the selects below list them so): zipped with the names,
    # not looked up by name, which made a mapping object per lookup (a tenth of a replay's page read).
    for row in scores:
        parts[row[0]].append(part_of(dict(zip(_PART_NAMES, row[1:], strict=True))))
    results = await read_rows(
        session,
        select(*(column.label(name) for name, column in _RESULT_COLUMNS.items()))
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .join(Employee, Employee.id == AppraisalResult.employee_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .where(AppraisalResult.id.in_(ids)),
    )
    return {
        row.result_id: contents_of(dict(zip(_RESULT_NAMES, row, strict=True)), parts[row.result_id]) for row in results
    }


_SNAPSHOT_BATCH = 5000
"""Results read per statement when the appenders take their snapshots (a cycle's may be many, bound parameters
are not)."""


def snapshot_of(contents: EventContents) -> dict[str, object]:
    """The record as the outbox stores it (JSON): its fields by name, scores as shown, dates ISO, enums' values."""
    return {
        "result_id": contents.result_id,
        "cycle_id": contents.cycle_id,
        "cycle_name": contents.cycle_name,
        "period_start": contents.period_start.isoformat(),
        "period_end": contents.period_end.isoformat(),
        "employee_id": contents.employee_id,
        "employee_no": contents.employee_no,
        "post_id": contents.post_id,
        "post_family": contents.post_family,
        "department_id": contents.department_id,
        "total_score": contents.total_score,
        "grade": contents.grade.value,
        "calibrated": contents.calibrated,
        "indicator_scores": [
            {
                "indicator_code": part.indicator_code,
                "indicator_name": part.indicator_name,
                "category": part.category.value,
                "version": part.version,
                "raw_value": part.raw_value,
                "normalized_score": part.normalized_score,
                "weight": part.weight,
            }
            for part in contents.indicator_scores
        ],
    }


def from_snapshot(snapshot: Mapping[str, object]) -> EventContents:
    """The record ``snapshot_of`` stored (its scores were rounded when it was taken)."""
    read = dict(snapshot)
    parts = cast(list[dict[str, object]], read.pop("indicator_scores"))
    read["period_start"] = dt.date.fromisoformat(cast(str, read["period_start"]))
    read["period_end"] = dt.date.fromisoformat(cast(str, read["period_end"]))
    read["grade"] = Grade(str(read["grade"]))
    return EventContents(
        **read,  # type: ignore[arg-type]  # the stored names are the fields
        indicator_scores=tuple(
            EventIndicatorScore(**{**part, "category": IndicatorCategory(str(part["category"]))})  # type: ignore[arg-type]
            for part in parts
        ),
    )


async def read_snapshots(session: AsyncSession, result_ids: Collection[int]) -> dict[int, dict[str, object]]:
    """The records to store with events about these results, by result id, read in the writing transaction
    with ``read_contents`` (so a snapshot is exactly what the live read gave at that moment)."""
    ids = sorted(set(result_ids))
    snapshots: dict[int, dict[str, object]] = {}
    for start in range(0, len(ids), _SNAPSHOT_BATCH):
        read = await read_contents(session, ids[start : start + _SNAPSHOT_BATCH])
        snapshots.update((result_id, snapshot_of(contents)) for result_id, contents in read.items())
    return snapshots


class StoredEvent(Protocol):
    """An outbox row as the readers select it: its id, its result and the snapshot written with it."""

    @property
    def id(self) -> int: ...
    @property
    def result_id(self) -> int: ...
    @property
    def snapshot(self) -> Mapping[str, object] | None: ...


def live_statements(events: Iterable[StoredEvent]) -> int:
    """How many statements ``read_event_contents`` runs for these events: ``read_contents``' two when one of them
    has no snapshot, none when every one has."""
    return 2 if any(event.snapshot is None for event in events) else 0


async def read_event_contents(session: AsyncSession, events: Iterable[StoredEvent]) -> dict[int, EventContents]:
    """What each of these events carries, by the event's outbox id: the snapshot written with it, or for an event
    written before snapshots were (migration 0015) its result as it is now (left out if the result is gone)."""
    stored = list(events)
    live = await read_contents(session, {event.result_id for event in stored if event.snapshot is None})
    found: dict[int, EventContents] = {}
    for event in stored:
        if event.snapshot is not None:
            found[event.id] = from_snapshot(event.snapshot)
        elif event.result_id in live:
            found[event.id] = live[event.result_id]
    return found


def as_data(
    contents: EventContents, *, event_id: str, event_type: str, occurred_at: dt.datetime, cursor: str
) -> dict[str, object]:
    """The event as JSON, exactly as ``resultEvents`` answers the selection ``docs`` calls the event shape
    (the webhook's CloudEvents ``data``): the event's own fields, then its result's."""
    return {
        "eventId": event_id,
        "type": event_type,
        "occurredAt": occurred_at.isoformat(),  # as strawberry's DateTime serialises it
        "cursor": cursor,
        "resultId": str(contents.result_id),
        "cycle": {
            "id": str(contents.cycle_id),
            "name": contents.cycle_name,
            "periodStart": contents.period_start.isoformat(),
            "periodEnd": contents.period_end.isoformat(),
        },
        "period": {"start": contents.period_start.isoformat(), "end": contents.period_end.isoformat()},
        "employeeId": str(contents.employee_id),
        "employeeNo": contents.employee_no,
        "postId": str(contents.post_id),
        "postFamily": contents.post_family,
        "departmentId": str(contents.department_id),
        "totalScore": contents.total_score,
        "grade": contents.grade.value,
        "calibrated": contents.calibrated,
        "indicatorScores": [
            {
                "indicatorCode": part.indicator_code,
                "indicatorName": part.indicator_name,
                "category": part.category.value,
                "version": part.version,
                "rawValue": part.raw_value,
                "normalizedScore": part.normalized_score,
                "weight": part.weight,
            }
            for part in contents.indicator_scores
        ],
    }
