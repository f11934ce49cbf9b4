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
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NoReturn

from graphql import GraphQLError
from sqlalchemy import ColumnElement, func, select

from hub import policy
from hub.auth import Role
from hub.db.models import AppraisalResult, Post, ResultEvent
from hub.events.delivery import ReadFailed, RetryPolicy, SessionWatch, WatchedSessions, read_with_retries
from hub.events.fanout import PAGE, OutboxEvent, Subscriber, read_page
from hub.events.outbox import RESULT_PUBLISHED, RESULT_REVISED, TRAINING_NEED
from hub.policy import EmployeeScope
from resolvers.context import Context
from resolvers.cycle_ids import known_cycle
from resolvers.delivered_events import DeliveredEvent as DeliveredEvent
from resolvers.delivered_events import cursor_of as cursor_of
from resolvers.delivered_events import visible
from resolvers.errors import BadUserInput, Forbidden, TokenExpired, parse_id
from resolvers.pagination import check_page_size, decode_cursor, encode_cursor
from resolvers.slow_subscribers import SubscriberTooSlow, end_too_slow

EVENT_BATCH = 100
"""The catch-up query's default page."""
CATCH_UP_BATCH = PAGE
"""Events per read of a subscription that is behind the process's log (and of one without a log)."""
EVENT_UNAVAILABLE = "EVENT_UNAVAILABLE"
SLICE_SECONDS = 0.002
"""How long a stream delivering events read ahead may hold the event loop before it hands it over."""
PREPARED_AHEAD = 64
"""Events whose answers are made before the first of them is sent (a run's work well inside a slice)."""
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
            found = f"unknown: {', '.join(unknown)[:200]}" if unknown else "it names none (null keeps the default)"
            raise BadUserInput(f"'types' must name one or more of {', '.join(EVENT_TYPES)}; {found}", argument="filter")
        if TRAINING_NEED in wanted.types and not context.principal.has(Role.HR_ADMIN, Role.TRAINING):
            # A manager's or an employee's stream of training.need events had gaps in its cursors where other
            # people's needs were written (one after another, in result order): the gaps told who outside the
            # line has a need (insider review). They read their people's needs with trainingNeeds instead.
            raise Forbidden(
                "training.need events are for hr_admin and training; a manager or an employee reads the needs "
                "of their people or their own with trainingNeeds"
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
        found = f"unknown: {', '.join(unknown)[:200]}" if unknown else "it names none (null keeps every family)"
        raise BadUserInput(f"'postFamilies' must name families of posts; {found}", argument="filter")
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
) -> list[DeliveredEvent]:
    """The events after the cursor that the principal may see (and that the filter keeps), oldest first, read
    as the subscription reads them (a page costs the same few statements whatever its length)."""
    _refuse_pseudonymous(context)
    limit = check_page_size(first, context.settings.max_page_size, default=EVENT_BATCH)
    cursor = decode_cursor("event", after)
    cycle = _cycle_filter(cycle_id)
    conditions = await _conditions(context, cycle, wanted)
    page = await read_page(context.sessionmaker, after=cursor or 0, limit=limit, conditions=conditions)
    if not page.events and cursor:
        await _refuse_cursor_past_the_end(context, cursor)
    delivered = await visible(context, context.sessionmaker, page.events, READS)
    if not delivered and cycle is not None:
        await known_cycle(context, cycle)  # an unknown cycle is NOT_FOUND, not an empty page (asked only then)
    return delivered


async def _refuse_cursor_past_the_end(context: Context, cursor: int) -> None:
    """Refuses a cursor past the newest event of the outbox: one from another database (a restored backup, another
    deployment) or altered. Taken as it is, it would skip every event written until the outbox's ids reach it.
    Asked only where nothing follows the cursor, and only of principals who reach every employee: for a manager
    or an employee the answer would tell how many events the whole organisation has (their own cursors show
    only their events' ids), so theirs stay accepted (README, "The event shape")."""
    if policy.employee_scope(context.principal) is not EmployeeScope.EVERY_EMPLOYEE:
        return
    if context.outbox is not None and cursor <= context.outbox.log.end:
        return  # the process's reader has seen that event: no statement for a subscriber resuming within its log
    async with context.sessionmaker() as session:
        newest = await session.scalar(select(func.max(ResultEvent.id)))
    if cursor > (newest or 0):
        raise BadUserInput(
            f"'after' is past the newest event ({encode_cursor('event', newest or 0)}): a cursor from another "
            "database or one altered; resume from the last cursor this hub gave, or from null",
            argument="after",
        )


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


def _renew_loaders(context: Context, batch: Sequence[DeliveredEvent], prime: bool) -> None:
    # Fresh loaders per batch, primed with the rows just read: nested fields that load the same result
    # or cycle (``result { cycle { ... } }``) show what the event shows, without another read. Not primed
    # for a selection the schema projects (``prepare`` given): its fields read the event and nothing else,
    # by projection or by the executor alike, so a thousand primed futures a batch would go unread.
    context.renew_loaders()
    if not prime:
        return
    for delivered in batch:
        context.loaders.result_by_id.prime(delivered.result.id, delivered.result)
        context.loaders.cycle_by_id.prime(delivered.cycle.id, delivered.cycle)


