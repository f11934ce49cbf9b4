"""Node's graphql-ws client as a consumer of the result events: subscribe, disconnect, resume from the last cursor.

What it receives over the WebSocket, across sessions, must be exactly the stream `resultEvents` pages
through over HTTP: every event, once, in order (the README's "keep the cursor of the last event handled
and resume from it").
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.served.hub_process import ServedHub
from tests.served.node import NodeJS

PAGE = 500
EVENTS_PAGE = "query($after: String, $first: Int!) { resultEvents(after: $after, first: $first) { cursor eventId } }"


def all_events(hub: ServedHub) -> list[dict[str, str]]:
    """Every event in the outbox, oldest first, paged through `resultEvents` (a list; a short page is the last)."""
    events: list[dict[str, str]] = []
    after: str | None = None
    while True:
        response = httpx.post(
            hub.url,
            json={"query": EVENTS_PAGE, "variables": {"after": after, "first": PAGE}},
            headers=hub.headers("hr_admin"),
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        page: list[dict[str, str]] = body["data"]["resultEvents"]
        events.extend(page)
        if len(page) < PAGE:
            return events
        after = page[-1]["cursor"]


def thirds(total: int) -> list[int]:
    first = second = total // 3
    return [first, second, total - first - second]


def test_node_graphql_ws_resumes_from_the_last_cursor_without_loss_or_duplicates(
    served: ServedHub, node: NodeJS
) -> None:
    expected = all_events(served)
    assert len(expected) >= 30, "the demo's published cycle should have put its results in the outbox"
    sizes = thirds(len(expected))
    report = node.run_json(
        "resume.mjs", served.ws_url, ",".join(map(str, sizes)), env={"PERFHUB_TOKEN": served.token("hr_admin")}
    )
    sessions = report["sessions"]
    received = [event for session in sessions for event in session["events"]]
    received_ids = [event["eventId"] for event in received]
    print(
        f"graphql-ws: {len(received)} events in {len(sessions)} sessions {sizes} "
        f"({', '.join(session['ending'] for session in sessions)}) in {report['elapsedMs']} ms"
    )
    # Each session resumed from the cursor of the last event the one before handled.
    ends = list(itertools.accumulate(sizes))[:-1]
    assert [session["after"] for session in sessions] == [None, *(received[end - 1]["cursor"] for end in ends)]
    lost = {event["eventId"] for event in expected} - set(received_ids)
    duplicated = len(received_ids) - len(set(received_ids))
    assert (len(lost), duplicated) == (0, 0), f"lost {sorted(lost)[:10]}, duplicated {duplicated}"
    assert received == expected  # in order, cursors too
    assert report["extra"] == [], "events after the end of the outbox"
