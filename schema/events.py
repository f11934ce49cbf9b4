"""Results out: the result event stream, as a catch-up query and as a live subscription."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import strawberry
from strawberry.types.field import StrawberryField

from resolvers import events as event_stream
from resolvers.loaders import Loaders
from resolvers.loaders.base import SharedLoader
from resolvers.records import ResultEventRow
from schema import fields
from schema.info import Info
from schema.permissions import AUTHENTICATED, enforce
from schema.results import AppraisalResult, Cycle

EVENT_SCOPE = (
    "Events of results the caller may see (the same row scope as results); checked again for every event delivered. "
    "Refused (FORBIDDEN) to an analyst without the 'names' grant: the stream's order and ids follow the employees."
)


V = TypeVar("V")


def _delivered_or_loaded(
    graphql_type: object,
    delivered: Callable[[event_stream.DeliveredEvent], V],
    loader: Callable[[Loaders], SharedLoader[int, V | None]],
    key: Callable[[ResultEventRow], int],
) -> StrawberryField:
    """A record an event points at. The subscription hands over events with their cycle and result already
    read (with retries), so such a field cannot fail once the event is on its way; the catch-up query's rows
    load them."""

    async def resolve(root: strawberry.Parent[ResultEventRow | event_stream.DeliveredEvent], info: Info) -> V | None:
        if isinstance(root, event_stream.DeliveredEvent):
            return delivered(root)
        return await loader(info.context.loaders).load(key(root))

    return fields.field(graphql_type=graphql_type)(resolve)


@strawberry.input(description="What a consumer handles; every field left null keeps every event.")
class ResultEventFilter:
    types: list[str] | None = strawberry.field(
        default=None,
        description="Event types to keep: result.published, result.revised, training.need (another is BAD_USER_INPUT). "
        "Null keeps result.published and result.revised: training.need comes only to those who name it.",
    )
    post_families: list[str] | None = strawberry.field(
        default=None,
        description="Keep the events of results scored in posts of these families (a family no post has is "
        "BAD_USER_INPUT, so that a misspelt filter is not a quiet stream).",
    )

    def wanted(self) -> event_stream.EventFilter:
        return event_stream.EventFilter(types=self.types, post_families=self.post_families)


def wanted(filter_: ResultEventFilter | None) -> event_stream.EventFilter | None:
    return None if filter_ is None else filter_.wanted()


@strawberry.type(description="One published (or revised) appraisal result. eventId is stable across redeliveries.")
class ResultEvent:
    event_id: strawberry.ID
    type: str = strawberry.field(
        description="result.published when its cycle was published; result.revised when a published result was "
        "corrected (resultCorrect), once per correction: its result shows the corrected total and grade, its "
        "adjustments the correction; training.need (only where the filter names it) when a published result has "
        "core indicators under their threshold (trainingNeeds tells which). "
        "A consumer that handles neither should skip other types: more may come."
    )
    occurred_at: dt.datetime

    @fields.field(description="Resume after this event by passing it as 'after'.")
    def cursor(self, root: strawberry.Parent[ResultEventRow | event_stream.DeliveredEvent]) -> str:
        return event_stream.cursor_of(root)

    cycle = _delivered_or_loaded(
        Cycle, lambda event: event.cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id
    )
    result = _delivered_or_loaded(
        AppraisalResult, lambda event: event.result, lambda loaders: loaders.result_by_id, lambda row: row.result_id
    )


@strawberry.type
class Subscription:
    @fields.subscription(
        description=AUTHENTICATED.describe(
            "Every result event after the cursor (all of them when it is null), then new ones live. "
            "At-least-once and in order, never past an event that was not delivered: if one cannot be "
            "(the database did not answer after retries, or a field of it failed to read, in which case "
            "it arrived with errors), the stream ends with an error whose extensions are "
            "{code: EVENT_UNAVAILABLE, lastCursor}, the cursor of the last event delivered (the 'after' "
            "given when none was). Resume with after = lastCursor to receive that event again. " + EVENT_SCOPE
        ),
        extensions=enforce(AUTHENTICATED, "resultPublished"),
        graphql_type=ResultEvent,
    )
    async def result_published(
        self,
        info: Info,
        after: str | None = None,
        cycle_id: strawberry.ID | None = None,
        filter: ResultEventFilter | None = None,
    ) -> AsyncGenerator[event_stream.DeliveredEvent, None]:
        poll = info.context.settings.event_poll_seconds
        async for event in event_stream.result_published(info.context, after, cycle_id, poll, wanted(filter)):
            yield event
