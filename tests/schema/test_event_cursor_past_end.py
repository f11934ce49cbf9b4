"""A cursor past the newest event (kept from another database, or altered) is refused where the refusal tells the
caller nothing new, and accepted where it would tell them how many events the whole organisation has."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import ResultEvent
from resolvers.context import Context
from resolvers.pagination import encode_cursor
from schema import build_schema
from tests.conftest import TODAY
from tests.schema.conftest import Org
from tests.schema.test_outbox_fanout import principals

EVENTS = "query($after: String) { resultEvents(after: $after, first: 10) { cursor } }"
STREAM = "subscription($after: String) { resultPublished(after: $after) { cursor } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def newest(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found: int | None = await session.scalar(select(func.max(ResultEvent.id)))
    assert found
    return found


async def test_a_cursor_past_the_newest_event_is_refused_to_hr_but_not_told_to_an_employee(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    people = principals(org)
    last = await newest(sessionmaker)
    beyond, at_the_end = encode_cursor("event", last + 1000), encode_cursor("event", last)

    def context(role: str) -> Context:
        return Context(settings, sessionmaker, TODAY, people[role], request_id="past-end")

    refused = await schema.execute(EVENTS, {"after": beyond}, context_value=context("hr_admin"))
    assert refused.errors and refused.errors[0].extensions == {"code": "BAD_USER_INPUT", "argument": "after"}
    assert "past the newest event" in refused.errors[0].message
    caught_up = await schema.execute(EVENTS, {"after": at_the_end}, context_value=context("hr_admin"))
    assert not caught_up.errors and caught_up.data == {"resultEvents": []}
    # An employee's answer would tell how many events everyone has: past the end reads as caught up.
    quiet = await schema.execute(EVENTS, {"after": beyond}, context_value=context("employee"))
    assert not quiet.errors and quiet.data == {"resultEvents": []}

    stream = await schema.subscribe(STREAM, {"after": beyond}, context_value=context("hr_admin"))
    assert isinstance(stream, AsyncIterator)
    try:
        first = await anext(stream)
    finally:
        await stream.aclose()
    assert first.errors and first.errors[0].extensions == {"code": "BAD_USER_INPUT", "argument": "after"}
