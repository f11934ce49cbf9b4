"""A pseudonymous analyst placing withheld rows by the gaps they leave in the ranks around them.

A result of a small (department, post) cell shows its score but not its ranks. Before this rule, its
department's other rows still showed ranks counted over every result, so a rank missing between two visible
ones (4 and 6, say) was a withheld person, and their score lay between their neighbours'. Now a rank is shown
only in a group with no withheld row: every shown rank group is complete in the analyst's list.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import AppraisalResult
from hub.demo.organisation import SeedSummary
from hub.pseudonyms import pseudonyms_for
from tests.conftest import GraphQLClient

RANKS = """query($c: ID!) { results(cycleId: $c, first: 500) { totalCount edges { node {
  id post { code } rankInPost postGroupSize percentileInPost
  rankInDepartment departmentGroupSize percentileInDepartment } } } }"""


async def _groups_of(sessionmaker: async_sessionmaker[AsyncSession], keys: list[int]) -> dict[int, tuple[int, int]]:
    """(department, post) of each result, read by the test's own SQL."""
    statement = select(AppraisalResult.id, AppraisalResult.department_id, AppraisalResult.post_id)
    async with sessionmaker() as session:
        rows = await session.execute(statement.where(AppraisalResult.id.in_(keys)))
        return {row[0]: (row[1], row[2]) for row in rows}


async def test_no_rank_is_shown_in_a_group_that_holds_a_withheld_row(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cycle = {"c": str(seeded.past_cycle_id)}
    body = await app_client.as_principal("analyst").execute(RANKS, cycle)
    assert {error["path"][-1] for error in body["errors"]} == {"post"}  # FORBIDDEN on withheld posts, no more
    page = body["data"]["results"]
    nodes = [edge["node"] for edge in page["edges"]]
    assert len(nodes) == page["totalCount"]  # the whole cycle in one page: every rank group is complete here
    keys = [pseudonyms_for(settings).decode("result", node["id"]) for node in nodes]
    groups = await _groups_of(sessionmaker, [key for key in keys if key is not None])
    assert len(groups) == len(nodes)

    for position, rank, size, percentile in (
        (0, "rankInDepartment", "departmentGroupSize", "percentileInDepartment"),
        (1, "rankInPost", "postGroupSize", "percentileInPost"),
    ):
        members: dict[int, list[dict[str, object]]] = defaultdict(list)
        for node, key in zip(nodes, keys, strict=True):
            assert key is not None
            members[groups[key][position]].append(node)
        ranked = {group: rows for group, rows in members.items() if any(row[rank] is not None for row in rows)}
        mixed = [rows for rows in members.values() if {row["post"] is None for row in rows} == {True, False}]
        for rows in ranked.values():
            # A group shows its ranks on every row or on none, its size is the rows listed, and none is withheld.
            assert all(row[rank] is not None and row[percentile] is not None for row in rows)
            assert {row[size] for row in rows} == {len(rows)}
            assert all(row["post"] is not None for row in rows)
            assert sorted(row[rank] for row in rows)[0] == 1  # type: ignore[type-var]
        for rows in mixed:  # the attack's material: shown rows beside withheld ones, ranked no more
            assert all(row[rank] is None and row[size] is None and row[percentile] is None for row in rows)
        if position == 0:
            # The demo has both kinds of department, so neither loop above ran empty.
            assert ranked and mixed

    # HR keeps every rank.
    hr = (await app_client.data(RANKS, cycle))["results"]["edges"]
    assert all(edge["node"]["rankInDepartment"] is not None for edge in hr)
