"""Two hub processes on one PostgreSQL: an event committed through one reaches a subscriber of the other by
notification, not by the poll (PostgreSQL only).

Both hubs poll the outbox only once a minute here; a correction through hub A (its ``result.revised``
event) must reach a subscriber of hub B well before that: publishing and correcting send ``NOTIFY`` in their
transactions, and every hub's outbox watcher ``LISTEN``s. The deadline is a guard against waiting for the
poll, far from the machine's speed (a notification takes milliseconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gql import GraphQLRequest

from tests.conftest import Backend
from tests.races.harness import ENV, WITHIN, Hubs, call, data, needs_postgres, running_hubs, typed
from tests.served.sockets import socket_client

pytestmark = needs_postgres

SLOW_POLL = 60.0
"""Seconds between the watchers' polls: far longer than the test waits for the event."""
LAST = "{ resultEvents(first: 1) { result { id totalScore } } }"
CURSOR = "{ resultEvents(first: 500) { cursor } }"
LIVE = """subscription($after: String) { resultPublished(after: $after) { type result { id totalScore } } }"""
CORRECT = """mutation($input: ResultCorrectInput!) { resultCorrect(input: $input) {
  __typename ... on ResultCorrected { result { totalScore } } ... on MutationError { code message } } }"""


@pytest.fixture
def slow_hubs(postgresql_backend: Backend, tmp_path: Path) -> Iterator[Hubs]:
    for url in postgresql_backend.fresh_copy(tmp_path):
        with running_hubs(url, tmp_path, {**ENV, "PERFHUB_EVENT_POLL_SECONDS": str(SLOW_POLL)}) as hubs:
            yield hubs


async def test_an_event_through_one_hub_wakes_a_subscriber_of_the_other(slow_hubs: Hubs) -> None:
    first, second = slow_hubs.start_together("hub-a", "hub-b")
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        result = (await data(client, first, LAST))["resultEvents"][0]["result"]
        after = (await data(client, second, CURSOR))["resultEvents"][-1]["cursor"]

        async def hear_one() -> dict[str, object]:
            async with socket_client(second, "payroll") as session:
                async for answer in session.subscribe(GraphQLRequest(LIVE, variable_values={"after": after})):
                    event: dict[str, object] = answer["resultPublished"]
                    return event
            raise AssertionError("the subscription ended")

        listening = asyncio.create_task(hear_one())
        await asyncio.sleep(1.0)  # subscribed, caught up and waiting on hub B's watcher
        total = 30.0 if result["totalScore"] > 50 else 70.0
        variables = {"input": {"resultId": result["id"], "totalScore": total, "reason": "the notification test"}}
        corrected = typed(await call(client, first, CORRECT, variables), "resultCorrect")
        assert corrected["__typename"] == "ResultCorrected", corrected
        async with asyncio.timeout(SLOW_POLL / 3):
            event = await listening
    assert event == {"type": "result.revised", "result": {"id": result["id"], "totalScore": total}}
