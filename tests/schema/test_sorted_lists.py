"""Sorted and filtered lists (issue 15 point 4): results and employees by total, by an indicator's score and by change,
paged by keyset through ties without repeating or skipping a row; the filters by cycle, grade, score and period."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Grant, Role
from hub.db.models import AppraisalResult, Cycle
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org

SORTED = """query($cycle: ID, $after: String, $first: Int, $order: ResultOrder, $filter: ResultFilter) {
  results(cycleId: $cycle, first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id totalScore grade cycle { id } employee { id }
      change { totalScoreDelta }
      indicatorScores { normalizedScore indicatorVersion { indicator { id } } } } }
  }
}"""


async def _all(client: GraphQLClient, variables: dict[str, Any], first: int) -> tuple[list[dict[str, Any]], int]:
    """Every node of a list, ``first`` at a time, and the totalCount of its first page."""
    nodes: list[dict[str, Any]] = []
    after = None
    total = None
    while True:
        page = (await client.data(SORTED, {**variables, "first": first, "after": after}))["results"]
        total = page["totalCount"] if total is None else total
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, total
        after = page["pageInfo"]["endCursor"]


async def _tie(sessionmaker: async_sessionmaker[AsyncSession], cycle: int, count: int, total: float) -> set[int]:
    """Gives ``count`` results of the cycle the same total: ties that pages must cut through."""
    async with sessionmaker.begin() as session:
        ids = (
            (await session.execute(select(AppraisalResult.id).where(AppraisalResult.cycle_id == cycle).limit(count)))
            .scalars()
            .all()
        )
        await session.execute(update(AppraisalResult).where(AppraisalResult.id.in_(ids)).values(total_score=total))
    return set(ids)


async def test_paging_through_results_by_total_with_ties_lists_each_once_in_order(
    app_client: GraphQLClient, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Pages of 7 through a cycle with 15 tied totals: every result once, totals never rising, ties by id."""
    tied = await _tie(sessionmaker, org.published_cycle, 15, 61.5)
    everyone, _ = await _all(app_client, {"cycle": str(org.published_cycle)}, 500)
    for direction in ("DESC", "ASC"):
        order = {"by": "TOTAL_SCORE", "direction": direction}
        nodes, total = await _all(app_client, {"cycle": str(org.published_cycle), "order": order}, 7)
        assert total == len(everyone) == len(nodes)
        assert sorted(node["id"] for node in nodes) == sorted(node["id"] for node in everyone)
        sign = -1 if direction == "DESC" else 1
        keys = [(sign * node["totalScore"], int(node["id"])) for node in nodes]
        assert keys == sorted(keys)
    tied_run = [int(node["id"]) for node in nodes if node["totalScore"] == 61.5]
    assert tied_run == sorted(tied)


async def test_top_n_by_an_indicators_score_and_by_change(app_client: GraphQLClient, org: Org) -> None:
    """Top 10 by an indicator's score are the 10 best of those scored on it; by change, the list holds exactly the
    results with a previous published one, in falling change."""
    cycle = {"cycle": str(org.unpublished_cycle)}
    everyone, _ = await _all(app_client, cycle, 500)
    indicator = everyone[0]["indicatorScores"][0]["indicatorVersion"]["indicator"]["id"]

    def score(node: dict[str, Any]) -> float | None:
        found = [s for s in node["indicatorScores"] if s["indicatorVersion"]["indicator"]["id"] == indicator]
        return found[0]["normalizedScore"] if found else None

    scored = sorted((s for node in everyone if (s := score(node)) is not None), reverse=True)
    order = {"by": "INDICATOR_SCORE", "indicatorId": indicator}
    top = (await app_client.data(SORTED, {**cycle, "first": 10, "order": order}))["results"]
    assert top["totalCount"] == len(scored)
    assert [score(edge["node"]) for edge in top["edges"]] == scored[:10]
    by_change, total = await _all(app_client, {**cycle, "order": {"by": "CHANGE"}}, 40)
    with_change = [node for node in everyone if node["change"] is not None]
    assert total == len(with_change) == len(by_change) > 0
    deltas = [node["change"]["totalScoreDelta"] for node in by_change]
    # Sorted by the exact change; each shown delta is a difference of two rounded totals (within a cent).
    assert all(later <= earlier + 0.011 for earlier, later in itertools.pairwise(deltas))


EMPLOYEES = """query($filter: EmployeeFilter, $order: EmployeeOrder, $first: Int) {
  employees(first: $first, filter: $filter, orderBy: $order) { totalCount edges { node { id } } }
}"""


