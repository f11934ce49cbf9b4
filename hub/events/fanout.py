"""The process's one read of the outbox, shared by every live subscription (and the webhook worker's wake-up).

Each subscription used to read each new page of events itself, then its results and cycles: a publish of N
results to M subscribers cost M reads per page, and a subscriber behind paid a statement per event. Now the
process's reader (``hub.events.watcher.OutboxWatcher``) reads each new page once, with everything a
subscriber needs to decide what it may see and to build its payload (the result row, the cycle row, the
employee's number, the post's family), and appends it to an ``EventLog``: the most recent events, at most
``PERFHUB_SUBSCRIPTION_BUFFER`` of them, shared by every subscription of the process. A subscription keeps
only its position; it takes its next events from the log when the log reaches back to its position, and
reads the outbox itself, in large pages (``read_page``), when it is further behind (a resume from an old
cursor, or a consumer slower than the publishers). The outbox id is the order; a log holds every event in
``(start, end]``, so taking from it or from a page of one's own never skips or repeats an event.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, Employee, Post, ResultEvent
from hub.db.rows import read_rows
from hub.events.contents import EventContents, live_statements, read_event_contents

PAGE = 1000
"""Events per read of the outbox, for the process's reader and a subscriber catching up alike."""


@dataclass(frozen=True, slots=True, eq=False)
class OutboxEvent:
    """An outbox event and the rows read with it, once per process. Compared by identity: the subscriptions
    share it (and the payload made of it) as it is."""

    id: int
    row: Row[*tuple[object, ...]]
    """The event's columns, with ``employee_no`` (the result's employee's number: what an employee's own scope
    is decided on) and ``family`` (the post the result was scored in: what a ``postFamilies`` filter keeps)."""
    result: Row[*tuple[object, ...]] | None
    """The result row; None where it is gone."""
    cycle: Row[*tuple[object, ...]] | None
    contents: EventContents | None
    """What the event carries for a module to act on (``hub.events.contents``); None where its result is gone."""
    payloads: dict[bool, object] = field(default_factory=dict, repr=False)
    """What the subscriptions deliver of it, made once and shared (``resolvers.delivered_events``): kept here, it
    lives as long as the event in the process's log."""


@dataclass(frozen=True, slots=True)
class Page:
    """Every event of the outbox with an id in ``(after, last]`` that the read's conditions keep, in order."""

    after: int
    last: int
    events: tuple[OutboxEvent, ...]
    statements: int
    """How many statements the read ran (the tests count them)."""


async def read_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    after: int,
    limit: int = PAGE,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> Page:
    """The next page of events after ``after`` with their rows: three statements when it holds any (five when an
    event has no snapshot, ``hub.events.contents``), one when not.

    ``last`` is the last event's id, or ``after`` for an empty page: a page says nothing about ids it did
    not return, and the caller moves on only as far as it knows.
    """
    statement = (
        select(*ResultEvent.__table__.columns, Employee.employee_no, Post.family)
        .outerjoin(AppraisalResult, AppraisalResult.id == ResultEvent.result_id)
        .outerjoin(Post, Post.id == AppraisalResult.post_id)
        .outerjoin(Employee, Employee.id == ResultEvent.employee_id)
        .where(ResultEvent.id > after, *conditions)
        .order_by(ResultEvent.id)
        .limit(limit)
    )
    async with sessionmaker() as session:
        rows = await read_rows(session, statement)
        if not rows:
            return Page(after, after, (), 1)
        result_ids = {row.result_id for row in rows}
        results = {
            row.id: row
            for row in await read_rows(
                session, select(*AppraisalResult.__table__.columns).where(AppraisalResult.id.in_(result_ids))
            )
        }
        cycle_ids = {row.cycle_id for row in rows}
        of_cycles = select(*Cycle.__table__.columns).where(Cycle.id.in_(cycle_ids))
        cycles = {row.id: row for row in await read_rows(session, of_cycles)}
        contents = await read_event_contents(session, rows)  # as each event was written (its snapshot)
    events = tuple(
        OutboxEvent(row.id, row, results.get(row.result_id), cycles.get(row.cycle_id), contents.get(row.id))
        for row in rows
    )
    return Page(after, events[-1].id, events, 3 + live_statements(rows))


class EventLog:
    """The process's most recent events, every one in ``(start, end]``, at most ``capacity`` of them."""

    def __init__(self, end: int, capacity: int) -> None:
        self.start = end
        self.end = end
        self.capacity = max(capacity, 1)
        self._events: list[OutboxEvent] = []
        self._ids: list[int] = []

    def append(self, page: Page) -> None:
        """Adds the reader's next page (it starts where the log ends) and forgets the oldest events past capacity."""
        assert page.after == self.end, "the reader's pages follow each other"
        self._events.extend(page.events)
        self._ids.extend(event.id for event in page.events)
        self.end = page.last
        excess = len(self._events) - self.capacity
        if excess > 0:
            self.start = self._ids[excess - 1]
            del self._events[:excess], self._ids[:excess]

    def after(self, position: int, limit: int) -> list[OutboxEvent] | None:
        """The next events after ``position``, at most ``limit``; None when the log no longer reaches back to it."""
        if position < self.start:
            return None
        first = bisect.bisect_right(self._ids, position)
        return self._events[first : first + limit]


@dataclass(eq=False)
class Subscriber:
    """A live subscription as the reader sees it: where it is, when it last moved, and how to wake or end it."""

    position: int
    on_too_slow: Callable[[], None]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    moved_at: float = field(default_factory=time.monotonic)
    too_slow: bool = False

    def moved(self, position: int) -> None:
        self.position = position
        self.moved_at = time.monotonic()


def stalled(subscribers: Sequence[Subscriber], log: EventLog, stall_seconds: float) -> list[Subscriber]:
    """The subscribers to end as too slow: behind everything the log holds, and not moved for ``stall_seconds``.

    One behind the log but moving reads the outbox itself until it catches up (a resume from an old cursor
    does the same); one within the log costs nothing while it waits. A consumer that stopped reading its
    socket while the stream ran past the log is neither: it would never catch up, so it is told so.
    """
    deadline = time.monotonic() - stall_seconds
    return [
        subscriber
        for subscriber in subscribers
        if not subscriber.too_slow and subscriber.position < log.start and subscriber.moved_at < deadline
    ]
