"""Moving a served hub's cycle through its workflow as hr_admin over plain HTTP, as the stream tests do before
they watch what the steps published."""

from __future__ import annotations

import httpx

from tests.served.hub_process import ServedHub

TRANSITION = "mutation($id: ID!) { %s(cycleId: $id) { __typename ... on MutationError { code message } } }"

PUBLISHING = ("cycleScore", "cycleCloseCalibration", "cyclePublish")
"""The steps from an OPEN cycle to a published one."""


async def transition(hub: ServedHub, *steps: str, cycle_id: str, request_seconds: float = 60) -> None:
    """Takes ``steps`` in order; a refusal or an error fails the test. ``request_seconds``: how long a request
    may take, as long as a loaded machine needs to score (gql's 10 s may not do)."""
    async with httpx.AsyncClient(headers=hub.headers("hr_admin"), timeout=request_seconds) as http:
        for step in steps:
            answer = (await http.post(hub.url, json={"query": TRANSITION % step, "variables": {"id": cycle_id}})).json()
            assert "errors" not in answer and "code" not in answer["data"][step], answer
