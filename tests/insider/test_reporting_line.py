"""A manager's scope is their reporting line: themselves and everyone below them in the manager chain.

The insider here is a team lead who asks, with a valid manager token, for their own boss, a peer manager
of the same department and the peer's people: employee rows, results of published and unpublished
cycles, ratings received, the boss reached through ``manager``. Every answer must leave those people
out. Below the manager, reads work at any depth. Expected rows come from the test's own walk of
``employees.manager_id`` (tests/insider/org_chart.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.demo.organisation import SeedSummary
from hub.operations.commands import Caller
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import GraphQLClient
from tests.insider.org_chart import Chart, read_chart

EMPLOYEE_IDS = "{ employees(first: 500) { totalCount edges { node { id } } } }"
PERSON = """
query($id: ID!, $c: ID!) {
  employee(id: $id) {
    id name results { totalScore } result(cycleId: $c) { totalScore } ratingsReceived(cycleId: $c) { value }
  }
}
"""
RESULT_OWNERS = "query($c: ID!) { results(cycleId: $c, first: 500) { totalCount edges { node { employee { id } } } } }"
MY_MANAGER = "query($id: ID!) { employee(id: $id) { id manager { id name results { totalScore } } } }"


@pytest.fixture
async def chart(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> Chart:
    # The current cycle scored, not published: results a manager sees before publication exist.
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    return await read_chart(sessionmaker)


def insider(chart: Chart) -> tuple[int, int, int]:
    """A team lead, their boss, and a peer lead under the same boss in the same department."""
    for lead in chart.team_leads():
        boss = chart.manager_of[lead]
        assert boss is not None
        peers = [
            p
            for p in chart.reports(boss)
            if p != lead and chart.reports(p) and chart.department_of[p] == chart.department_of[lead]
        ]
        if peers and chart.department_of[boss] == chart.department_of[lead]:
            return lead, boss, peers[0]
    raise AssertionError("the demo has a section with two team leads under a head of the same section")


def ids_of(data: dict[str, Any]) -> set[int]:
    return {int(edge["node"]["id"]) for edge in data["employees"]["edges"]}


async def test_a_manager_lists_exactly_their_reporting_line(app_client: GraphQLClient, chart: Chart) -> None:
    lead, boss, peer = insider(chart)
    client = app_client.as_principal("manager", chart.number_of[lead])
    data = await client.data(EMPLOYEE_IDS)
    line = {lead} | chart.below(lead)
    assert ids_of(data) == line
    assert data["employees"]["totalCount"] == len(line)
    # Same department, yet out of reach: the boss, the peer lead and every one of the peer's people.
    outside = {boss, peer, *chart.below(peer)}
    assert chart.department_of[boss] == chart.department_of[peer] == chart.department_of[lead]
    assert not outside & ids_of(data)


@pytest.mark.parametrize("cycle", ["published", "unpublished"])
async def test_a_manager_cannot_read_their_boss_nor_a_peer_nor_the_peers_people(
    cycle: str, app_client: GraphQLClient, chart: Chart, seeded: SeedSummary
) -> None:
    lead, boss, peer = insider(chart)
    cycle_id = seeded.past_cycle_id if cycle == "published" else seeded.current_cycle_id
    client = app_client.as_principal("manager", chart.number_of[lead])
    for someone in [boss, chart.root, peer, *chart.below(peer)]:
        body = await client.execute(PERSON, {"id": str(someone), "c": str(cycle_id)})
        assert body.get("errors") is None, body
        assert body["data"] == {"employee": None}, someone
    owners = await client.data(RESULT_OWNERS, {"c": str(cycle_id)})
    seen = {int(edge["node"]["employee"]["id"]) for edge in owners["results"]["edges"]}
    assert seen and seen <= {lead} | chart.below(lead)
    assert boss not in seen and peer not in seen
    # Nor through the manager link of their own row.
    mine = await client.data(MY_MANAGER, {"id": str(lead)})
    assert mine == {"employee": {"id": str(lead), "manager": None}}


async def test_the_boss_still_reads_the_people_below_at_any_depth(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary
) -> None:
    _, boss, _ = insider(chart)
    client = app_client.as_principal("manager", chart.number_of[boss])
    data = await client.data(EMPLOYEE_IDS)
    assert ids_of(data) == {boss} | chart.below(boss)
    deep = sorted(e for e in chart.below(boss) if chart.depth_below(boss, e) == 2)
    assert deep, "the section head has people two levels down"
    for someone in deep[:3]:
        for cycle in (seeded.current_cycle_id, seeded.past_cycle_id):
            person = await client.data(PERSON, {"id": str(someone), "c": str(cycle)})
            employee = person["employee"]
            assert employee["id"] == str(someone) and employee["name"]
            assert employee["result"] is not None and employee["results"]
            assert employee["ratingsReceived"] is not None
        # The published cycle has every self and manager rating (the open one is still being rated).
        assert employee["ratingsReceived"]
    # The department's head (the root) is above everyone: depth 3 included.
    root = app_client.as_principal("manager", chart.number_of[chart.root])
    everyone = await root.data(EMPLOYEE_IDS)
    assert ids_of(everyone) == set(chart.manager_of)
    assert max(chart.depth_below(chart.root, e) or 0 for e in chart.manager_of) >= 3


async def test_a_manager_sees_their_own_result_only_once_it_is_published(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary
) -> None:
    # Before publication the manager's people's results are theirs to review; their own is still being
    # calibrated by their boss and HR, and reaches them on publication like any employee's.
    lead, _, _ = insider(chart)
    client = app_client.as_principal("manager", chart.number_of[lead])
    own = "query($id: ID!, $c: ID!) { employee(id: $id) { result(cycleId: $c) { totalScore } } }"
    published = await client.data(own, {"id": str(lead), "c": str(seeded.past_cycle_id)})
    assert published["employee"]["result"] is not None
    unpublished = await client.data(own, {"id": str(lead), "c": str(seeded.current_cycle_id)})
    assert unpublished == {"employee": {"result": None}}
    owners = await client.data(RESULT_OWNERS, {"c": str(seeded.current_cycle_id)})
    seen = {int(edge["node"]["employee"]["id"]) for edge in owners["results"]["edges"]}
    assert seen and seen <= chart.below(lead)


async def test_every_department_has_a_head_above_all_its_people(chart: Chart) -> None:
    # The reporting line replaces the department scope only if a department's head is above everyone in
    # it: the demo must not leave anyone of a section outside their section head's line.
    departments: dict[int, set[int]] = {}
    for employee, department in chart.department_of.items():
        departments.setdefault(department, set()).add(employee)
    for members in departments.values():
        heads = [m for m in members if members - {m} <= chart.below(m)]
        assert len(heads) == 1, members
    assert chart.below(chart.root) == set(chart.manager_of) - {chart.root}
