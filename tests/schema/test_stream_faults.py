"""The result stream under database faults: it never moves a subscriber past an event it was not given.

A fault injected on the engine makes the next statements touching one table fail as a dropped connection
would, in the middle of a replay of every event (both cycles published, 200+ events, small batches so
that the stream reads the database all along). A fault the retries outlast costs nothing; one they do
not ends the stream with EVENT_UNAVAILABLE and the cursor of the last event delivered; a field of the
client's selection failing after the event was handed over ends the stream before the next event. In
every case a consumer that resumes from the error's cursor receives every event once, in order.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth import Principal, Role
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import ResultEvent
from hub.demo.organisation import SeedSummary
from hub.events.delivery import RetryPolicy
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
from resolvers import events as event_stream
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY

FLAT = """
subscription($after: String) {
  resultPublished(after: $after) { cursor eventId cycle { id state } result { id totalScore } }
}
"""
# employee is loaded after the event was yielded, by a loader: the path the stream cannot pre-read.
NESTED = """
subscription($after: String) {
  resultPublished(after: $after) { cursor eventId result { id employee { id } } }
}
"""
RETRIES = RetryPolicy(attempts=4, first_delay=0.01, max_delay=0.05)
BATCH = 25  # ten batches for the stream: the database is read all along it, not only at the start
WITHIN = 60.0


class Fault:
    """Makes the next ``count`` statements that touch ``table`` fail, as a database blip would."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pattern: re.Pattern[str] | None = None
        self.remaining = 0
        self.fired = 0
        self.error: Callable[[str], Exception] = lambda statement: OperationalError(
            statement, None, ConnectionResetError("injected: connection reset by peer")
        )
        event.listen(engine.sync_engine, "before_cursor_execute", self)

    def arm(self, table: str, count: int, error: Callable[[str], Exception] | None = None) -> None:
        self.pattern = re.compile(rf"\b{table}\b")
        self.remaining = count
        if error is not None:
            self.error = error

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.remaining and self.pattern is not None and self.pattern.search(statement):
            self.remaining -= 1
            self.fired += 1
            raise self.error(statement)

    def remove(self) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self)


@dataclass
class Consumed:
    """What a consumer following the README got: the events it handled, and how it got them."""

    events: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)  # the EVENT_UNAVAILABLE extensions
    incomplete: int = 0  # events that arrived with errors (not handled; redelivered after the resume)
    ended_after: list[int] = field(default_factory=list)  # how many events were handled when a stream ended
    resumes: int = 0

    @property
    def ids(self) -> list[str]:
        return [delivered["eventId"] for delivered in self.events]


async def consume(
    schema: strawberry.Schema,
    context: Context,
    query: str,
    count: int,
    *,
    on_event: Callable[[int], None] = lambda _handled: None,
    on_unavailable: Callable[[int], None] = lambda _count: None,
    max_resumes: int = 1,
) -> Consumed:
    """Receives ``count`` events as the README says: keep the cursor of the last event handled, and on
    EVENT_UNAVAILABLE resume from the error's ``lastCursor`` (which must be that same cursor).

    Asserts the stream's promise on the way: after an event that arrived with errors, nothing but the
    EVENT_UNAVAILABLE error follows, and the stream ends after that error.
    """
    consumed = Consumed()
    after: str | None = None
    async with asyncio.timeout(WITHIN):
        while True:
            stream = await schema.subscribe(query, variable_values={"after": after}, context_value=context)
            assert isinstance(stream, AsyncIterator)
            ended_with: dict[str, Any] | None = None
            incomplete = False
            try:
                async for result in stream:
                    assert ended_with is None, f"the stream went on after EVENT_UNAVAILABLE: {result}"
                    if not result.errors:
                        assert not incomplete, "an event was delivered after one that failed, before it"
                        assert result.data is not None
                        consumed.events.append(result.data["resultPublished"])
                        after = consumed.events[-1]["cursor"]
                        on_event(len(consumed.events))
                        if len(consumed.events) == count:
                            return consumed
                        continue
                    extensions = [error.extensions or {} for error in result.errors]
                    unavailable = [ext for ext in extensions if ext.get("code") == event_stream.EVENT_UNAVAILABLE]
                    if unavailable:
                        ended_with = unavailable[0]
                    else:
                        # Delivered with a field missing: not handled; the stream must end before another.
                        incomplete = True
                        consumed.incomplete += 1
            finally:
                await stream.aclose()
            assert ended_with is not None, "the stream ended without EVENT_UNAVAILABLE"
            assert ended_with["lastCursor"] == after, "lastCursor is not the cursor of the last event delivered"
            consumed.unavailable.append(ended_with)
            consumed.ended_after.append(len(consumed.events))
            on_unavailable(len(consumed.unavailable))
            consumed.resumes += 1
            assert consumed.resumes <= max_resumes, f"more than {max_resumes} resumes: {consumed.unavailable}"


