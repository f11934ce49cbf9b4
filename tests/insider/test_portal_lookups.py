"""The portal's conveniences as a curious insider uses them: lookups by employee number, the org chart's
direct reports, and the trend of a result.

An employee and a team lead try numbers of people outside their scope (their boss, a peer lead, the peer's
people) and compare the answers with an unknown number's: a number that exists outside one's scope must
answer exactly as one that does not, in data, errors and the statements it costs. They walk
``directReports`` from every row they can reach, looking for a colleague they may not read by id, and read
results' ``change`` looking for a score they may not read (an unpublished one). Expected rows come from the
test's own walk of ``employees.manager_id`` (tests/insider/org_chart.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle
from hub.demo.organisation import SeedSummary
from hub.operations.commands import Caller
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import GraphQLClient
from tests.insider.org_chart import Chart, read_chart
from tests.insider.test_reporting_line import insider

BY_NUMBER = "query($no: String!) { employeeByNumber(employeeNo: $no) { id name directReports { id } } }"
EVERY_REACHABLE_REPORT = """
{
  me { id manager { id directReports { id } } directReports { id directReports { id directReports { id } } } }
  employees(first: 500) { edges { node { id directReports { id } } } }
}
"""
CHANGES = """
query($c: ID!) {
  results(cycleId: $c, first: 500) { edges { node {
    employee { id } change { totalScoreDelta previous { id totalScore cycle { id state } employee { id } } }
  } } }
}
"""


@pytest.fixture
async def chart(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> Chart:
    # The current cycle scored, not published: results a manager sees before publication exist.
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    return await read_chart(sessionmaker)


async def _answer(client: GraphQLClient, number: str) -> tuple[str, int]:
    """The raw answer to a lookup, and the statements it cost."""
    client.sql.reset()
    body = await client.execute(BY_NUMBER, {"no": number})
    return json.dumps(body, sort_keys=True), client.sql.count


async def test_a_number_outside_ones_scope_answers_as_an_unknown_number(
    app_client: GraphQLClient, chart: Chart
) -> None:
    """A team lead and one of their staff try every number of the organisation: outside their scope, the
    answer and its cost are those of a number that does not exist; inside, the person is found."""
    lead, boss, peer = insider(chart)
    staff = chart.reports(lead)[0]
    for role, who, scope in (
        ("manager", lead, {lead} | chart.below(lead)),
        ("employee", staff, {staff}),
    ):
        client = app_client.as_principal(role, chart.number_of[who])
        unknown = await _answer(client, "NO-SUCH-NUMBER")
        assert json.loads(unknown[0]) == {"data": {"employeeByNumber": None}}
        outside = 0
        for someone, number in chart.number_of.items():
            answer = await _answer(client, number)
            if someone in scope:
                assert json.loads(answer[0])["data"]["employeeByNumber"]["id"] == str(someone)
            else:
                assert answer == unknown, (role, someone)
                outside += 1
        # The ones a lead most wants to find (their boss, a peer) were among those tried.
        assert outside == len(chart.number_of) - len(scope) and {boss, peer}.isdisjoint(scope)


async def test_direct_reports_never_name_a_colleague_out_of_reach(app_client: GraphQLClient, chart: Chart) -> None:
    """From every row a team lead reaches (their own, their people's, their manager link), directReports
    name only people of their reporting line, and exactly the chart's reports below them."""
    lead, _boss, _peer = insider(chart)
    line = {lead} | chart.below(lead)
    data = await app_client.as_principal("manager", chart.number_of[lead]).data(EVERY_REACHABLE_REPORT)
    assert data["me"]["manager"] is None, "the boss is out of reach, and so are the boss's reports"
    named = _ids_in(data)
    assert named <= line
    listed = {int(edge["node"]["id"]): edge["node"]["directReports"] for edge in data["employees"]["edges"]}
    assert set(listed) == line
    for someone, reports in listed.items():
        assert [int(report["id"]) for report in reports] == chart.reports(someone)


async def test_an_employee_token_lists_no_reports_even_for_a_manager(app_client: GraphQLClient, chart: Chart) -> None:
    """A team lead holding only an employee token reaches themselves: their directReports are empty."""
    lead, _boss, _peer = insider(chart)
    data = await app_client.as_principal("employee", chart.number_of[lead]).data(EVERY_REACHABLE_REPORT)
    assert data["me"] == {"id": str(lead), "manager": None, "directReports": []}
    assert _ids_in(data) == {lead}


async def test_a_change_never_reveals_an_unpublished_score(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], chart: Chart, seeded: SeedSummary
) -> None:
    """The current cycle, scored but not published, is moved before the published one: an employee's published
    result then has a scored result of theirs in an earlier cycle, which they may not read, and its change
    must not lead there. A manager, who may read their people's unpublished results, gets no such change
    either: only a published cycle is a previous cycle."""
    async with sessionmaker() as session, session.begin():
        start = (await session.execute(select(Cycle.period_start).where(Cycle.id == seeded.past_cycle_id))).scalar_one()
        await session.execute(
            update(Cycle)
            .where(Cycle.id == seeded.current_cycle_id)
            .values(period_start=start.replace(year=start.year - 1))
        )
    lead, _boss, _peer = insider(chart)
    staff = chart.reports(lead)[0]
    for role, who in (("employee", staff), ("manager", lead)):
        data = await app_client.as_principal(role, chart.number_of[who]).data(CHANGES, {"c": str(seeded.past_cycle_id)})
        nodes = [edge["node"] for edge in data["results"]["edges"]]
        assert nodes and all(node["change"] is None for node in nodes), role


async def test_a_managers_changes_stay_on_their_people(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], chart: Chart, seeded: SeedSummary
) -> None:
    """A team lead reading the current (unpublished) results of their people: each change's previous result is
    the same person's, in the published cycle, and no one outside their line appears anywhere."""
    lead, _boss, _peer = insider(chart)
    line = {str(someone) for someone in {lead} | chart.below(lead)}
    data = await app_client.as_principal("manager", chart.number_of[lead]).data(
        CHANGES, {"c": str(seeded.current_cycle_id)}
    )
    nodes = [edge["node"] for edge in data["results"]["edges"]]
    assert nodes
    changed = [node for node in nodes if node["change"] is not None]
    assert changed, "the lead's people have results in the published cycle"
    for node in changed:
        previous = node["change"]["previous"]
        assert previous["employee"]["id"] == node["employee"]["id"] in line
        assert previous["cycle"] == {"id": str(seeded.past_cycle_id), "state": "PUBLISHED"}


def _ids_in(data: Any) -> set[int]:
    """Every employee id anywhere in an answer."""
    found: set[int] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "id" and isinstance(value, str):
                found.add(int(value))
            else:
                found |= _ids_in(value)
    elif isinstance(data, list):
        for item in data:
            found |= _ids_in(item)
    return found
