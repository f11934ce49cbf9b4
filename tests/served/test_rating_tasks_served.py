"""Raters read their rating tasks from the served hub, many at once, as a portal would at a cycle's start."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.served.hub_process import ServedHub

RATERS = """
query($c: ID!) {
  employees(first: 500) { edges { node { id employeeNo ratingTasks(cycleId: $c) { ratee { id } role } } } }
  cycles { id state }
}
"""
OWN_TASKS = """
query($id: ID!, $c: ID!) {
  employee(id: $id) { ratingTasks(cycleId: $c) { ratee { id employeeNo name } role submitted indicators { id } } }
}
"""


def open_cycle(hub: ServedHub) -> str:
    answer = httpx.post(hub.url, json={"query": "{ cycles { id state } }"}, headers=hub.headers("hr_admin")).json()
    return str(next(cycle["id"] for cycle in answer["data"]["cycles"] if cycle["state"] == "OPEN"))


def test_raters_read_their_own_tasks_concurrently_and_see_what_hr_sees(served_to_read: ServedHub) -> None:
    hub = served_to_read
    cycle = open_cycle(hub)
    answer = httpx.post(
        hub.url, json={"query": RATERS, "variables": {"c": cycle}}, headers=hub.headers("hr_admin"), timeout=60
    ).json()
    assert "errors" not in answer, answer["errors"][:2]
    raters = [edge["node"] for edge in answer["data"]["employees"]["edges"] if edge["node"]["ratingTasks"]][:16]
    assert len(raters) == 16

    async def read_own(client: httpx.AsyncClient, rater: dict[str, Any]) -> httpx.Response:
        return await client.post(
            hub.url,
            json={"query": OWN_TASKS, "variables": {"id": rater["id"], "c": cycle}},
            headers=hub.headers("employee", rater["employeeNo"]),
        )

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(read_own(client, rater) for rater in raters))

    for rater, response in zip(raters, asyncio.run(all_at_once()), strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        tasks = body["data"]["employee"]["ratingTasks"]
        assert [(task["ratee"]["id"], task["role"]) for task in tasks] == [
            (task["ratee"]["id"], task["role"]) for task in rater["ratingTasks"]
        ]
        assert all(task["ratee"]["name"] and task["indicators"] for task in tasks)
