"""One read of the outbox per process, fanned out to every subscription (``hub.events.fanout``).

The subscriptions run through the schema with the process's watcher in their context, as served; every SQL
statement on the engine is counted. The in-memory scope the fan-out filters with must be the SQL scope's rule
exactly; a publish must reach every subscriber with the outbox read once per page, whatever the number of
subscribers; a subscriber that resumes from an old cursor while a publish runs must get every event once, in
order, across the hand-over from its own reads to the shared log; and one that stops reading while the stream
runs past the log is ended with SUBSCRIBER_TOO_SLOW, from whose lastCursor a resume gets the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth import Grant, Principal, Role
from hub.config import Settings
from hub.db.engine import create_sessionmaker
from hub.db.models import AppraisalResult, Cycle, Employee, ResultEvent
from hub.events.watcher import OutboxWatcher
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from resolvers import events as event_stream
from resolvers.context import Context
from resolvers.pagination import encode_cursor
from resolvers.scope import Scope
from schema import build_schema
from tests.conftest import TODAY, StatementCounter, opened_engine
from tests.schema.conftest import Org
from tests.schema.test_result_events import take

POLL = 0.05
LIVE = "subscription($after: String) { resultPublished(after: $after) { cursor eventId result { id } } }"
PAGE = "query($after: String) { resultEvents(after: $after, first: 500) { cursor eventId } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


def principals(org: Org) -> dict[str, Principal]:
    return {
        "hr_admin": Principal("hr", frozenset({Role.HR_ADMIN})),
        "analyst": Principal("an", frozenset({Role.ANALYST}), None, frozenset({Grant.NAMES})),
        "payroll": Principal("pay", frozenset({Role.PAYROLL})),
        "training": Principal("lms", frozenset({Role.TRAINING})),
        "employee": Principal("staff", frozenset({Role.EMPLOYEE}), org.staff_no),
        "manager": Principal("head", frozenset({Role.MANAGER}), org.manager_no),
        "payroll manager": Principal("pm", frozenset({Role.PAYROLL, Role.MANAGER}), org.manager_no),
        "employee analyst": Principal("ea", frozenset({Role.EMPLOYEE, Role.ANALYST}), org.staff_no),
        "unknown number": Principal("ghost", frozenset({Role.EMPLOYEE}), "NO-SUCH-NUMBER"),
        "no number": Principal("anon", frozenset({Role.EMPLOYEE})),
        "scim": Principal("idp", frozenset({Role.SCIM})),
    }


async def test_the_in_memory_scope_decides_exactly_as_the_sql_scope(
    sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    """Every result of a published and of a scored (unpublished) cycle, for every kind of principal: where the
    in-memory rule decides, it says what the SQL scope says; it leaves undecided only what needs a manager's
    reporting line."""
    async with sessionmaker() as session:
        results = (
            await session.execute(
                select(AppraisalResult.id, Employee.employee_no, Cycle.state)
                .join(Employee, Employee.id == AppraisalResult.employee_id)
                .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
            )
        ).all()
        assert {row.state.value for row in results} >= {"PUBLISHED", "SCORED"}
        for name, principal in principals(org).items():
            scope = Scope(principal)
            in_sql = set(await session.scalars(select(AppraisalResult.id).where(*scope.results())))
            verdicts = {row.id: scope.admits_result(row.employee_no, row.state) for row in results}
            decided = {key: verdict for key, verdict in verdicts.items() if verdict is not None}
            assert {key for key, verdict in decided.items() if verdict} == in_sql & decided.keys(), name
            if Role.MANAGER not in principal.roles:
                assert decided.keys() == verdicts.keys(), f"{name}: only a manager's scope needs SQL"
    assert any(row.state.value == "SCORED" for row in results)


def live_context(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], principal: Principal,
                 watcher: OutboxWatcher) -> Context:  # fmt: skip
    return Context(settings, sessionmaker, TODAY, principal, request_id="fanout", outbox=watcher)


async def expected_after(schema: strawberry.Schema, context: Context, after: str | None) -> list[dict[str, Any]]:
    """What the catch-up query (SQL scope) gives the principal after the cursor: the stream must match it."""
    events: list[dict[str, Any]] = []
    while True:
        page = await schema.execute(PAGE, variable_values={"after": after}, context_value=context)
        assert page.data is not None, page.errors
        if not page.data["resultEvents"]:
            return events
        events += page.data["resultEvents"]
        after = events[-1]["cursor"]


async def publish(sessionmaker: async_sessionmaker[AsyncSession], org: Org) -> None:
    await close_calibration(sessionmaker, CycleCloseCalibration(org.unpublished_cycle), Caller("test"))
    await publish_cycle(sessionmaker, CyclePublish(org.unpublished_cycle), Caller("test"))


async def test_a_publish_reaches_every_subscriber_with_the_outbox_read_once_per_page(
    schema: strawberry.Schema,
    engine: AsyncEngine,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    org: Org,
) -> None:
    """Forty subscribers of five roles; the publish and the expectations go through a second engine, so that
    the statements counted on the hub's engine are the watcher's and the subscriptions' only."""
    fast = settings.model_copy(update={"event_poll_seconds": POLL})
    watcher = OutboxWatcher.of(fast, engine, sessionmaker)
    roles = ["payroll", "hr_admin", "employee", "manager", "training"]
    people = principals(org)
    async with opened_engine(database_url) as other_engine, watcher.running():
        other = create_sessionmaker(other_engine)
        # From the outbox's end (the events the streams leave out by default, training.need, included): a
        # subscriber starting behind the log would first read the outbox itself, which is not what is counted.
        async with other() as session:
            after = encode_cursor("event", (await session.scalar(select(func.max(ResultEvent.id)))) or 0)
        streams: list[tuple[str, AsyncGenerator[Any, None]]] = []
        for index in range(40):
            role = roles[index % len(roles)]
            context = live_context(fast, sessionmaker, people[role], watcher)
            stream = await schema.subscribe(LIVE, variable_values={"after": after}, context_value=context)
            assert isinstance(stream, AsyncGenerator)
            streams.append((role, stream))
        first = [asyncio.ensure_future(anext(stream)) for _, stream in streams]
        counter = StatementCounter()
        try:
            await asyncio.sleep(5 * POLL)  # every subscription waits on the watcher
            counter.attach(engine)
            reads_before = watcher.reads
            await publish(other, org)
            expected = {
                role: await expected_after(schema, live_context(fast, other, people[role], watcher), after)
                for role in roles
            }
            assert len(expected["payroll"]) >= 50 and expected["employee"] and expected["manager"]
            for (role, stream), head in zip(streams, first, strict=True):
                one = await asyncio.wait_for(head, 30)
                assert not one.errors, one.errors
                rest = await take(stream, len(expected[role]) - 1) if len(expected[role]) > 1 else []
                received = [one.data["resultPublished"]["eventId"]] + [event["eventId"] for event in rest]
                assert received == [event["eventId"] for event in expected[role]], role
            statements, reads = list(counter.statements), watcher.reads - reads_before
        finally:
            for task in first:
                task.cancel()
            await asyncio.gather(*first, return_exceptions=True)
            for _, stream in streams:
                await stream.aclose()
    # One page of the publish's events read once (three statements: the events with the contents stored with
    # them, their results and cycles), the rest the watcher's empty polls; of the forty subscriptions, only the
    # eight managers' ran one statement each: which of the batch's results are in their reporting line. Reading
    # per subscriber would be forty pages.
    scope_checks = [s for s in statements if "reporting_line" in s]
    outbox_reads = [s for s in statements if "FROM result_events" in s]
    full_pages = [s for s in statements if s.lstrip().startswith("SELECT cycles.")]
    assert len(scope_checks) == 8
    assert len(full_pages) == 1
    # Everything else is the watcher's (a poll it had counted may not have reached the engine yet).
    assert len(statements) - len(scope_checks) in (reads - 1, reads)
    assert len(outbox_reads) == len(statements) - len(scope_checks) - 2 * len(full_pages)