async def test_employees_sorted_and_filtered_by_their_result_in_a_cycle(app_client: GraphQLClient, org: Org) -> None:
    """Employees top 5 by total in a cycle are the employees of the top 5 results; a grade filter keeps those graded
    so in that cycle, and a manager's filtered list stays in their line."""
    cycle = str(org.published_cycle)
    everyone, _ = await _all(app_client, {"cycle": cycle}, 500)
    best = sorted(everyone, key=lambda node: (-node["totalScore"], int(node["employee"]["id"])))[:5]
    order = {"by": "TOTAL_SCORE", "cycleId": cycle}
    top = (await app_client.data(EMPLOYEES, {"order": order, "first": 5}))["employees"]
    assert [edge["node"]["id"] for edge in top["edges"]] == [node["employee"]["id"] for node in best]
    assert top["totalCount"] == len(everyone)
    graded = await app_client.data(EMPLOYEES, {"filter": {"cycleId": cycle, "grade": "B"}, "first": 500})
    expected = {node["employee"]["id"] for node in everyone if node["grade"] == "B"}
    assert expected and {edge["node"]["id"] for edge in graded["employees"]["edges"]} == expected
    ranged = {"cycleId": cycle, "minScore": 60, "maxScore": 70}
    within = (await app_client.data(EMPLOYEES, {"filter": ranged, "first": 500}))["employees"]["edges"]
    assert {edge["node"]["id"] for edge in within} == {
        node["employee"]["id"] for node in everyone if 60 <= node["totalScore"] <= 70
    }
    manager = app_client.as_principal(Role.MANAGER, org.manager_no)
    theirs = await manager.data(EMPLOYEES, {"filter": {"cycleId": cycle, "grade": "B"}, "first": 500})
    assert {int(edge["node"]["id"]) for edge in theirs["employees"]["edges"]} <= org.team


async def test_results_over_a_range_of_cycles(
    app_client: GraphQLClient, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Without cycleId, the period filter picks the cycles: from the later cycle's start, its results alone."""
    async with sessionmaker() as session:
        later = await session.get(Cycle, org.unpublished_cycle)
        assert later is not None
    both, _ = await _all(app_client, {}, 500)
    assert {node["cycle"]["id"] for node in both} == {str(org.published_cycle), str(org.unpublished_cycle)}
    recent, _ = await _all(app_client, {"filter": {"periodFrom": later.period_start.isoformat()}}, 500)
    assert recent and {node["cycle"]["id"] for node in recent} == {str(org.unpublished_cycle)}


async def test_what_sorted_lists_refuse(app_client: GraphQLClient, org: Org) -> None:
    """A pseudonymous analyst may not sort, nor list results without a cycle; an indicator order needs its indicator;
    a cursor of one order is refused by another; grade and score filters of employees need their cycle."""
    cycle = str(org.published_cycle)
    pseudonymous = app_client.as_principal(Role.ANALYST)
    refusals: list[tuple[GraphQLClient, str, dict[str, Any]]] = [
        (pseudonymous, SORTED, {"cycle": cycle, "order": {"by": "TOTAL_SCORE"}}),
        (pseudonymous, SORTED, {}),
        (pseudonymous, EMPLOYEES, {"order": {"by": "TOTAL_SCORE", "cycleId": cycle}}),
        (app_client, SORTED, {"cycle": cycle, "order": {"by": "INDICATOR_SCORE"}}),
        (app_client, EMPLOYEES, {"filter": {"grade": "A"}}),
    ]
    for client, query, variables in refusals:
        body = await client.execute(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body["errors"]
    page = (await app_client.data(SORTED, {"cycle": cycle, "first": 2, "order": {"by": "TOTAL_SCORE"}}))["results"]
    cursor = page["pageInfo"]["endCursor"]
    ascending = {"cycle": cycle, "first": 2, "after": cursor, "order": {"by": "TOTAL_SCORE", "direction": "ASC"}}
    for variables in (ascending, {"cycle": cycle, "first": 2, "after": cursor}):
        body = await app_client.execute(SORTED, variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    named = app_client.as_principal(Role.ANALYST, grants=[Grant.NAMES])
    assert (await named.data(SORTED, {"cycle": cycle, "first": 3, "order": {"by": "TOTAL_SCORE"}}))["results"]["edges"]


PAGE = """query($cycle: ID!, $order: ResultOrder) {
  results(cycleId: $cycle, first: 100, orderBy: $order) { edges { node { id totalScore } } }
}"""


async def test_a_sorted_page_is_one_statement_whatever_its_size(app_client: GraphQLClient, org: Org) -> None:
    """The sort key is computed in the page's own statement (a correlated subquery for an indicator or a change)."""
    for order in ({"by": "TOTAL_SCORE"}, {"by": "CHANGE"}):
        for first in (5, 100):
            app_client.sql.reset()
            query = PAGE.replace("first: 100", f"first: {first}")
            await app_client.data(query, {"cycle": str(org.unpublished_cycle), "order": order})
            assert app_client.sql.count == 1
