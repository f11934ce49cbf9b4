"""The events a subscription delivers: an outbox event as the principal may see it, shared by the subscriptions.

``visible`` decides, for a page of the outbox (the process's log's, or a subscription's own), which events the
principal may see, and hands each as the ``DeliveredEvent`` the schema's ``ResultEvent`` reads: one object per
event and ``managed``, whichever subscriptions deliver it, so that what is made of it for a selection (an
execution, a projection, its JSON) is made once (``resolvers.event_results``, ``schema.event_projection``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import cast

from graphql import ExecutionResult, OperationDefinitionNode
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult
from hub.events.contents import EventContents
from hub.events.delivery import RetryPolicy, read_with_retries
from hub.events.fanout import OutboxEvent
from hub.policy import manages_reporting_line
from resolvers.context import Context
from resolvers.pagination import encode_cursor
from resolvers.records import CycleRow, ResultEventRow, ResultRow


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
    contents: EventContents
    """What the event carries for a module to act on (``hub.events.contents``), read with the page."""
    managed: bool
    """Whether the principal manages the event's employee, for the field rules (``resolvers.scope.MANAGED``)."""
    answers: dict[tuple[object, ...], tuple[OperationDefinitionNode, ExecutionResult]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Executions of subscriptions' selections for this event, shared (``resolvers.event_results``)."""
    projected: dict[Hashable, ExecutionResult] = field(default_factory=dict, compare=False, repr=False)
    """Answers made by projection for this event, by selection (``schema.event_projection``), shared."""

    @property
    def employee_no(self) -> str:
        return self.contents.employee_no


def cursor_of(event: ResultEventRow | DeliveredEvent) -> str:
    return encode_cursor("event", event.id)


async def _results_in_scope(context: Context, sessions: async_sessionmaker[AsyncSession], ids: set[int]) -> set[int]:
    async with sessions() as session:
        allowed = await session.scalars(
            select(AppraisalResult.id).where(AppraisalResult.id.in_(ids), *context.scope.results())
        )
        return set(allowed)


async def visible(
    context: Context, sessions: async_sessionmaker[AsyncSession], events: Sequence[OutboxEvent], reads: RetryPolicy
) -> list[DeliveredEvent]:
    """The events the principal may see now. The scope is decided in memory from the rows the page carries
    (``Scope.admits_result``); a manager's reporting line only the database knows, so for a manager the
    batch's results are checked by one statement with the scope's SQL (``Scope.results``)."""
    admits = context.scope.result_admission
    verdicts = {
        event.id: admits(event.row.employee_no, event.cycle.state)
        for event in events
        if event.result is not None and event.cycle is not None and event.contents is not None
    }
    undecided = [event for event in events if event.id in verdicts and verdicts[event.id] is None]
    if undecided:
        ids = {event.row.result_id for event in undecided}
        allowed = await read_with_retries(
            partial(_results_in_scope, context, sessions, ids), reads, "reading the events' results"
        )
        verdicts.update({event.id: event.row.result_id in allowed for event in undecided})
    # Events reach a manager for themselves and their reporting line only (the scope above), so an event of
    # someone else is of someone they manage.
    me = context.principal.employee_number
    manages = manages_reporting_line(context.principal)
    return [_delivered(event, manages and event.row.employee_no != me) for event in events if verdicts.get(event.id)]


def _delivered(event: OutboxEvent, managed: bool) -> DeliveredEvent:
    """One payload per event of the process's log (and whether its reader manages the employee), shared by every
    subscription that delivers it: kept on the event (``OutboxEvent.payloads``)."""
    payloads = event.payloads
    payload = cast(DeliveredEvent | None, payloads.get(managed))
    if payload is None:
        payload = DeliveredEvent(
            id=event.id,
            event_id=event.row.event_id,
            type=event.row.type,
            occurred_at=event.row.occurred_at,
            result=cast(ResultRow, event.result),
            cycle=cast(CycleRow, event.cycle),
            contents=cast(EventContents, event.contents),
            managed=managed,
        )
        payloads[managed] = payload
    return payload
