"""A correction through one hub process heard by a subscriber of another: how the outbox wake-ups are tested
(``test_outbox_notify``: PostgreSQL's NOTIFY; ``test_outbox_redis``: the Redis channel)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from gql import GraphQLRequest

from tests.races.harness import WITHIN, call, data, typed
from tests.served.hub_process import ServedHub
from tests.served.sockets import socket_client

LAST = "{ resultEvents(first: 1) { result { id totalScore } } }"
CURSOR = "{ resultEvents(first: 500) { cursor } }"
LIVE = """subscription($after: String) { resultPublished(after: $after) { cursor type result { id totalScore } } }"""
CORRECT = """mutation($input: ResultCorrectInput!) { resultCorrect(input: $input) {
  __typename ... on ResultCorrected { result { totalScore } } ... on MutationError { code message } } }"""


async def correct_and_hear(
    client: httpx.AsyncClient, through_hub: ServedHub, listening_hub: ServedHub, reason: str, hear_within: float
) -> float:
    """Corrects the last published result through one hub while a payroll subscriber of the other listens; the
    corrected total, once the subscriber received the result.revised event with it within ``hear_within``
    seconds (the tests keep that well under their hubs' poll: the event must come by the wake-up)."""
    last = (await data(client, through_hub, LAST))["resultEvents"][0]["result"]
    after = (await data(client, listening_hub, CURSOR))["resultEvents"][-1]["cursor"]

    async def hear_one() -> dict[str, Any]:
        async with socket_client(listening_hub, "payroll") as session:
            async for answer in session.subscribe(GraphQLRequest(LIVE, variable_values={"after": after})):
                event: dict[str, Any] = answer["resultPublished"]
                return event
        raise AssertionError("the subscription ended")

    listening = asyncio.create_task(hear_one())
    await asyncio.sleep(1.0)  # subscribed, caught up and waiting on the listening hub's watcher
    total = 30.0 if last["totalScore"] > 50 else 70.0
    variables = {"input": {"resultId": last["id"], "totalScore": total, "reason": reason}}
    async with asyncio.timeout(WITHIN):  # the mutation never waits for the wake-up
        corrected = typed(await call(client, through_hub, CORRECT, variables), "resultCorrect")
    assert corrected["__typename"] == "ResultCorrected", corrected
    async with asyncio.timeout(hear_within):
        event = await listening
    assert (event["type"], event["result"]) == ("result.revised", {"id": last["id"], "totalScore": total})
    return total