def _check_principal(context: Context, now: dt.datetime) -> None:
    # The same rule as every other operation (the verifier's leeway included): an expired token ends the
    # stream; the consumer reconnects with a fresh token and the cursor of the last event it handled.
    if context.principal.expired(now, context.settings.jwt_leeway_seconds):
        raise TokenExpired


def _check_delivery(watch: SessionWatch, failures_before: int, event: DeliveredEvent, live: _Live) -> None:
    # The client's selection is resolved after the yield; a read that failed there left the event
    # incomplete (the client received it with an error). Going on would move the subscriber past it.
    if watch.failures != failures_before:
        delivered = live.delivered
        log.warning("result stream: a field of event %s failed to read; ending the stream at %s", event.id, delivered)
        raise EventUnavailable(delivered, "a field of the event could not be read")


@dataclass
class _Live:
    """One subscription's place in the stream: how far it has read, and the last event it delivered."""

    context: Context
    position: int
    after: str | None
    """The cursor the stream started after."""
    delivered_id: int | None = None
    """The outbox id of the last event delivered (its cursor is made when it is asked for, not per event)."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def delivered(self) -> str | None:
        """The cursor of the last event delivered (``after`` when none was): where a resume must start after."""
        return self.after if self.delivered_id is None else encode_cursor("event", self.delivered_id)

    def too_slow(self) -> None:
        """Called by the process's reader when the subscription has to end (``resolvers.slow_subscribers``)."""
        end_too_slow(self.context, self.delivered, self.ended)


def _keeps(cycle_id: int | None, wanted: EventFilter | None) -> Callable[[OutboxEvent], bool]:
    """The subscription's filter in memory, the same as ``_conditions``' type, cycle and post-family terms."""
    types = frozenset(DEFAULT_TYPES if wanted is None or wanted.types is None else wanted.types)
    families = None if wanted is None or wanted.post_families is None else frozenset(wanted.post_families)

    def keeps(event: OutboxEvent) -> bool:
        return (
            (cycle_id is None or event.row.cycle_id == cycle_id)
            and event.row.type in types
            and (families is None or event.row.family in families)
        )

    return keeps


_Look = tuple[tuple[int, Sequence[OutboxEvent]] | None, list[DeliveredEvent]]
"""What a look at the stream finds: the next events and how far they take it (None: nothing new yet), and
those of them the subscriber may see."""


async def _next_events(
    live: _Live, position: int, sessions: WatchedSessions, conditions: list[ColumnElement[bool]]
) -> tuple[int, Sequence[OutboxEvent]] | None:
    """The next events after the position and how far they take it; None when there is nothing new yet.

    From the process's log when it reaches back to the position; otherwise from the outbox, a large page at
    a time (a resume from an old cursor, or a consumer that fell behind the log), with the subscription's
    conditions in SQL. A short page has seen everything up to where the process's reader had read before it
    (those events were committed before the page was read), so the position moves that far.
    """
    watcher = live.context.outbox
    if watcher is not None:
        events = watcher.log.after(position, CATCH_UP_BATCH)
        if events is not None:
            return (events[-1].id, events) if events else None
    known = watcher.log.end if watcher is not None else position
    page = await read_with_retries(
        partial(read_page, sessions.inner, after=position, limit=CATCH_UP_BATCH, conditions=conditions),
        READS,
        "reading the outbox",
    )
    last = max(page.last, known) if len(page.events) < CATCH_UP_BATCH else page.last
    if not page.events:
        return (last, ()) if last > position else None
    return last, page.events


async def _wait(context: Context, subscriber: Subscriber | None, poll_seconds: float) -> None:
    """Until the process's reader has something new (no statement while idle), or, without one (a schema run
    outside the app), a poll interval. The token is checked meanwhile."""
    if subscriber is None:
        await asyncio.sleep(poll_seconds)
        return
    while not subscriber.wake.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscriber.wake.wait(), poll_seconds)
        _check_principal(context, dt.datetime.now(dt.UTC))


