"""The result event stream: a catch-up page (``resultEvents``) and the live subscription.

Both read the outbox by cursor. Every event is checked against the principal when it is delivered, not
only when the subscription starts: an event whose result the principal may not see is skipped, and a
principal whose token has expired is disconnected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select

from hub.db.models import AppraisalResult, ResultEvent
from hub.events.outbox import read_events
from resolvers.context import Context
from resolvers.errors import BadUserInput, TokenExpired, parse_id
from resolvers.loaders.base import Record
from resolvers.pagination import check_page_size, decode_cursor, encode_cursor

EVENT_BATCH = 100


def cursor_of(event: Record) -> str:
    return encode_cursor("event", event.id)


def _conditions(context: Context, cycle_id: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    employee_ids = context.scope.employee_ids()
    if employee_ids is not None:
        conditions.append(ResultEvent.employee_id.in_(employee_ids))
    if cycle_id is not None:
        conditions.append(ResultEvent.cycle_id == cycle_id)
    return conditions


def _cycle_filter(cycle_id: str | None) -> int | None:
    if cycle_id is None:
        return None
    key = parse_id(cycle_id)
    if key is None:
        raise BadUserInput(f"'cycleId' is not a cycle id: {cycle_id[:40]!r}", argument="cycleId")
    return key


async def result_events(context: Context, after: str | None, first: int | None) -> Sequence[Record]:
    """The events after the cursor that the principal may see, oldest first."""
    limit = check_page_size(first, context.settings.max_page_size, default=EVENT_BATCH)
    cursor = decode_cursor("event", after)
    return await read_events(context.sessionmaker, after=cursor, limit=limit, conditions=_conditions(context, None))


async def _still_visible(context: Context, events: Sequence[Record]) -> set[int]:
    """The result ids among ``events`` the principal may read now (one statement per batch)."""
    statement = select(AppraisalResult.id).where(
        AppraisalResult.id.in_([event.result_id for event in events]), *context.scope.results()
    )
    async with context.sessionmaker() as session:
        return set((await session.scalars(statement)).all())


def _check_principal(context: Context, now: dt.datetime) -> None:
    # The same rule as every other operation (the verifier's leeway included): an expired token ends the
    # stream; the consumer reconnects with a fresh token and the cursor of the last event it handled.
    if context.principal.expired(now, context.settings.jwt_leeway_seconds):
        raise TokenExpired


async def result_published(
    context: Context, after: str | None, cycle_id: str | None, poll_seconds: float
) -> AsyncIterator[Any]:
    """Every event after the cursor, then new ones as they are published; at-least-once, in order."""
    cursor = decode_cursor("event", after)
    conditions = _conditions(context, _cycle_filter(cycle_id))
    while True:
        events = await read_events(context.sessionmaker, after=cursor, limit=EVENT_BATCH, conditions=conditions)
        if not events:
            _check_principal(context, dt.datetime.now(dt.UTC))
            await asyncio.sleep(poll_seconds)
            continue
        visible = await _still_visible(context, events)
        context.renew_loaders()
        for event in events:
            _check_principal(context, dt.datetime.now(dt.UTC))
            if event.result_id in visible:
                yield event
            cursor = event.id
