"""Appending result events in the transaction that publishes or corrects.

The outbox is the single source of truth for delivery: a subscriber that reconnects with its last
cursor gets everything after it, whichever process published, so delivery is at-least-once without a
broker that must not lose messages.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import AppraisalResult, ResultEvent, utcnow
from hub.events.contents import read_snapshots
from hub.events.watcher import notify_new_events

RESULT_PUBLISHED = "result.published"
RESULT_REVISED = "result.revised"
"""A published result corrected (``resultCorrect``): the event carries the corrected total and grade of that
correction (``hub.events.contents``)."""
TRAINING_NEED = "training.need"
"""A published result with core indicators under their threshold (``hub.closedloop.needs``); opt-in for streams."""
# Event ids are uuid5 in perfhub's own namespace: stable per (type, result), so a redelivered or
# replayed event keeps its id.
_NAMESPACE = uuid.UUID("4f1c1d3e-2a4b-4d53-9a57-706572666875")
_PUBLISH_LOCK = 0x7065_7266_6875_6231  # "perfhub1": the advisory lock that orders publishers


def event_id(event_type: str, result_id: int, adjustment_id: int | None = None) -> str:
    # A result is published once but may be corrected many times: a revision's id names its adjustment.
    name = f"{event_type}:{result_id}" if adjustment_id is None else f"{event_type}:{result_id}:{adjustment_id}"
    return str(uuid.uuid5(_NAMESPACE, name))


async def _take_turn(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLISH_LOCK})


async def append_published(session: AsyncSession, cycle_id: int) -> int:
    """Writes one ``result.published`` event per result of the cycle, in the caller's transaction.

    Readers page the outbox by id. On PostgreSQL two publishing transactions could take ids in one order
    and commit in the other, and a reader between the commits would move past the later-committed,
    lower ids for good; a transaction-scoped advisory lock makes publishers take their turn, so ids are
    committed in order. (SQLite serialises writers anyway.)
    """
    await _take_turn(session)
    rows = (
        await session.execute(
            select(AppraisalResult.id, AppraisalResult.employee_id)
            .where(AppraisalResult.cycle_id == cycle_id)
            .order_by(AppraisalResult.id)
        )
    ).all()
    now = utcnow()
    # What each event carries, as of this transaction: a later correction has its own event.
    snapshots = await read_snapshots(session, [row.id for row in rows])
    events = [
        {
            "event_id": event_id(RESULT_PUBLISHED, row.id),
            "type": RESULT_PUBLISHED,
            "cycle_id": cycle_id,
            "result_id": row.id,
            "employee_id": row.employee_id,
            "occurred_at": now,
            "snapshot": snapshots.get(row.id),
        }
        for row in rows
    ]
    if events:
        await session.execute(insert(ResultEvent), events)
        await notify_new_events(session)
    return len(events)


async def append_revised(
    session: AsyncSession, *, cycle_id: int, result_id: int, employee_id: int, adjustment_id: int
) -> None:
    """Writes the ``result.revised`` event of one correction, in the correcting transaction; it takes its
    turn behind the same lock as publishing, so the stream's ids are committed in order. Called after the
    result is changed: the event carries the corrected figures, and keeps them through later corrections."""
    await _take_turn(session)
    snapshots = await read_snapshots(session, [result_id])
    await session.execute(
        insert(ResultEvent).values(
            event_id=event_id(RESULT_REVISED, result_id, adjustment_id),
            type=RESULT_REVISED,
            cycle_id=cycle_id,
            result_id=result_id,
            employee_id=employee_id,
            occurred_at=utcnow(),
            snapshot=snapshots.get(result_id),
        )
    )
    await notify_new_events(session)
