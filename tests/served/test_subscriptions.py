"""Results out to the training and payroll modules, as they subscribe: Python's gql over WebSocket
(graphql-transport-ws) against the served hub, with publishing done over gql's HTTP transport.

Every event must arrive once, in order, across a dropped socket and a resume from the last cursor:
expected (the outbox, read with resultEvents) = received, 0 lost, 0 duplicated.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport

from tests.served.hub_process import ServedHub
from tests.served.people import find_people
from tests.served.sockets import RESULT_STREAM, nothing_more, socket_client

EVENTS_PAGE = "query($after: String) { resultEvents(after: $after, first: 500) { cursor eventId } }"
TRANSITION = """
mutation($id: ID!) {
  %s(cycleId: $id) { __typename ... on MutationError { code message } }
}
"""


def http_client(hub: ServedHub, role: str = "hr_admin") -> Client:
    transport = HTTPXAsyncTransport(url=hub.url, headers=hub.headers(role), timeout=60)
    return Client(transport=transport)


async def outbox(hub: ServedHub) -> list[str]:
    """Every event id in the outbox, oldest first, paged through the catch-up query."""
    ids: list[str] = []
    after: str | None = None
    async with http_client(hub) as session:
        while True:
            page = await session.execute(GraphQLRequest(EVENTS_PAGE, variable_values={"after": after}))
            events = page["resultEvents"]
            if not events:
                return ids
            ids += [event["eventId"] for event in events]
            after = events[-1]["cursor"]


async def receive(hub: ServedHub, role: str, after: str | None, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events after the cursor; then the socket is dropped, as a crashing consumer would."""
    received: list[dict[str, Any]] = []
    async with socket_client(hub, role) as session:
        request = GraphQLRequest(RESULT_STREAM, variable_values={"after": after})
        async with asyncio.timeout(60):
            async for data in session.subscribe(request):
                received.append(data["resultPublished"])
                if len(received) == count:
                    break
    return received


async def publish(hub: ServedHub, cycle_id: str) -> None:
    async with http_client(hub) as session:
        for step in ("cycleScore", "cycleCloseCalibration", "cyclePublish"):
            answer = await session.execute(GraphQLRequest(TRANSITION % step, variable_values={"id": cycle_id}))
            assert "code" not in answer[step], answer


async def test_a_subscriber_gets_every_event_once_in_order_across_a_drop_and_a_resume(served: ServedHub) -> None:
    people = find_people(served)
    history = await outbox(served)  # the demo's published cycle
    assert len(history) >= 100

    # Replay: half of the history, then the socket drops.
    first = await receive(served, "payroll", None, len(history) // 2)
    # Resume from the last cursor, catch up, and stay on for the live events of a publish.
    remaining_history = len(history) - len(first)
    listening = asyncio.create_task(receive(served, "payroll", first[-1]["cursor"], remaining_history + 40))
    await asyncio.sleep(0.5)
    await publish(served, people.open_cycle)
    second = await listening
    expected = await outbox(served)
    assert len(expected) > len(history) + 40, "the publish wrote the open cycle's events"
    # Dropped again mid-publication; the last resume takes the rest.
    third = await receive(served, "payroll", second[-1]["cursor"], len(expected) - len(first) - len(second))
    # The hub polls its outbox every second by default.
    await nothing_more(served, "payroll", third[-1]["cursor"], within=2.5)

    received = [event["eventId"] for event in first + second + third]
    assert received == expected  # 0 lost, 0 duplicated, in order
    assert {event["cycle"]["id"] for event in second[remaining_history:] + third} == {people.open_cycle}
    assert all(event["type"] == "result.published" and event["result"]["grade"] for event in first + second + third)