async def nothing_more(schema: strawberry.Schema, context: Context, after: str) -> None:
    stream = await schema.subscribe(FLAT, variable_values={"after": after}, context_value=context)
    assert isinstance(stream, AsyncIterator)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                extra = await anext(stream)
                raise AssertionError(f"an event beyond the last one: {extra}")
    finally:
        await stream.aclose()


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(autouse=True)
def small_batches_quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_stream, "EVENT_BATCH", BATCH)
    monkeypatch.setattr(event_stream, "CATCH_UP_BATCH", BATCH)
    monkeypatch.setattr(event_stream, "READS", RETRIES)


@pytest.fixture
async def outbox(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> list[str]:
    """Both cycles published: every event id in stream order (payroll may see all of them)."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))
    await publish_cycle(sessionmaker, CyclePublish(seeded.current_cycle_id), Caller("test"))
    async with sessionmaker() as session:
        # training.need events come only to a stream that names them: not to these.
        streamed = select(ResultEvent.event_id).where(ResultEvent.type != "training.need").order_by(ResultEvent.id)
        ids = list((await session.scalars(streamed)).all())
    assert len(ids) > 200
    return ids


@pytest.fixture
def fault(engine: AsyncEngine) -> Any:
    injected = Fault(engine)
    yield injected
    injected.remove()


def payroll(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Context:
    principal = Principal("payroll", frozenset({Role.PAYROLL}))
    fast = settings.model_copy(update={"event_poll_seconds": 0.05})
    return Context(settings=fast, sessionmaker=sessionmaker, today=TODAY, principal=principal, request_id="faults")


@dataclass
class Replay:
    """The payroll module replaying the whole outbox through the schema: each call a subscriber of its own."""

    schema: strawberry.Schema
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    outbox: list[str]

    async def consume(self, query: str, **hooks: Any) -> Consumed:
        return await consume(self.schema, payroll(self.settings, self.sessionmaker), query, len(self.outbox), **hooks)

    async def nothing_after(self, cursor: str) -> None:
        await nothing_more(self.schema, payroll(self.settings, self.sessionmaker), cursor)


@pytest.fixture
def replay(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], outbox: list[str]
) -> Replay:
    return Replay(schema, settings, sessionmaker, outbox)


def arm_at(handled: int, arm: Callable[[], None]) -> Callable[[int], None]:
    """Arms the fault once the consumer has handled ``handled`` events: mid-stream, mid-batch."""

    def on_event(count: int) -> None:
        if count == handled:
            arm()

    return on_event


# The outbox page, the per-batch access check that reads the results, and the cycles read with them.
STREAM_TABLES = ["result_events", "appraisal_results", "cycles"]


@pytest.mark.parametrize("table", STREAM_TABLES)
async def test_a_blip_the_retries_outlast_costs_the_subscriber_nothing(
    table: str, replay: Replay, outbox: list[str], fault: Fault
) -> None:
    blip = RETRIES.attempts - 1
    consumed = await replay.consume(FLAT, on_event=arm_at(110, lambda: fault.arm(table, blip)), max_resumes=0)
    assert fault.fired == blip, "the fault hit the stream"
    assert consumed.ids == outbox  # 0 lost, 0 duplicated, in order, and not one error seen
    assert consumed.unavailable == [] and consumed.incomplete == 0
    await replay.nothing_after(consumed.events[-1]["cursor"])


@pytest.mark.parametrize("table", STREAM_TABLES)
async def test_a_fault_that_outlasts_the_retries_ends_the_stream_with_the_cursor_to_resume_from(
    table: str, replay: Replay, outbox: list[str], fault: Fault
) -> None:
    consumed = await replay.consume(FLAT, on_event=arm_at(110, lambda: fault.arm(table, RETRIES.attempts)))
    assert fault.fired == RETRIES.attempts
    assert consumed.resumes == 1 and consumed.incomplete == 0
    # The stream delivered the batches it had read (the one it was delivering, and the next when the look ahead
    # read it before the fault), then stopped at the first event it could not read, with the cursor of the last
    # one delivered (``consume`` checked that)...
    assert len(consumed.ended_after) == 1
    assert consumed.ended_after[0] in {(110 // BATCH + 1) * BATCH, (110 // BATCH + 2) * BATCH}
    # ...and resuming from that cursor delivered everything else: expected = received.
    assert consumed.ids == outbox


async def test_a_field_that_fails_after_the_event_was_handed_over_ends_the_stream_before_the_next(
    replay: Replay, outbox: list[str], fault: Fault
) -> None:
    # The event's employee is read by a loader while graphql-core resolves the client's selection,
    # after the stream yielded the event: the event arrives with an error, and the stream must not go
    # on to the next one.
    consumed = await replay.consume(NESTED, on_event=arm_at(110, lambda: fault.arm("employees", 1)))
    assert fault.fired == 1
    assert consumed.incomplete == 1 and consumed.resumes == 1
    assert consumed.ended_after == [110]  # event 111 failed; the stream ended right after it
    assert consumed.ids == outbox  # the resume started again with event 111


async def test_a_read_that_keeps_failing_never_moves_the_stream_past_the_event(
    replay: Replay, outbox: list[str], fault: Fault
) -> None:
    # Not a blip: a statement that fails every time (a broken migration, a permission revoked). Each
    # resume ends at the same cursor; once the fault is gone, the resume delivers the rest.
    def broken(statement: str) -> Exception:
        return ProgrammingError(statement, None, Exception("injected: permission denied for table"))

    def repair_after_second_error(errors: int) -> None:
        if errors == 2:
            fault.remaining = 0

    consumed = await replay.consume(
        FLAT,
        on_event=arm_at(60, lambda: fault.arm("appraisal_results", 10**6, broken)),
        on_unavailable=repair_after_second_error,
        max_resumes=2,
    )
    assert fault.fired == 2 * RETRIES.attempts
    assert consumed.ended_after == [75, 75]
    assert consumed.unavailable[0]["lastCursor"] == consumed.unavailable[1]["lastCursor"]
    assert consumed.ids == outbox


async def test_subscribers_on_an_exhausted_pool_lose_nothing(
    schema: strawberry.Schema,
    settings: Settings,
    database_url: str,
    outbox: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pool of one connection, and mid-stream something else holds it for 0.6 s (a long report, a
    # stuck transaction): every checkout meanwhile times out, in the streams' own reads (retried) and
    # in the loaders resolving their clients' selections (stream ended, resumed). Every subscriber
    # still receives every event once, in order.
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    starved = create_sessionmaker(engine)
    hogs: list[asyncio.Task[None]] = []

    async def hog() -> None:
        async with asyncio.timeout(10):
            while True:
                try:
                    async with engine.connect():
                        await asyncio.sleep(0.6)
                        return
                except PoolTimeout:
                    continue  # the subscribers got there first: queue again

    def start_hogging(_handled: int) -> None:
        if _handled == 110:
            hogs.append(asyncio.create_task(hog()))

    try:
        results = await asyncio.gather(
            *(
                consume(
                    schema,
                    payroll(settings, starved),
                    NESTED,
                    len(outbox),
                    on_event=start_hogging if number == 0 else (lambda _handled: None),
                    max_resumes=100,
                )
                for number in range(4)
            )
        )
        await asyncio.gather(*hogs)
    finally:
        await engine.dispose()
    assert len(hogs) == 1
    for consumed in results:
        assert consumed.ids == outbox
    timed_out = sum("QueuePool limit" in record.getMessage() for record in caplog.records)
    resumed = sum(consumed.resumes for consumed in results)
    assert timed_out + resumed > 0, "no checkout ever timed out: the test tested nothing"
