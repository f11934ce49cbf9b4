"""The delivery state machine, kept in the database so that any hub process, or a restarted one, carries on.

    outbox event ──enqueue──> PENDING ──2xx──────────────> DELIVERED
                                │  ^ ──failure, tries left─┘ (RETRYING: next_attempt_at = backoff / Retry-After)
                                │  └──── replay ───────── DEAD (the last try failed) / DELIVERED
                                └──410 Gone, or an address the hub refuses──> stays PENDING, the endpoint is
                                   disabled (enable resumes it)

- **Enqueue.** Each enabled endpoint has a cursor into the outbox (``enqueued_up_to``); new events
  that match its filters become PENDING deliveries and the cursor moves on, in one transaction under
  the endpoint's row lock (``FOR UPDATE SKIP LOCKED``: two processes never enqueue for one endpoint at
  once, and the unique (endpoint, event) key would refuse a second row anyway).
- **Claim.** A delivery is due when it is its endpoint's *head* (the lowest PENDING cursor: an
  endpoint's next event waits until the previous one is delivered or dead), its ``next_attempt_at``
  has come and nobody holds a lease on it. A claim locks due rows ``FOR UPDATE SKIP LOCKED``, gives
  each a lease and its next attempt number, and commits: a second process skips the locked rows and
  then finds them leased, so no attempt is ever posted twice. SQLite has no row locks: one hub process
  per SQLite database delivers (which is the only way SQLite is run).
- **Outcome.** The attempt is logged and the delivery moves on, only if it still holds that attempt
  number (a process whose lease ran out while it posted records its attempt but moves nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from hub.db.models import (
    AppraisalResult,
    Post,
    ResultEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from hub.events.contents import as_data, read_event_contents
from hub.webhooks.signing import event_cursor

PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"
RETRYING, DISABLED = "RETRYING", "DISABLED"
"""Outcomes of an attempt beside DELIVERED and DEAD: tried again later; 410 Gone disabled the endpoint."""
ENQUEUE_BATCH = 500


def matching(endpoint: WebhookEndpoint, after: int, up_to: int | None) -> list[ColumnElement[bool]]:
    """The outbox events after ``after`` (and up to ``up_to``) that the endpoint's filters take."""
    conditions = [ResultEvent.id > after, ResultEvent.type.in_(endpoint.event_types)]
    if up_to is not None:
        conditions.append(ResultEvent.id <= up_to)
    if endpoint.cycle_id is not None:
        conditions.append(ResultEvent.cycle_id == endpoint.cycle_id)
    if endpoint.post_family is not None:
        family = select(Post.family).join(AppraisalResult, AppraisalResult.post_id == Post.id)
        conditions.append(
            family.where(AppraisalResult.id == ResultEvent.result_id).scalar_subquery() == endpoint.post_family
        )
    return conditions


async def add_deliveries(session: AsyncSession, endpoint_id: int, outbox_ids: Sequence[int], now: dt.datetime) -> None:
    """PENDING deliveries of these events; an event the endpoint already has a delivery of is left alone."""
    if not outbox_ids:
        return
    rows = [
        {
            "endpoint_id": endpoint_id,
            "outbox_id": outbox_id,
            "state": PENDING,
            "attempts": 0,
            "round_start": 0,
            "next_attempt_at": now,
        }
        for outbox_id in outbox_ids
    ]
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(make(WebhookDelivery).on_conflict_do_nothing(), rows)


async def enqueue(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Makes the deliveries of the outbox events each enabled endpoint has not seen yet; how many."""
    made = 0
    async with sessionmaker() as session, session.begin():
        endpoints = (
            await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.enabled)
                .order_by(WebhookEndpoint.id)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not endpoints:
            return 0
        newest = await session.scalar(select(func.max(ResultEvent.id)))
        for endpoint in endpoints:
            if newest is None or endpoint.enqueued_up_to >= newest:
                continue
            up_to = min(newest, endpoint.enqueued_up_to + ENQUEUE_BATCH)
            ids = (
                await session.scalars(select(ResultEvent.id).where(*matching(endpoint, endpoint.enqueued_up_to, up_to)))
            ).all()
            await add_deliveries(session, endpoint.id, ids, utcnow())
            endpoint.enqueued_up_to = up_to
            made += len(ids)
    return made


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds the lease of, with what it needs to post it."""

    delivery_id: int
    attempt: int
    tries: int
    """The attempt's number in the current round (1 = first try since it was queued or replayed)."""
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]
    outbox_id: int
    event_id: str
    event_type: str
    occurred_at: dt.datetime
    data: dict[str, object]


