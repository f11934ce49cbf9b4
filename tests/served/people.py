"""Who is who in the served demo organisation, read through the served hub as hr_admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.served.hub_process import ServedHub

PEOPLE = """
{
  cycles { id state }
  employees(first: 500) { edges { node { id employeeNo department { id } manager { id } } } }
}
"""


@dataclass(frozen=True)
class People:
    manager_no: str
    manager_department: str
    staff_no: str
    outsider_department: str
    open_cycle: str
    published_cycle: str


def find_people(hub: ServedHub) -> People:
    """A section head (reports to the root, has reports), one of their staff, and a department outside."""
    answer = httpx.post(hub.url, json={"query": PEOPLE}, headers=hub.headers("hr_admin"), timeout=30).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    nodes = [edge["node"] for edge in data["employees"]["edges"]]
    manager_of = {node["id"]: (node["manager"] or {}).get("id") for node in nodes}
    root = next(node for node in nodes if node["manager"] is None)
    head = next(
        node
        for node in nodes
        if manager_of[node["id"]] == root["id"] and any(boss == node["id"] for boss in manager_of.values())
    )
    staff = next(node for node in nodes if manager_of[node["id"]] == head["id"])
    outsider = next(node for node in nodes if node["department"]["id"] != head["department"]["id"])
    cycles = {cycle["state"]: cycle["id"] for cycle in data["cycles"]}
    return People(
        manager_no=head["employeeNo"],
        manager_department=head["department"]["id"],
        staff_no=staff["employeeNo"],
        outsider_department=outsider["department"]["id"],
        open_cycle=cycles["OPEN"],
        published_cycle=cycles["PUBLISHED"],
    )
