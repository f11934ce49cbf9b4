"""The result event stream: a catch-up page (``resultEvents``) and the live subscription.

Both read the outbox by cursor. Every event is checked against the principal when it is delivered, not
only when the subscription starts: an event whose result the principal may not see is skipped, and a
principal whose token has expired is disconnected.

The subscription never moves a subscriber past an event it was not given. What an event shows of its
own (its result and cycle) is read before it is yielded, with retries; if that cannot be done, or a
field resolved for the client afterwards fails to read the database, the stream ends with
``EVENT_UNAVAILABLE`` and the cursor of the last event delivered, from which a resume starts again
with the event that failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial

from graphql import GraphQLError
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, Post, ResultEvent
from hub.events.delivery import ReadFailed, RetryPolicy, SessionWatch, WatchedSessions, read_with_retries
from hub.events.outbox import RESULT_PUBLISHED, RESULT_REVISED, TRAINING_NEED, read_events
from hub.events.watcher import OutboxWatcher
from resolvers.context import Context
from resolvers.errors import BadUserInput, Forbidden, TokenExpired, parse_id
from resolvers.loaders.base import select_rows
from resolvers.pagination import check_page_size, decode_cursor, encode_cursor
from resolvers.records import CycleRow, ResultEventRow, ResultRow

EVENT_BATCH = 100
EVENT_UNAVAILABLE = "EVENT_UNAVAILABLE"
READS = RetryPolicy()
"""How the subscription retries its own reads (the outbox page, the events' results and cycles)."""

log = logging.getLogger("perfhub.events")


class EventUnavailable(GraphQLError):
    """The stream ends before an event it could not deliver; ``lastCursor`` is where to resume."""

    def __init__(self, last_cursor: str | None, reason: str) -> None:
        super().__init__(
            f"an event could not be delivered ({reason}); resume with after = extensions.lastCursor to receive it",
            extensions={"code": EVENT_UNAVAILABLE, "lastCursor": last_cursor},
        )


@dataclass(frozen=True, slots=True)
class DeliveredEvent:
    """An outbox event with the rows its payload shows, read before the event is yielded.

    ``ResultEvent.result`` and ``ResultEvent.cycle`` answer from these rows, so that resolving them for
    the client cannot fail after the stream has handed the event over. The event's own columns are those
    the schema reads; the ids it points at are its rows'.
    """

    id: int
    event_id: str
    type: str
    occurred_at: dt.datetime
    result: ResultRow
    cycle: CycleRow


def cursor_of(event: ResultEventRow | DeliveredEvent) -> str:
    return encode_cursor("event", event.id)


EVENT_TYPES = (RESULT_PUBLISHED, RESULT_REVISED, TRAINING_NEED)
DEFAULT_TYPES = (RESULT_PUBLISHED, RESULT_REVISED)
"""What a stream without a types filter carries: training.need is opt-in, so result consumers see no new kind."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a consumer handles: event types and the post families of the results (None: every one)."""

    types: Sequence[str] | None = None
    post_families: Sequence[str] | None = None


async def _conditions(
    context: Context, cycle_id: int | None, wanted: EventFilter | None = None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    employee_ids = context.scope.employee_ids()
    if employee_ids is not None:
        conditions.append(ResultEvent.employee_id.in_(employee_ids))
    if cycle_id is not None:
        conditions.append(ResultEvent.cycle_id == cycle_id)
    if wanted is not None and wanted.types is not None:
        unknown = sorted(set(wanted.types) - set(EVENT_TYPES))
        if unknown or not wanted.types:
            raise BadUserInput(
                f"'types' must name one or more of {', '.join(EVENT_TYPES)}; unknown: {', '.join(unknown)[:200]}",
                argument="filter",
            )
        conditions.append(ResultEvent.type.in_(wanted.types))
    else:
        conditions.append(ResultEvent.type.in_(DEFAULT_TYPES))
    if wanted is not None and wanted.post_families is not None:
        conditions.append(await _in_families(context, wanted.post_families))
    return conditions


async def _in_families(context: Context, families: Sequence[str]) -> ColumnElement[bool]:
    # A family that no post has is refused rather than matching nothing: a misspelt filter would otherwise
    # look like a quiet stream.
    async with context.sessionmaker() as session:
        known = set(await session.scalars(select(Post.family).where(Post.family.in_(families)).distinct()))
    unknown = sorted(set(families) - known)
    if unknown or not families:
        raise BadUserInput(
            f"'postFamilies' must name families of posts; unknown: {', '.join(unknown)[:200]}", argument="filter"
        )
    of_families = (
        select(AppraisalResult.id).join(Post, Post.id == AppraisalResult.post_id).where(Post.family.in_(families))
    )
    return ResultEvent.result_id.in_(of_families)


def _cycle_filter(cycle_id: str | None) -> int | None:
    if cycle_id is None:
        return None
    key = parse_id(cycle_id)
    if key is None:
        raise BadUserInput(f"'cycleId' is not a cycle id: {cycle_id[:40]!r}", argument="cycleId")
    return key


def _refuse_pseudonymous(context: Context) -> None:
    """The stream is in publication order, which follows the rows' keys and so the employee numbers; its
    event ids and cursors are derived from those keys. An analyst without the names grant reads results
    with ``results``, in pseudonym order, instead."""
    if context.scope.pseudonymous:
        raise Forbidden("not allowed: the result stream needs the 'names' grant for analysts; read 'results' instead")


async def result_events(
    context: Context,
    after: str | None,
    first: int | None,
    cycle_id: str | None = None,
    wanted: EventFilter | None = None,
) -> Sequence[ResultEventRow]:
    """The events after the cursor that the principal may see (and that the filter keeps), oldest first."""
    _refuse_pseudonymous(context)
    limit = check_page_size(first, context.settings.max_page_size, default=EVENT_BATCH)
    cursor = decode_cursor("event", after)
    conditions = await _conditions(context, _cycle_filter(cycle_id), wanted)
    return await read_events(context.sessionmaker, after=cursor, limit=limit, conditions=conditions)


async def _payloads(
    context: Context, sessionmaker: async_sessionmaker[AsyncSession], events: Sequence[ResultEventRow]
) -> dict[int, DeliveredEvent]:
    """The batch's events the principal may see now, by outbox id, each with its result and cycle.

    The result is read with the principal's scope, so this is also the per-batch access check (two
    statements per batch, where loading per event would take two per event).
    """
    async with sessionmaker() as session:
        results: dict[int, ResultRow] = {
            row.id: row
            for row in await session.execute(
                select_rows(AppraisalResult).where(
                    AppraisalResult.id.in_({event.result_id for event in events}), *context.scope.results()
                )
            )
        }
        cycle_ids = {event.cycle_id for event in events if event.result_id in results}
        cycles: dict[int, CycleRow] = (
            {row.id: row for row in await session.execute(select_rows(Cycle).where(Cycle.id.in_(cycle_ids)))}
            if cycle_ids
            else {}
        )
    return {
        event.id: DeliveredEvent(
            id=event.id,
            event_id=event.event_id,
            type=event.type,
            occurred_at=event.occurred_at,
            result=results[event.result_id],
            cycle=cycles[event.cycle_id],
        )
        for event in events
        if event.result_id in results and event.cycle_id in cycles
    }


def _watched(context: Context) -> WatchedSessions:
    """The context's sessionmaker, made a watched one (once per context: a socket's operations share it).

    Its sessions are the same; they only count their failures. Every operation on the socket uses it
    from then on, so a failure in another operation during an event's delivery also ends the stream: a
    needless resume at worst, never a lost event.
    """
    sessions = context.sessionmaker
    if not isinstance(sessions, WatchedSessions):
        sessions = WatchedSessions(sessions)
        context.sessionmaker = sessions
        context.renew_loaders()  # loaders keep the sessionmaker they were made with
    return sessions


def _renew_loaders(context: Context, batch: dict[int, DeliveredEvent]) -> None:
    # Fresh loaders per batch, primed with the rows just read: nested fields that load the same result
    # or cycle (``result { cycle { ... } }``) show what the event shows, without another read.
    context.renew_loaders()
    for delivered in batch.values():
        context.loaders.result_by_id.prime(delivered.result.id, delivered.result)
        context.loaders.cycle_by_id.prime(delivered.cycle.id, delivered.cycle)


def _check_principal(context: Context, now: dt.datetime) -> None:
    # The same rule as every other operation (the verifier's leeway included): an expired token ends the
    # stream; the consumer reconnects with a fresh token and the cursor of the last event it handled.
    if context.principal.expired(now, context.settings.jwt_leeway_seconds):
        raise TokenExpired


async def _read_batch(
    context: Context,
    sessions: WatchedSessions,
    position: int | None,
    conditions: list[ColumnElement[bool]],
    delivered: str | None,
) -> tuple[Sequence[ResultEventRow], dict[int, DeliveredEvent]]:
    """The next outbox page after ``position`` and its deliverable events, each read with retries.

    The stream's own reads go through the unwatched sessionmaker: their failures are retried here and
    must not be taken for the failure of a field resolved for the client.
    """
    try:
        events = await read_with_retries(
            partial(read_events, sessions.inner, after=position, limit=EVENT_BATCH, conditions=conditions),
            READS,
            "reading the outbox",
        )
        if not events:
            return events, {}
        batch = await read_with_retries(
            partial(_payloads, context, sessions.inner, events), READS, "reading the events' results"
        )
    except ReadFailed as failure:
        # A warning without a traceback, like every attempt before it: an outage of minutes would
        # otherwise bury the log in identical ones, and the last error's type and message say enough.
        cause = failure.__cause__
        log.warning(
            "result stream: %s, the last with %s: %s; ending the stream at %s",
            failure,
            type(cause).__name__,
            str(cause).partition("\n")[0],
            delivered,
        )
        raise EventUnavailable(delivered, "the database did not answer") from failure
    return events, batch


def _check_delivery(watch: SessionWatch, failures_before: int, event: DeliveredEvent, delivered: str | None) -> None:
    # The client's selection is resolved after the yield; a read that failed there left the event
    # incomplete (the client received it with an error). Going on would move the subscriber past it.
    if watch.failures != failures_before:
        log.warning("result stream: a field of event %s failed to read; ending the stream at %s", event.id, delivered)
        raise EventUnavailable(delivered, "a field of the event could not be read")


async def _wait_for_news(context: Context, watcher: OutboxWatcher | None, seen: int, poll_seconds: float) -> None:
    """Until the outbox may hold something new: the process's watcher says so (no statement while idle), or,
    without one (a schema run outside the app), after a poll interval. The token is checked meanwhile."""
    if watcher is None:
        await asyncio.sleep(poll_seconds)
        return
    while not await watcher.wait_beyond(seen, poll_seconds):
        _check_principal(context, dt.datetime.now(dt.UTC))


async def result_published(
    context: Context, after: str | None, cycle_id: str | None, poll_seconds: float, wanted: EventFilter | None = None
) -> AsyncIterator[DeliveredEvent]:
    """Every event after the cursor, then new ones as they are published; at-least-once, in order.

    ``position`` is how far the outbox has been read (events skipped as not visible included);
    ``delivered`` is the cursor of the last event delivered, what a resume must start after.
    """
    _refuse_pseudonymous(context)
    position = decode_cursor("event", after)
    conditions = await _conditions(context, _cycle_filter(cycle_id), wanted)
    sessions = _watched(context)
    delivered = after
    watcher = context.outbox
    while True:
        # The newest id known before reading: an event committed after the read moves it past this.
        seen = watcher.latest if watcher is not None else 0
        events, batch = await _read_batch(context, sessions, position, conditions, delivered)
        if not events:
            _check_principal(context, dt.datetime.now(dt.UTC))
            await _wait_for_news(context, watcher, seen, poll_seconds)
            continue
        _renew_loaders(context, batch)
        for event in events:
            # A batch read ahead is delivered without waiting on the database, and an event whose selection
            # needs no loader never suspends: hand the loop over between events, so that replaying history
            # does not hold it for a whole batch while other requests wait.
            await asyncio.sleep(0)
            _check_principal(context, dt.datetime.now(dt.UTC))
            payload = batch.get(event.id)
            if payload is not None:
                failures_before = sessions.watch.failures
                yield payload
                _check_delivery(sessions.watch, failures_before, payload, delivered)
                delivered = cursor_of(payload)
            position = event.id