async def result_published(
    context: Context,
    after: str | None,
    cycle_id: str | None,
    poll_seconds: float,
    wanted: EventFilter | None = None,
    prepare: Callable[[Sequence[DeliveredEvent]], None] | None = None,
) -> AsyncGenerator[DeliveredEvent, None]:
    """Every event after the cursor, then new ones as they are published; at-least-once, in order.

    ``prepare``, when given, is handed each run of ``PREPARED_AHEAD`` events before the first of them is
    yielded (the schema makes their answers ahead: ``schema.event_projection.Preparation``); it is given only
    for a selection whose fields read nothing but the event (no loader).

    ``live.position`` is how far the outbox has been read (events skipped as not visible included);
    ``live.delivered`` is the cursor of the last event delivered, what a resume must start after.
    """
    _refuse_pseudonymous(context)
    cycle = _cycle_filter(cycle_id)
    if cycle is not None:
        await known_cycle(context, cycle)  # an unknown cycle is NOT_FOUND, not a stream that never speaks
    conditions = await _conditions(context, cycle, wanted)
    keeps = _keeps(cycle, wanted)
    sessions = _watched(context)
    live = _Live(context, decode_cursor("event", after) or 0, after)
    handed_over = time.monotonic()
    watcher = context.outbox
    subscriber = watcher.subscribe(live.position, live.too_slow) if watcher is not None else None

    async def look(position: int) -> _Look:
        """The next events after ``position`` and those of them the subscriber may see (``_next_events``)."""
        step = await _next_events(live, position, sessions, conditions)
        if step is None:
            return None, []
        return step, await visible(context, sessions.inner, [event for event in step[1] if keeps(event)], READS)

    # A full batch says more is waiting: the next one is read while this one is delivered, so that a replay
    # does not wait on the database between batches. Its reads use the unwatched sessions (a retried read
    # there is not a field of a delivered event that failed), and what it found is used only as it would
    # have been found: in order, at the position this batch ends at.
    ahead: asyncio.Task[_Look] | None = None
    unchecked_cursor = live.position > 0
    try:
        while True:
            if subscriber is not None:
                if subscriber.too_slow:
                    raise SubscriberTooSlow(live.delivered)
                if ahead is None:
                    subscriber.wake.clear()  # before looking: news that comes while this looks sets it again
                # (A look made ahead began before this point: the wake-up is left set, for a look again.)
            try:
                if ahead is None:
                    step, batch = await look(live.position)
                else:
                    looking, ahead = ahead, None
                    step, batch = await looking
            except ReadFailed as failure:
                _give_up(failure, live.delivered)
            if step is None:
                if unchecked_cursor:
                    unchecked_cursor = False
                    await _refuse_cursor_past_the_end(context, live.position)
                _check_principal(context, dt.datetime.now(dt.UTC))
                await _wait(context, subscriber, poll_seconds)
                continue
            unchecked_cursor = False  # events follow it: it is one of this outbox's
            if len(step[1]) >= CATCH_UP_BATCH:
                ahead = asyncio.create_task(look(step[0]))
            _renew_loaders(context, batch, prime=prepare is None)
            _check_principal(context, dt.datetime.now(dt.UTC))
            for index, payload in enumerate(batch):
                # A batch read ahead is delivered without waiting on the database, and an event whose selection
                # needs no loader never suspends: hand the loop over every slice, so that replaying history
                # does not hold it for a whole batch while other requests wait (not after every event: a pass
                # through the loop was a tenth of an event's cost in a replay). The token's expiry is a point in
                # time: it is checked against the clock once a slice (and once a batch), not for every event of
                # a slice's 2 ms; a delivery that waited (a full socket) starts a new slice, so it is checked then.
                if time.monotonic() >= handed_over + SLICE_SECONDS:
                    await asyncio.sleep(0)
                    handed_over = time.monotonic()
                    _check_principal(context, dt.datetime.now(dt.UTC))
                if subscriber is not None and subscriber.too_slow:
                    raise SubscriberTooSlow(live.delivered)
                if prepare is not None and index % PREPARED_AHEAD == 0:
                    prepare(batch[index : index + PREPARED_AHEAD])
                failures_before = sessions.watch.failures
                yield payload
                _check_delivery(sessions.watch, failures_before, payload, live)
                live.delivered_id = payload.id
                if subscriber is not None:
                    subscriber.moved(payload.id)
            live.position = step[0]
            if subscriber is not None:
                subscriber.moved(live.position)
    finally:
        if ahead is not None:
            await _drop(ahead)
        live.ended.set()
        if watcher is not None and subscriber is not None:
            watcher.unsubscribe(subscriber)


async def _drop(ahead: asyncio.Task[_Look]) -> None:
    """Cancels a look ahead the stream ended before using, and waits until it has let go of its connection; a
    failure it met is taken, not left to be logged as never retrieved (the stream ended for its own reason)."""
    ahead.cancel()
    await asyncio.wait([ahead])  # never raises the look's own error; a cancellation of the stream still ends it
    if not ahead.cancelled():
        ahead.exception()


def _give_up(failure: ReadFailed, delivered: str | None) -> NoReturn:
    # A warning without a traceback, like every attempt before it: an outage of minutes would otherwise
    # bury the log in identical ones, and the last error's type and message say enough.
    cause = failure.__cause__
    log.warning(
        "result stream: %s, the last with %s: %s; ending the stream at %s",
        failure,
        type(cause).__name__,
        str(cause).partition("\n")[0],
        delivered,
    )
    raise EventUnavailable(delivered, "the database did not answer") from failure