async def claim(sessionmaker: async_sessionmaker[AsyncSession], *, limit: int, lease_seconds: float) -> list[Claimed]:
    """Leases up to ``limit`` due deliveries (at most one per endpoint: its head) and numbers their attempts."""
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    is_head = ~(
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.state == PENDING,
            earlier.outbox_id < WebhookDelivery.outbox_id,
        )
        .exists()
    )
    due = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookEndpoint.enabled,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            is_head,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    async with sessionmaker() as session, session.begin():
        deliveries = (await session.scalars(due)).all()
        if not deliveries:
            return []
        for delivery in deliveries:
            delivery.attempts += 1
        claimed = await _with_payloads(session, deliveries, now)
        # The lease runs from when the payloads are read, just before the commit, not from the select: reading
        # them takes a few statements, which a loaded database may make last a noticeable part of a short lease.
        lease = utcnow() + dt.timedelta(seconds=lease_seconds)
        for delivery in deliveries:
            delivery.lease_until = lease
        return claimed


async def _with_payloads(
    session: AsyncSession, deliveries: Sequence[WebhookDelivery], now: dt.datetime
) -> list[Claimed]:
    endpoint_ids = {delivery.endpoint_id for delivery in deliveries}
    endpoints = {
        endpoint.id: endpoint
        for endpoint in await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))
    }
    events = {
        row.id: row
        for row in await session.execute(
            select(
                ResultEvent.id,
                ResultEvent.event_id,
                ResultEvent.type,
                ResultEvent.occurred_at,
                ResultEvent.result_id,
                ResultEvent.snapshot,
            ).where(ResultEvent.id.in_({delivery.outbox_id for delivery in deliveries}))
        )
    }
    # The same record the GraphQL stream shows (hub.events.contents): one shape on every channel, with the
    # figures of the moment the event was written.
    contents = await read_event_contents(session, events.values())
    claimed = []
    for delivery in deliveries:
        endpoint, event = endpoints[delivery.endpoint_id], events[delivery.outbox_id]
        in_force = [endpoint.secret]
        if (
            endpoint.previous_secret is not None
            and endpoint.previous_secret_until
            and endpoint.previous_secret_until > now
        ):
            in_force.append(endpoint.previous_secret)
        data = as_data(
            contents[event.id],
            event_id=event.event_id,
            event_type=event.type,
            occurred_at=event.occurred_at,
            cursor=event_cursor(event.id),
        )
        claimed.append(
            Claimed(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                tries=delivery.attempts - delivery.round_start,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                secrets=tuple(in_force),
                outbox_id=event.id,
                event_id=event.event_id,
                event_type=event.type,
                occurred_at=event.occurred_at,
                data=data,
            )
        )
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to; ``next_attempt_at`` is set when it is to be tried again."""

    state: str
    status_code: int | None
    error: str | None
    latency_ms: int
    at: dt.datetime
    next_attempt_at: dt.datetime | None = None
    disabled_reason: str | None = None
    """Why the endpoint is disabled, for DISABLED (the receiver's 410, or an address the hub refuses)."""


async def record(sessionmaker: async_sessionmaker[AsyncSession], claimed: Claimed, outcome: Outcome) -> None:
    """Logs the attempt and moves the delivery on (if this attempt still holds it), in one transaction."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(WebhookAttempt).values(
                delivery_id=claimed.delivery_id,
                endpoint_id=claimed.endpoint_id,
                event_id=claimed.event_id,
                outbox_id=claimed.outbox_id,
                attempt=claimed.attempt,
                status_code=outcome.status_code,
                error=outcome.error,
                latency_ms=outcome.latency_ms,
                at=outcome.at,
                outcome=outcome.state,
                next_attempt_at=outcome.next_attempt_at,
            )
        )
        state = {DELIVERED: DELIVERED, DEAD: DEAD}.get(outcome.state, PENDING)
        still_ours = and_(WebhookDelivery.id == claimed.delivery_id, WebhookDelivery.attempts == claimed.attempt)
        await session.execute(
            update(WebhookDelivery)
            .where(still_ours)
            .values(state=state, lease_until=None, next_attempt_at=outcome.next_attempt_at or outcome.at)
        )
        if outcome.state == DISABLED:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == claimed.endpoint_id)
                .values(enabled=False, disabled_reason=f"{outcome.disabled_reason} at {outcome.at.isoformat()}")
            )
