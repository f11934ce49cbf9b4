"""A stream catching up reads its next batch while it delivers the one it has (``resolvers.events``): a replay
does not wait on the database between batches, and what was read ahead is delivered in order, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry

from resolvers import events as event_stream
from schema import build_schema
from tests.schema.conftest import Streams
from tests.schema.test_outbox_fanout import principals

BATCH = 3
QUERY = "subscription { resultPublished { cursor } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def test_the_next_batch_is_read_while_this_one_is_delivered_and_each_event_comes_once_in_order(
    streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    hr_admin = principals(streams.org)["hr_admin"]
    context = streams.context(hr_admin, request_id="ahead")
    outbox = [event_stream.cursor_of(event) for event in await event_stream.result_events(context, None, 500)]
    assert len(outbox) > 3 * BATCH
    monkeypatch.setattr(event_stream, "CATCH_UP_BATCH", BATCH)
    looked_at: list[int] = []
    next_events = event_stream._next_events

    async def counting(live: Any, position: int, *args: Any) -> Any:
        looked_at.append(position)
        return await next_events(live, position, *args)

    monkeypatch.setattr(event_stream, "_next_events", counting)
    subscriber = streams.context(hr_admin, request_id="ahead")
    stream = await streams.schema.subscribe(QUERY, context_value=subscriber)
    assert isinstance(stream, AsyncIterator)
    received: list[str] = []
    try:
        first = await anext(stream)
        assert not first.errors and first.data is not None
        received.append(first.data["resultPublished"]["cursor"])
        await asyncio.sleep(0.2)  # the consumer is busy with the first event: the stream's look ahead runs
        assert len(looked_at) == 2, "the second batch was read while the first was being delivered"
        for _ in range(len(outbox) - 1):
            result = await anext(stream)
            assert not result.errors and result.data is not None
            received.append(result.data["resultPublished"]["cursor"])
    finally:
        await stream.aclose()
    assert received == outbox
    assert looked_at == sorted(set(looked_at))  # each position looked at once, forward only
