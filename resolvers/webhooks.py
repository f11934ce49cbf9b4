"""hr_admin's reads of the webhooks: the endpoints (never their secrets) and each endpoint's delivery log."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from hub.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from hub.webhooks.queue import DEAD, DELIVERED, PENDING
from hub.webhooks.registry import EndpointRecord
from hub.webhooks.signing import event_cursor
from resolvers.context import Context
from resolvers.errors import BadUserInput, parse_id
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of the delivery log, with its event's cursor (what ``webhookReplay`` takes)."""

    id: int
    event_id: str
    event_cursor: str
    attempt: int
    status_code: int | None
    error: str | None
    latency_ms: int
    at: dt.datetime
    outcome: str
    next_attempt_at: dt.datetime | None


async def endpoints(context: Context, only: int | None = None) -> list[EndpointRecord]:
    """Every endpoint (or the one ``only`` names), oldest first, with its deliveries counted by state."""
    chosen = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    counted = select(WebhookDelivery.endpoint_id, WebhookDelivery.state, func.count()).group_by(
        WebhookDelivery.endpoint_id, WebhookDelivery.state
    )
    if only is not None:
        chosen = chosen.where(WebhookEndpoint.id == only)
        counted = counted.where(WebhookDelivery.endpoint_id == only)
    async with context.sessionmaker() as session:
        rows = (await session.scalars(chosen)).all()
        counts = (await session.execute(counted)).all()
    by_state: dict[tuple[int, str], int] = {(endpoint_id, state): count for endpoint_id, state, count in counts}
    return [
        dataclasses.replace(
            EndpointRecord.of(row),
            pending=by_state.get((row.id, PENDING), 0),
            delivered=by_state.get((row.id, DELIVERED), 0),
            dead=by_state.get((row.id, DEAD), 0),
        )
        for row in rows
    ]


async def endpoint(context: Context, endpoint_id: int) -> EndpointRecord:
    """One endpoint as ``endpoints`` shows it (a mutation's answer, read after its commit)."""
    (found,) = await endpoints(context, endpoint_id)
    return found


async def deliveries(context: Context, endpoint_id: str, first: int | None, after: str | None) -> Connection | None:
    """The endpoint's attempts, newest first, a page at a time; None when there is no such endpoint."""
    key = parse_id(endpoint_id)
    if key is None:
        raise BadUserInput(f"'endpointId' is not a webhook endpoint id: {endpoint_id[:40]!r}", argument="endpointId")
    first = check_page_size(first, context.settings.max_page_size)
    before = decode_cursor("webhook-attempt", after)
    page = (
        select(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == key)
        .order_by(WebhookAttempt.id.desc())
        .limit(first + 1)
    )
    if before is not None:
        page = page.where(WebhookAttempt.id < before)
    async with context.sessionmaker() as session:
        if await session.get(WebhookEndpoint, key) is None:
            return None
        rows = (await session.scalars(page)).all()
        total = await session.scalar(select(func.count()).where(WebhookAttempt.endpoint_id == key)) or 0
    records = [
        AttemptRecord(
            **{
                field.name: getattr(row, field.name)
                for field in dataclasses.fields(AttemptRecord)
                if field.name != "event_cursor"
            },
            event_cursor=event_cursor(row.outbox_id),
        )
        for row in rows
    ]
    return make_connection("webhook-attempt", records, first, total)