async def test_a_resume_from_the_start_during_a_publish_hands_over_to_the_log_without_gap_or_duplicate(
    schema: strawberry.Schema,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Small pages and a small log: the subscriber reads the outbox itself, page after page, while the publish
    lands in the log, and joins the log once it reaches back to it."""
    monkeypatch.setattr(event_stream, "CATCH_UP_BATCH", 17)
    fast = settings.model_copy(update={"event_poll_seconds": POLL})
    watcher = OutboxWatcher(engine, sessionmaker, POLL, buffer=40, stall_seconds=settings.subscription_stall_seconds)
    payroll = principals(org)["payroll"]
    async with watcher.running():
        stream = await schema.subscribe(LIVE, context_value=live_context(fast, sessionmaker, payroll, watcher))
        assert isinstance(stream, AsyncGenerator)
        try:
            received = await take(stream, 20)
            await publish(sessionmaker, org)
            expected = await expected_after(schema, live_context(fast, sessionmaker, payroll, watcher), None)
            received += await take(stream, len(expected) - len(received))
            assert [event["eventId"] for event in received] == [event["eventId"] for event in expected]
            with pytest.raises(TimeoutError):
                await take(stream, 1, within=0.5)
        finally:
            await stream.aclose()


async def test_a_subscriber_that_stops_reading_behind_the_log_is_ended_and_resumes_without_loss(
    schema: strawberry.Schema,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    org: Org,
) -> None:
    fast = settings.model_copy(update={"event_poll_seconds": POLL})
    watcher = OutboxWatcher(engine, sessionmaker, POLL, buffer=10, stall_seconds=0.3)
    payroll = principals(org)["payroll"]
    async with watcher.running():
        context = live_context(fast, sessionmaker, payroll, watcher)
        expected = await expected_after(schema, context, None)
        stream = await schema.subscribe(LIVE, context_value=context)
        assert isinstance(stream, AsyncGenerator)
        try:
            received = await take(stream, 25)
            await asyncio.sleep(1.0)  # stopped reading, far behind the log (it starts at the newest event)
            ended = await anext(stream)
        finally:
            await stream.aclose()
        assert ended.errors is not None
        extensions = ended.errors[0].extensions
        assert extensions == {"code": "SUBSCRIBER_TOO_SLOW", "lastCursor": received[-1]["cursor"]}
        assert not watcher.subscribers, "an ended subscription leaves the reader's list"
        resumed = await schema.subscribe(
            LIVE, variable_values={"after": extensions["lastCursor"]}, context_value=context
        )
        assert isinstance(resumed, AsyncGenerator)
        try:
            received += await take(resumed, len(expected) - len(received))
        finally:
            await resumed.aclose()
    assert [event["eventId"] for event in received] == [event["eventId"] for event in expected]
