"""Results out: the result event stream, as a catch-up query and as a live subscription."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

import strawberry
from strawberry.types.field import StrawberryField

from connectors.base import Period  # an event's period is the cycle's range of days, as the connectors' Period
from hub.events.contents import EventContents, EventIndicatorScore
from resolvers import events as event_stream
from resolvers.records import CycleRow, ResultRow
from schema import fields
from schema.enums import Grade
from schema.event_projection import preparation
from schema.info import Info
from schema.permissions import AUTHENTICATED, NAMES, enforce, guarded
from schema.projection_code import reads_attribute
from schema.results import AppraisalResult, Cycle
from schema.rounding import ROUNDED
from schema.values import object_type

EVENT_SCOPE = (
    "Events of results the caller may see (the same row scope as results); checked again for every event delivered. "
    "Refused (FORBIDDEN) to an analyst without the 'names' grant: the stream's order and ids follow the employees."
)


def _carried(read: Callable[[EventContents], object] | str, graphql_type: object, description: str) -> StrawberryField:
    """A field of what the event carries (``hub.events.contents``), read with the event's batch: it cannot fail
    once the event is on its way, and costs no statement of its own. ``read`` is the record's attribute of that
    name (a projection reads it without a call: ``schema.projection_code.reads_attribute``), or a function of
    the record."""
    if isinstance(read, str):
        name = read

        @reads_attribute(f"contents.{name}")
        def resolve(root: strawberry.Parent[event_stream.DeliveredEvent]) -> object:
            return getattr(root.contents, name)

    else:
        function = read

        def resolve(root: strawberry.Parent[event_stream.DeliveredEvent]) -> object:
            return function(root.contents)

    return fields.field(description=description, graphql_type=graphql_type)(resolve)


object_type(
    Period,
    name="EventPeriod",
    description="The period the event's cycle appraises.",
    fields={"start": "Its first day.", "end": "Its last day."},
)
object_type(
    EventIndicatorScore,
    name="EventIndicatorScore",
    description="One indicator's part in the event's result: the indicator (code and version of its definition) "
    "and how it scored. A training module looks for CORE indicators with a low normalizedScore.",
    fields={
        "indicator_code": "The indicator's code, stable across its versions.",
        "indicator_name": "The indicator's name.",
        "category": "CORE: rated by people; EXTENSION: measured by a business system.",
        "version": "The number of the indicator version the result was scored under.",
        "raw_value": "The value as measured or rated, exactly as stored; null when there was none.",
        "normalized_score": f"The raw value on the common 0-100 scale; null when there was none. {ROUNDED}",
        "weight": "The indicator's weight in the scheme, in percent.",
    },
)


@strawberry.input(description="What a consumer handles; every field left null keeps every event.")
class ResultEventFilter:
    types: list[str] | None = strawberry.field(
        default=None,
        description="Event types to keep: result.published, result.revised, training.need (another is BAD_USER_INPUT). "
        "Null keeps result.published and result.revised: training.need comes only to those who name it, and only "
        "hr_admin and training may (FORBIDDEN for others: a manager reads their people's needs with trainingNeeds).",
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


@strawberry.type(
    description="One published (or revised) appraisal result. eventId is stable across redeliveries. Beside the "
    "nested cycle and result, the event carries what a training or payroll module acts on as fields of its own "
    "(resultId to indicatorScores), the same fields with the same names and values as the webhook's CloudEvents "
    "data, which is this event's JSON (README, 'The event shape'). Those fields are a snapshot taken when the "
    "event was written: a result.published event replayed after corrections shows the published figures, each "
    "result.revised event its own correction's; only the nested result shows the result as it is now."
)
class ResultEvent:
    event_id: strawberry.ID
    type: str = strawberry.field(
        description="result.published when its cycle was published; result.revised when a published result was "
        "corrected (resultCorrect), once per correction: its totalScore and grade are that correction's, its "
        "result's adjustments record it; training.need (only where the filter names it) when a published result has "
        "core indicators under their threshold (trainingNeeds tells which). "
        "A consumer that handles neither should skip other types: more may come."
    )
    occurred_at: dt.datetime

    @fields.field(description="Resume after this event by passing it as 'after'.")
    def cursor(self, root: strawberry.Parent[event_stream.DeliveredEvent]) -> str:
        return event_stream.cursor_of(root)

    @fields.field(
        description="The event's cycle (its id, name, periodStart and periodEnd are the webhook's cycle).",
        graphql_type=Cycle,
    )
    @reads_attribute("cycle")
    def cycle(self, root: strawberry.Parent[event_stream.DeliveredEvent]) -> CycleRow:
        return root.cycle

    @fields.field(
        description="The result as it is now (after any later correction), with everything a result shows; the fields "
        "beside it carry what a module acts on as it was when the event was written.",
        graphql_type=AppraisalResult,
    )
    def result(self, root: strawberry.Parent[event_stream.DeliveredEvent]) -> ResultRow:
        return root.result

    result_id = _carried("result_id", strawberry.ID, "The result's id.")
    period = _carried(
        lambda event: Period(event.period_start, event.period_end),
        Period,
        "The period the cycle appraises (as cycle.periodStart and periodEnd): what pay and training are dated by.",
    )
    employee_id = _carried("employee_id", strawberry.ID, "The employee's id.")

    @guarded(
        NAMES,
        "employeeNo",
        "The employee's number, what payroll and training systems key on. Null with a FORBIDDEN error for a "
        "caller who may not see it (every caller the stream reaches may, today: hr_admin, payroll and "
        "training every one, an employee their own, a manager their people's and their own).",
        graphql_type=str | None,
    )
    @reads_attribute("contents.employee_no")
    def employee_no(self, root: strawberry.Parent[event_stream.DeliveredEvent]) -> str:
        return root.contents.employee_no

    post_id = _carried(
        "post_id",
        strawberry.ID,
        "The post the result was scored in (not necessarily the employee's current one).",
    )
    post_family = _carried("post_family", str, "That post's family: what the filter's postFamilies match.")
    department_id = _carried("department_id", strawberry.ID, "The department the result was scored in.")
    total_score = _carried(
        "total_score",
        float,
        f"The total when the event was written, calibrated or corrected if it was. {ROUNDED}",
    )
    grade = _carried("grade", Grade, "The grade when the event was written, calibrated or corrected if it was.")
    calibrated = _carried(
        "calibrated",
        bool,
        "Whether the result was calibrated before publication (with a reason); a later correction leaves it as it was.",
    )
    indicator_scores = _carried(
        "indicator_scores",  # a tuple: a list's completion takes it as it is
        list[EventIndicatorScore],
        "Every indicator of the result's scheme with its score, in the order of the result's indicatorScores.",
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
        prepare = preparation(info)
        # Closed with this generator, not when the collector finds it: the stream's look ahead holds a
        # connection, and its subscription in the process's reader goes at once.
        async with aclosing(
            event_stream.result_published(info.context, after, cycle_id, poll, wanted(filter), prepare)
        ) as events:
            async for event in events:
                yield event
