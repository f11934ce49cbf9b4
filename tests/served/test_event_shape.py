"""One event shape on every channel, against the served hub: the same events read with resultEvents (HTTP),
received over a real WebSocket (gql, graphql-transport-ws) and posted to a webhook receiver on loopback
(verified with the cloudevents and standardwebhooks libraries) carry the same fields with the same values; a
revised event shows the corrected figures; who may not see employee numbers does not get them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from gql import GraphQLRequest
from standardwebhooks import Webhook

from tests.hub.webhooks.receiver import Receiver, receiving
from tests.served.conftest import NO_RATE_LIMIT
from tests.served.hub_process import ServedHub
from tests.served.people import find_people
from tests.served.sockets import socket_client
from tests.served.test_subscriptions import http_client

SHAPE = """
  eventId type occurredAt cursor resultId cycle { id name periodStart periodEnd } period { start end }
  employeeId employeeNo postId postFamily departmentId totalScore grade calibrated
  indicatorScores { indicatorCode indicatorName category version rawValue normalizedScore weight }
"""
"""The selection the README calls the event shape: the webhook's ``data`` is this JSON."""
PAGE = "query($after: String) { resultEvents(after: $after, first: 500) { " + SHAPE + " } }"
STREAM = "subscription($after: String) { resultPublished(after: $after) { " + SHAPE + " } }"
CORRECT = """
mutation($input: ResultCorrectInput!) {
  resultCorrect(input: $input) {
    __typename ... on ResultCorrected { result { totalScore grade } } ... on MutationError { code message }
  }
}
"""
CREATE = """
mutation($url: String!) {
  webhookEndpointCreate(input: {url: $url, eventTypes: ["result.published", "result.revised"]}) {
    ... on WebhookEndpointWithSecret { secret endpoint { id } } ... on MutationError { code message }
  }
}
"""
REPLAY = """
mutation($id: ID!, $from: String) {
  webhookReplay(endpointId: $id, fromCursor: $from) { ... on WebhookReplayQueued { queued } }
}
"""
HOOKS = {"PERFHUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true", "PERFHUB_WEBHOOK_POLL_SECONDS": "0.2"}


