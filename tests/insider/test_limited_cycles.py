"""A cycle limited to some posts is a selection by post: an analyst without the names grant must not learn
which of its rows belong to a small cell by listing it whole (the insider review's F2)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, Rating
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

RESULTS = "query($c: ID!) { results(cycleId: $c, first: 500) { totalCount edges { node { post { code } } } } }"


async def limited_cycle(
    client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], post_ids: list[int], ratings_of: int
) -> str:
    create = """mutation($n: String!) {
      cycleCreate(input: {name: $n, periodStart: "2026-10-01", periodEnd: "2026-12-31"}) {
        ... on CycleChanged { cycle { id } }
      }
    }"""
    created = await client.data(create, {"n": f"Limited {uuid.uuid4()}"})
    cycle: str = created["cycleCreate"]["cycle"]["id"]
    opened = await client.data(
        "mutation($c: ID!, $p: [ID!]!) { cycleOpen(cycleId: $c, postIds: $p) { __typename } }",
        {"c": cycle, "p": [str(post) for post in post_ids]},
    )
    assert opened["cycleOpen"]["__typename"] == "CycleChanged"
    # The ratings the demo's OPEN cycle (same period) holds stand for this cycle's, so that people get results.
    async with sessionmaker() as session, session.begin():
        columns = [Rating.ratee_id, Rating.rater_id, Rating.role, Rating.indicator_version_id, Rating.value]
        copied = select(literal(int(cycle)), *columns, Rating.submitted_at).where(Rating.cycle_id == ratings_of)
        target = ["cycle_id", "ratee_id", "rater_id", "role", "indicator_version_id", "value", "submitted_at"]
        await session.execute(insert(Rating).from_select(target, copied))
    scored = await client.data(
        'mutation($c: ID!) { cycleScore(cycleId: $c, allowIncomplete: true, reason: "insider test") { __typename } }',
        {"c": cycle},
    )
    assert scored["cycleScore"]["__typename"] == "CycleScored"
    return cycle


async def post_sizes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[int, int]]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Employee.post_id, func.count()).group_by(Employee.post_id))
        return sorted(((post, count) for post, count in rows), key=lambda row: row[1])


async def test_a_limited_cycle_lists_no_row_of_a_small_cell_to_an_analyst(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sizes = await post_sizes(sessionmaker)
    small = next(post for post, count in sizes if 0 < count < app_client.settings.min_group_size)
    large = next(post for post, count in reversed(sizes))
    cycle = await limited_cycle(app_client, sessionmaker, [small, large], seeded.current_cycle_id)
    everything: dict[str, Any] = (await app_client.data(RESULTS, {"c": cycle}))["results"]
    analyst = app_client.as_principal("analyst")
    listed = (await analyst.data(RESULTS, {"c": cycle}))["results"]
    # hr_admin sees every result; the analyst only those of large cells, none with its post withheld.
    assert listed["totalCount"] < everything["totalCount"]
    assert all(edge["node"]["post"] is not None for edge in listed["edges"])

    alone = await limited_cycle(app_client, sessionmaker, [small], seeded.current_cycle_id)
    body = await analyst.execute(RESULTS, {"c": alone})
    assert (body["data"] or {}).get("results") is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


EVERYONE = """query($after: String) { employees(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id } } } }"""
BY_EMPLOYEE = """query($e: ID!, $c: ID!) { employee(id: $e) {
  result(cycleId: $c) { id } results { id cycle { id } change { previous { id } } } } }"""
LISTED = "query($c: ID!) { results(cycleId: $c, first: 500) { edges { node { id } } } }"


async def test_no_way_through_an_employee_reaches_a_result_the_limited_list_leaves_out(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The insider review's H3: the list left out the head's result of a cycle limited to the head's post, but
    ``employee(id) { result(cycleId) }`` and ``results`` still showed it, so the one pseudonym missing from the
    list with a result in the cycle was the head. Every path from every employee is walked here."""
    sizes = await post_sizes(sessionmaker)
    small = next(post for post, count in sizes if 0 < count < app_client.settings.min_group_size)
    large = next(post for post, count in reversed(sizes))
    cycle = await limited_cycle(app_client, sessionmaker, [small, large], seeded.current_cycle_id)
    analyst = app_client.as_principal("analyst")
    listed = {edge["node"]["id"] for edge in (await analyst.data(LISTED, {"c": cycle}))["results"]["edges"]}
    assert listed

    people: list[str] = []
    after: str | None = None
    while True:
        page = (await analyst.data(EVERYONE, {"after": after}))["employees"]
        people += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    reached: set[str] = set()
    for person in people:
        employee = (await analyst.data(BY_EMPLOYEE, {"e": person, "c": cycle}))["employee"]
        if employee["result"] is not None:
            reached.add(employee["result"]["id"])
        reached |= {result["id"] for result in employee["results"] if result["cycle"]["id"] == cycle}
    assert reached == listed
    # hr_admin reaches the small cell's results the analyst does not.
    everything = {edge["node"]["id"] for edge in (await app_client.data(LISTED, {"c": cycle}))["results"]["edges"]}
    assert len(everything) > len(listed)
