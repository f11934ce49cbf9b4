"""Over the network: a team lead of the served demo asks the hub for their own boss, with a manager token.

The boss is in the lead's own department (the old department scope let every manager read them); every
path to the boss's rows must come back empty: the employee, their results, ratings and training records,
the lead's own ``manager`` link, the employee list and the results list, for an open and a published cycle.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

# The served fixtures live in tests/served/conftest.py; this package reaches them by name.
served_to_read = served_fixtures.served_to_read

ORG = """
{
  cycles { id state }
  employees(first: 500) { edges { node { id employeeNo department { id } manager { id } } } }
}
"""
BOSS = """
query($boss: ID!, $me: ID!, $c: ID!) {
  boss: employee(id: $boss) {
    id name results { totalScore } result(cycleId: $c) { totalScore }
    ratingsReceived(cycleId: $c) { value } trainingRecords { course }
  }
  me: employee(id: $me) { id manager { id name } }
  employees(first: 500) { totalCount edges { node { id } } }
  results(cycleId: $c, first: 500) { edges { node { employee { id } } } }
}
"""


def post(hub: ServedHub, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    response = httpx.post(hub.url, json={"query": query, "variables": variables}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("state", ["OPEN", "PUBLISHED"])
def test_a_team_lead_gets_nothing_of_their_boss(served_to_read: ServedHub, state: str) -> None:
    hub = served_to_read
    answer = post(hub, ORG, hub.headers("hr_admin"))
    assert "errors" not in answer, answer
    nodes = [edge["node"] for edge in answer["data"]["employees"]["edges"]]
    boss_of = {node["id"]: (node["manager"] or {}).get("id") for node in nodes}
    department = {node["id"]: node["department"]["id"] for node in nodes}
    root = next(node["id"] for node in nodes if node["manager"] is None)
    # A team lead: their boss is not the root, shares their department, and they have people of their own.
    lead = next(
        node
        for node in nodes
        if boss_of[node["id"]] not in (None, root)
        and department[boss_of[node["id"]]] == department[node["id"]]
        and node["id"] in boss_of.values()
    )
    boss = boss_of[lead["id"]]
    cycle = next(c["id"] for c in answer["data"]["cycles"] if c["state"] == state)

    seen = post(hub, BOSS, hub.headers("manager", lead["employeeNo"]), boss=boss, me=lead["id"], c=cycle)
    assert "errors" not in seen, seen
    data = seen["data"]
    assert data["boss"] is None
    assert data["me"] == {"id": lead["id"], "manager": None}
    listed = {edge["node"]["id"] for edge in data["employees"]["edges"]}
    below = {e for e, b in boss_of.items() if b == lead["id"]}
    assert lead["id"] in listed and below <= listed
    assert boss not in listed and root not in listed
    assert data["employees"]["totalCount"] == len(listed)
    result_owners = {edge["node"]["employee"]["id"] for edge in data["results"]["edges"]}
    assert boss not in result_owners and result_owners <= listed