@pytest.fixture
def hooked(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    """The served hub with its webhook worker allowed to post to a receiver on loopback."""
    with ServedHub(database_url, tmp_path, {**NO_RATE_LIMIT, **HOOKS}) as hub:
        yield hub
    assert "Traceback" not in hub.log(), hub.log()[-4000:]


async def graphql(hub: ServedHub, query: str, variables: dict[str, Any], role: str = "hr_admin") -> dict[str, Any]:
    async with http_client(hub, role) as session:
        data: dict[str, Any] = await session.execute(GraphQLRequest(query, variable_values=variables))
        return data


async def streamed(hub: ServedHub, role: str, after: str, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    async with socket_client(hub, role) as session, asyncio.timeout(60):
        async for data in session.subscribe(GraphQLRequest(STREAM, variable_values={"after": after})):
            received.append(data["resultPublished"])
            if len(received) == count:
                return received
    raise AssertionError("the stream ended early")


async def posted(receiver: Receiver, secret: str, count: int) -> list[dict[str, Any]]:
    """The ``data`` of the first ``count`` webhook requests, each verified as a signed CloudEvent."""
    for _ in range(600):  # the worker polls every 0.2 s
        if len(receiver.hits) >= count:
            break
        await asyncio.sleep(0.1)
    assert len(receiver.hits) >= count, f"{len(receiver.hits)} of {count} webhook requests arrived"
    bodies = []
    for hit in receiver.hits[:count]:
        Webhook(secret).verify(hit.body, hit.headers)
        event = from_http(HTTPMessage(headers=hit.headers, body=hit.body), JSONFormat(), CloudEvent)
        data = event.get_data()
        assert isinstance(data, dict)
        assert (event.get_id(), event.get_type()) == (data["eventId"], data["type"])
        bodies.append(data)
    return bodies


async def test_resultevents_the_subscription_and_a_webhook_give_the_same_event(hooked: ServedHub) -> None:
    history = (await graphql(hooked, PAGE, {"after": None}))["resultEvents"]
    start, corrected_event = history[-3], history[-1]
    corrected = 14.0 if corrected_event["totalScore"] > 50 else 86.0
    variables = {"input": {"resultId": corrected_event["resultId"], "totalScore": corrected, "reason": "a typo"}}
    answer = (await graphql(hooked, CORRECT, variables))["resultCorrect"]
    assert answer["__typename"] == "ResultCorrected", answer

    async with receiving() as receiver:
        made = (await graphql(hooked, CREATE, {"url": receiver.url}))["webhookEndpointCreate"]
        queued = await graphql(hooked, REPLAY, {"id": made["endpoint"]["id"], "from": start["cursor"]})
        assert queued["webhookReplay"]["queued"] == 3  # two published events, then the revision
        webhook = await posted(receiver, made["secret"], 3)
    page = (await graphql(hooked, PAGE, {"after": start["cursor"]}))["resultEvents"]
    socket = await streamed(hooked, "payroll", start["cursor"], 3)

    assert page == socket == webhook  # every field, every value, in the same order
    assert [event["type"] for event in page] == ["result.published", "result.published", "result.revised"]
    published, revised = page[1], page[2]
    assert revised["resultId"] == published["resultId"] == corrected_event["resultId"]
    # The revision shows the corrected figures; the published event, written before it, the published ones.
    assert (revised["totalScore"], revised["grade"]) == (corrected, answer["result"]["grade"])
    assert (published["totalScore"], published["grade"]) == (corrected_event["totalScore"], corrected_event["grade"])
    assert corrected_event["totalScore"] != corrected
    # What a module keys on is there and filled in.
    assert revised["employeeNo"] and revised["period"]["start"] < revised["period"]["end"]
    assert (revised["period"]["start"], revised["period"]["end"]) == (
        revised["cycle"]["periodStart"],
        revised["cycle"]["periodEnd"],
    )
    assert revised["indicatorScores"] and {score["category"] for score in revised["indicatorScores"]} == {
        "CORE",
        "EXTENSION",
    }
    assert all(score["indicatorCode"] and score["version"] >= 1 for score in revised["indicatorScores"])


async def test_three_corrections_in_a_row_give_three_events_with_their_own_figures(hooked: ServedHub) -> None:
    """An event is a fact: three quick corrections of one result give three result.revised events, each with the
    figures of its own correction, live on the subscription, on resultEvents, replayed on the socket and in the
    webhook's bodies; the result.published event before them keeps the published figures."""
    history = (await graphql(hooked, PAGE, {"after": None}))["resultEvents"]
    published = history[-1]
    assert published["type"] == "result.published"
    totals = [total for total in (82.0, 83.0, 55.0, 84.0) if total != published["totalScore"]][:3]
    listening = asyncio.create_task(streamed(hooked, "payroll", published["cursor"], 3))
    await asyncio.sleep(0.5)  # subscribed before the corrections commit
    corrections = []
    for total in totals:
        variables = {"input": {"resultId": published["resultId"], "totalScore": total, "reason": f"to {total}"}}
        answer = (await graphql(hooked, CORRECT, variables))["resultCorrect"]
        assert answer["__typename"] == "ResultCorrected", answer
        corrections.append(("result.revised", total, answer["result"]["grade"]))
    assert len({grade for _, _, grade in corrections}) > 1  # not only the totals differ
    live = await listening

    def figures(events: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
        return [(event["type"], event["totalScore"], event["grade"]) for event in events]

    page = (await graphql(hooked, PAGE, {"after": published["cursor"]}))["resultEvents"]
    replayed = await streamed(hooked, "payroll", history[-2]["cursor"], 4)
    async with receiving() as receiver:
        made = (await graphql(hooked, CREATE, {"url": receiver.url}))["webhookEndpointCreate"]
        queued = await graphql(hooked, REPLAY, {"id": made["endpoint"]["id"], "from": history[-2]["cursor"]})
        assert queued["webhookReplay"]["queued"] == 4
        webhook = await posted(receiver, made["secret"], 4)

    assert figures(live) == figures(page) == corrections
    expected = [("result.published", published["totalScore"], published["grade"]), *corrections]
    assert figures(replayed) == figures(webhook) == expected
    assert replayed == webhook and replayed[1:] == page == live  # every field, every value
    assert [event["eventId"] for event in replayed] == [event["eventId"] for event in webhook]
    assert len({event["eventId"] for event in replayed}) == 4


def test_an_employee_sees_their_own_number_and_a_pseudonymous_analyst_none(hooked: ServedHub) -> None:
    """An employee's stream holds their own events with their own number; an analyst without the names grant,
    who may not see employee numbers, is refused the stream (FORBIDDEN) and is given no event at all."""
    people = find_people(hooked)
    own = httpx.post(
        hooked.url,
        json={"query": PAGE, "variables": {"after": None}},
        headers={"Authorization": f"Bearer {hooked.token('employee', people.staff_no)}"},
        timeout=30,
    ).json()
    assert "errors" not in own, own
    assert own["data"]["resultEvents"] and {event["employeeNo"] for event in own["data"]["resultEvents"]} == {
        people.staff_no
    }

    refused = httpx.post(
        hooked.url, json={"query": PAGE, "variables": {"after": None}}, headers=hooked.headers("analyst"), timeout=30
    ).json()
    assert refused["data"] is None
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    assert people.staff_no not in str(refused)
