"""Results out: the outbox written on publish, the catch-up query and the subscription, per role.

The demo's past cycle is published by the seed, so its events are in the outbox; the tests publish the
current cycle too and watch the subscription pick it up live. Subscriptions are checked on every event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
from sqlalchemy import func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Grant, Principal, Role
from hub.config import Settings
from hub.db.models import AppraisalResult, Employee, ResultEvent
from hub.demo.organisation import SeedSummary
from hub.events.contents import shown
from hub.events.outbox import TRAINING_NEED
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY
from tests.schema.conftest import Org

SUBSCRIPTION = """
subscription($after: String, $cycleId: ID) {
  resultPublished(after: $after, cycleId: $cycleId) {
    cursor eventId type cycle { id } result { id totalScore employee { id } }
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


def context(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], principal: Principal) -> Context:
    return Context(settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=principal, request_id="ev")


async def take(stream: AsyncIterator[Any], count: int, within: float = 20.0) -> list[dict[str, Any]]:
    """The next ``count`` events of a subscription (errors fail the test)."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while len(events) < count:
            result = await anext(stream)
            assert not result.errors, result.errors
            events.append(result.data["resultPublished"])
    return events


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"event_poll_seconds": 0.05})


async def test_publishing_writes_one_event_per_result_in_the_same_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    async with sessionmaker() as session:
        in_cycle = AppraisalResult.cycle_id == seeded.past_cycle_id
        published = (
            await session.execute(select(func.count()).select_from(AppraisalResult).where(in_cycle))
        ).scalar_one()
        events = await session.scalar(
            select(func.count())
            .select_from(ResultEvent)
            .where(ResultEvent.cycle_id == seeded.past_cycle_id, ResultEvent.type == "result.published")
        )
        ids = (await session.scalars(select(ResultEvent.event_id))).all()
    assert events == published > 0
    assert len(set(ids)) == len(ids)


async def test_catch_up_query_pages_by_cursor(
    schema: strawberry.Schema, fast_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    hr = context(fast_settings, sessionmaker, Principal("hr", frozenset({Role.HR_ADMIN})))
    query = "query($after: String) { resultEvents(after: $after, first: 50) { cursor eventId } }"
    seen: list[str] = []
    after = None
    while True:
        result = await schema.execute(query, variable_values={"after": after}, context_value=hr)
        assert not result.errors and result.data is not None
        page = result.data["resultEvents"]
        if not page:
            break
        seen += [event["eventId"] for event in page]
        after = page[-1]["cursor"]
    async with sessionmaker() as session:
        streamed = select(func.count()).select_from(ResultEvent).where(ResultEvent.type != TRAINING_NEED)
        assert len(seen) == len(set(seen)) == await session.scalar(streamed)


async def test_subscription_replays_then_delivers_live_events(
    schema: strawberry.Schema,
    fast_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
) -> None:
    payroll = context(fast_settings, sessionmaker, Principal("payroll", frozenset({Role.PAYROLL})))
    async with sessionmaker() as session:
        replayed = await session.scalar(
            select(func.count()).select_from(ResultEvent).where(ResultEvent.type != TRAINING_NEED)
        )
        assert replayed
    stream = await schema.subscribe(SUBSCRIPTION, context_value=payroll)
    assert isinstance(stream, AsyncIterator)
    try:
        first = await take(stream, replayed)
        assert {event["cycle"]["id"] for event in first} == {str(seeded.past_cycle_id)}
        # Publish the current cycle while subscribed: its events arrive live, after the replay, in order.
        await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
        await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))
        await publish_cycle(sessionmaker, CyclePublish(seeded.current_cycle_id), Caller("test"))
        live = await take(stream, 3)
        assert {event["cycle"]["id"] for event in live} == {str(seeded.current_cycle_id)}
    finally:
        await stream.aclose()
    # Resuming from a cursor delivers exactly what came after it.
    resumed = await schema.subscribe(SUBSCRIPTION, variable_values={"after": live[0]["cursor"]}, context_value=payroll)
    assert isinstance(resumed, AsyncIterator)
    try:
        again = await take(resumed, 2)
    finally:
        await resumed.aclose()
    assert [event["eventId"] for event in again] == [event["eventId"] for event in live[1:]]


async def test_an_employee_receives_only_their_own_result(
    schema: strawberry.Schema,
    fast_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
) -> None:
    async with sessionmaker() as session:
        me = (await session.execute(select(Employee.id, Employee.employee_no).order_by(Employee.id.desc()))).first()
    assert me is not None
    employee = context(fast_settings, sessionmaker, Principal("me", frozenset({Role.EMPLOYEE}), me.employee_no))
    stream = await schema.subscribe(SUBSCRIPTION, context_value=employee)
    assert isinstance(stream, AsyncIterator)
    try:
        mine = await take(stream, 1)
        assert mine[0]["result"]["employee"]["id"] == str(me.id)
        # Nothing else follows: every other event is someone else's.
        with pytest.raises(TimeoutError):
            await take(stream, 1, within=0.5)
    finally:
        await stream.aclose()


async def test_an_expired_token_ends_the_subscription_at_the_next_event(
    schema: strawberry.Schema, fast_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The check runs per event: a principal valid at subscribe time but expired since is cut off. Valid for two
    # seconds, so that a loaded machine still delivers the first event before the expiry.
    valid_for = 2.0
    expires = (
        dt.datetime.now(dt.UTC)
        + dt.timedelta(seconds=valid_for)
        - dt.timedelta(seconds=fast_settings.jwt_leeway_seconds)
    )
    principal = Principal("payroll", frozenset({Role.PAYROLL}), expires_at=expires)
    stream = await schema.subscribe(SUBSCRIPTION, context_value=context(fast_settings, sessionmaker, principal))
    assert isinstance(stream, AsyncIterator)
    try:
        first = await anext(stream)
        assert not first.errors
        await asyncio.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
        async with asyncio.timeout(10):
            while True:
                result = await anext(stream)
                if result.errors:
                    break
        assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
        assert "expired" in result.errors[0].message
    finally:
        await stream.aclose()


async def test_anonymous_cannot_subscribe(
    schema: strawberry.Schema, fast_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    anonymous = context(fast_settings, sessionmaker, Principal("anonymous"))
    outcome = await schema.subscribe(SUBSCRIPTION, context_value=anonymous)
    if isinstance(outcome, AsyncIterator):
        result = await anext(outcome)
        await outcome.aclose()
    else:
        result = outcome
    assert result.errors and result.errors[0].extensions == {"code": "FORBIDDEN"}


@pytest.mark.parametrize("role", ["hr_admin", "analyst", "payroll", "training", "manager", "employee"])
async def test_every_role_receives_exactly_the_events_of_results_it_may_see(
    role: str,
    schema: strawberry.Schema,
    fast_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    org: Org,
) -> None:
    number = {"manager": org.manager_no, "employee": org.staff_no}.get(role)
    # An analyst without the names grant is refused the stream (tests/insider/test_pseudonymous_analyst.py).
    grants = frozenset({Grant.NAMES}) if role == "analyst" else frozenset()
    principal = Principal(role, frozenset({Role(role)}), number, grants)
    async with sessionmaker() as session:
        # training.need events come only to a stream that names them in its filter.
        events = (await session.execute(select(ResultEvent.employee_id).where(ResultEvent.type != TRAINING_NEED))).all()
    visible = {"manager": org.team, "employee": {org.staff_id}}.get(role)
    expected = len(events) if visible is None else sum(1 for e in events if e.employee_id in visible)
    assert expected > 0
    stream = await schema.subscribe(SUBSCRIPTION, context_value=context(fast_settings, sessionmaker, principal))
    assert isinstance(stream, AsyncIterator)
    try:
        delivered = await take(stream, expected)
        if visible is not None:
            assert {int(e["result"]["employee"]["id"]) for e in delivered} <= visible
        # And nothing beyond them.
        with pytest.raises(TimeoutError):
            await take(stream, 1, within=0.5)
    finally:
        await stream.aclose()


@pytest.mark.parametrize("role", ["manager", "employee", "payroll", "training", "hr_admin"])
async def test_training_need_events_come_to_hr_admin_and_training_only(
    role: str,
    schema: strawberry.Schema,
    fast_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    org: Org,
) -> None:
    """A manager's stream of training.need events skipped the ids of other people's needs, written one after
    another in result order: the gaps between its cursors told who outside the line has a need (insider review)."""
    number = {"manager": org.manager_no, "employee": org.staff_no}.get(role)
    principal = Principal(role, frozenset({Role(role)}), number, frozenset())
    query = 'query { resultEvents(first: 500, filter: {types: ["training.need"]}) { type } }'
    result = await schema.execute(query, context_value=context(fast_settings, sessionmaker, principal))
    if role in ("hr_admin", "training"):
        assert not result.errors and result.data is not None
        assert {event["type"] for event in result.data["resultEvents"]} <= {"training.need"}
    else:
        assert result.errors and result.errors[0].extensions == {"code": "FORBIDDEN"}, result.errors
        assert "trainingNeeds" in result.errors[0].message
    stream = await schema.subscribe(
        'subscription { resultPublished(filter: {types: ["result.published", "training.need"]}) { type } }',
        context_value=context(fast_settings, sessionmaker, principal),
    )
    if role in ("hr_admin", "training"):
        assert isinstance(stream, AsyncIterator)
        await stream.aclose()
    else:
        outcome = await anext(stream) if isinstance(stream, AsyncIterator) else stream
        assert outcome.errors and outcome.errors[0].extensions == {"code": "FORBIDDEN"}


async def test_an_event_keeps_its_figures_and_one_without_a_snapshot_reads_its_result_now(
    schema: strawberry.Schema, fast_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Publishing stored each event's figures with it: a result changed afterwards leaves its event as it was.
    An event written before the snapshots (migration 0015: its snapshot is NULL) is read from the live tables."""
    async with sessionmaker() as session, session.begin():
        assert not await session.scalar(
            select(func.count()).select_from(ResultEvent).where(ResultEvent.snapshot.is_(None))
        )
        kept, old = (
            await session.execute(select(ResultEvent.id, ResultEvent.result_id).order_by(ResultEvent.id).limit(2))
        ).all()
        before = await session.scalar(select(AppraisalResult.total_score).where(AppraisalResult.id == kept.result_id))
        await session.execute(update(ResultEvent).where(ResultEvent.id == old.id).values(snapshot=null()))
        changed = AppraisalResult.id.in_([kept.result_id, old.result_id])
        await session.execute(update(AppraisalResult).where(changed).values(total_score=12.5))
    hr = context(fast_settings, sessionmaker, Principal("hr", frozenset({Role.HR_ADMIN})))
    query = "{ resultEvents(first: 2) { resultId totalScore result { totalScore } } }"
    result = await schema.execute(query, context_value=hr)
    assert not result.errors and result.data is not None
    first, second = result.data["resultEvents"]
    assert (first["resultId"], second["resultId"]) == (str(kept.result_id), str(old.result_id))
    assert before is not None and first["totalScore"] == shown(before) != 12.5  # as published
    assert first["result"]["totalScore"] == 12.5  # the nested result is the result as it is now
    assert second["totalScore"] == second["result"]["totalScore"] == 12.5  # no snapshot: read live


async def test_an_unknown_cycle_is_not_found_on_the_query_and_on_the_stream(
    schema: strawberry.Schema, fast_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An unknown cycle gave an empty page, and a subscription that waited for ever (new-user review)."""
    hr = context(fast_settings, sessionmaker, Principal("hr", frozenset({Role.HR_ADMIN})))
    result = await schema.execute('query { resultEvents(cycleId: "999999") { eventId } }', context_value=hr)
    assert result.errors and result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "NOT_FOUND", result.errors
    stream = await schema.subscribe('subscription { resultPublished(cycleId: "999999") { eventId } }', context_value=hr)
    outcome = await anext(stream) if isinstance(stream, AsyncIterator) else stream
    assert outcome.errors and outcome.errors[0].extensions is not None
    assert outcome.errors[0].extensions["code"] == "NOT_FOUND", outcome.errors
    if isinstance(stream, AsyncIterator):
        await stream.aclose()
