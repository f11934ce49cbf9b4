"""A correction reaches the payroll module: after resultCorrect, a live subscriber of resultPublished (gql over
WebSocket against the served hub) receives the result.revised event with the corrected result, and so does a
resultEvents reader; nothing else arrives. A subscriber filtering by type and post family gets only those."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import GraphQLRequest

from tests.served.hub_process import ServedHub
from tests.served.sockets import nothing_more, socket_client
from tests.served.test_subscriptions import http_client, receive

LAST_EVENTS = "{ resultEvents(first: 500) { cursor type result { id totalScore grade } } }"
CORRECT = """
mutation($input: ResultCorrectInput!) {
  resultCorrect(input: $input) {
    __typename ... on ResultCorrected { result { totalScore grade } } ... on MutationError { code message }
  }
}
"""


async def test_a_subscriber_receives_the_revised_event_after_a_correction(served: ServedHub) -> None:
    async with http_client(served) as hr:
        history = (await hr.execute(GraphQLRequest(LAST_EVENTS)))["resultEvents"]
    assert history and {event["type"] for event in history} == {"result.published"}
    result = history[0]["result"]
    corrected = 15.0 if result["totalScore"] > 50 else 85.0

    listening = asyncio.create_task(receive(served, "payroll", history[-1]["cursor"], 1))
    await asyncio.sleep(0.5)  # subscribed and polling before the correction commits
    async with http_client(served) as hr:
        variables = {"input": {"resultId": result["id"], "totalScore": corrected, "reason": "a source value was wrong"}}
        answer = (await hr.execute(GraphQLRequest(CORRECT, variable_values=variables)))["resultCorrect"]
    assert answer["__typename"] == "ResultCorrected", answer
    (revised,) = await listening

    assert (revised["type"], revised["result"]["id"], revised["result"]["grade"]) == (
        "result.revised",
        result["id"],
        answer["result"]["grade"],
    )
    await nothing_more(served, "payroll", revised["cursor"], within=2.5)
    async with http_client(served, "payroll") as payroll:
        caught_up = (await payroll.execute(GraphQLRequest(LAST_EVENTS)))["resultEvents"]
    # The events before it are the same events (a replayed event shows its result as it is now).
    assert [(event["cursor"], event["type"]) for event in caught_up[:-1]] == [(e["cursor"], e["type"]) for e in history]
    assert (caught_up[-1]["type"], caught_up[-1]["result"]) == (
        "result.revised",
        {"id": result["id"], "totalScore": corrected, "grade": answer["result"]["grade"]},
    )


REVISIONS = """subscription($families: [String!]) {
  resultPublished(filter: {types: ["result.revised"], postFamilies: $families}) {
    type cycle { periodStart periodEnd } result { id grade calibrated employee { employeeNo } post { family } }
  }
}"""
FAMILY = "{ resultEvents(first: 1) { result { id totalScore post { family } } } }"


async def test_a_payroll_module_subscribes_to_revisions_of_its_families_only(served: ServedHub) -> None:
    """From the start of the stream (after = null) with a filter: the 120 published events are skipped, the
    correction arrives with what payroll keys on (employee number, period, grade, calibrated)."""
    async with http_client(served) as hr:
        (first,) = (await hr.execute(GraphQLRequest(FAMILY)))["resultEvents"]
    result, family = first["result"], first["result"]["post"]["family"]
    received: list[dict[str, Any]] = []

    async def listen() -> None:
        async with socket_client(served, "payroll") as session, asyncio.timeout(60):
            request = GraphQLRequest(REVISIONS, variable_values={"families": [family]})
            async for data in session.subscribe(request):
                received.append(data["resultPublished"])
                if data["resultPublished"]["result"]["id"] == result["id"]:
                    return

    listening = asyncio.create_task(listen())
    corrected = 20.0 if result["totalScore"] > 50 else 80.0
    async with http_client(served) as hr:
        variables = {"input": {"resultId": result["id"], "totalScore": corrected, "reason": "the filter test"}}
        answer = (await hr.execute(GraphQLRequest(CORRECT, variable_values=variables)))["resultCorrect"]
    assert answer["__typename"] == "ResultCorrected", answer
    await listening
    assert received and all(event["type"] == "result.revised" for event in received)
    assert all(event["result"]["post"]["family"] == family for event in received)
    mine = received[-1]
    assert mine["result"]["grade"] == answer["result"]["grade"] and mine["result"]["employee"]["employeeNo"]
    assert mine["cycle"]["periodStart"] < mine["cycle"]["periodEnd"]
