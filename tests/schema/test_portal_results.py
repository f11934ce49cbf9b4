"""The portal's view of results: scores rounded to two decimals (stored exactly), ranks with their group's
size, and the change since the previous published cycle."""

from __future__ import annotations

import statistics
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, IndicatorScore
from hub.demo.organisation import SeedSummary
from hub.domain import Grade
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
from schema.rounding import two_decimals
from tests.conftest import GraphQLClient, make_settings, serving

RESULTS = """
query($c: ID!, $first: Int!) {
  results(cycleId: $c, first: $first) { edges { node {
    id totalScore computedTotal percentileInPost rankInPost postGroupSize rankInDepartment departmentGroupSize
    employee { id }
    indicatorScores { normalizedScore weightedScore effectiveWeight }
  } } }
}
"""
CHANGES = """
query($c: ID!, $first: Int!) {
  results(cycleId: $c, first: $first) { edges { node {
    id totalScore grade employee { id }
    change { totalScoreDelta gradeSteps previous { id totalScore grade cycle { id } } }
  } } }
}
"""
STATISTICS = "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [DEPARTMENT]) { key mean stddev p50 p90 } }"


def _cents(value: float) -> bool:
    """Shown with at most two decimals."""
    return Decimal(str(value)).as_tuple().exponent >= -2  # type: ignore[operator]


async def _nodes(client: GraphQLClient, query: str, cycle_id: int, first: int = 500) -> list[dict[str, Any]]:
    data = await client.data(query, {"c": str(cycle_id), "first": first})
    return [edge["node"] for edge in data["results"]["edges"]]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [(42.50000000000001, 42.5), (2.675, 2.68), (2.665, 2.67), (80.004999, 80.0), (None, None), (-1.005, -1.01)],
)
def test_two_decimals_rounds_half_up_on_the_decimal_a_person_reads(stored: float | None, shown: float | None) -> None:
    """Half-up on the shortest decimal repr: 2.675 is 2.68 (binary rounding would give 2.67)."""
    assert two_decimals(stored) == shown


async def test_scores_are_rounded_in_the_api_and_stored_exactly(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """A total stored as 42.50000000000001 reads 42.5, another 2.675 reads 2.68; the database keeps both."""
    async with sessionmaker() as session, session.begin():
        first, second = (
            await session.scalars(
                select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.past_cycle_id).limit(2)
            )
        ).all()
        await session.execute(
            update(AppraisalResult).where(AppraisalResult.id == first).values(total_score=42.50000000000001)
        )
        await session.execute(update(AppraisalResult).where(AppraisalResult.id == second).values(computed_total=2.675))
    nodes = {int(node["id"]): node for node in await _nodes(app_client, RESULTS, seeded.past_cycle_id)}
    assert nodes[first]["totalScore"] == 42.5
    assert nodes[second]["computedTotal"] == 2.68
    for node in nodes.values():
        figures = [node["totalScore"], node["computedTotal"], node["percentileInPost"]]
        figures += [s[k] for s in node["indicatorScores"] for k in s]
        assert all(_cents(figure) for figure in figures if figure is not None), node
    async with sessionmaker() as session:
        stored = (
            await session.execute(select(AppraisalResult.total_score).where(AppraisalResult.id == first))
        ).scalar()
        exact = (await session.scalars(select(IndicatorScore.normalized_score))).all()
    assert stored == 42.50000000000001
    assert any(value is not None and not _cents(value) for value in exact), "the engine stores unrounded scores"


async def test_statistics_are_rounded_from_exact_totals(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """The cycle's mean is computed from the stored totals, then rounded (not a mean of rounded totals)."""
    async with sessionmaker() as session, session.begin():
        ids = (
            await session.scalars(select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.past_cycle_id))
        ).all()
        # 40% at 70.007 (shown 70.01), the rest at 70.004 (shown 70.00): the exact mean is 70.0052 (70.01),
        # the mean of the shown totals 70.004 (70.00).
        raised = ids[: len(ids) * 2 // 5]
        await session.execute(update(AppraisalResult).where(AppraisalResult.id.in_(ids)).values(total_score=70.004))
        await session.execute(update(AppraisalResult).where(AppraisalResult.id.in_(raised)).values(total_score=70.007))
    exact = statistics.fmean([70.007] * len(raised) + [70.004] * (len(ids) - len(raised)))
    rounded_first = statistics.fmean([70.01] * len(raised) + [70.0] * (len(ids) - len(raised)))
    assert two_decimals(exact) == 70.01 and two_decimals(rounded_first) == 70.0
    data = await app_client.data(
        "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [CYCLE]) { mean p50 } }",
        {"c": str(seeded.past_cycle_id)},
    )
    assert data["scoreStatistics"] == [{"mean": two_decimals(exact), "p50": 70.0}]
    grouped = await app_client.data(STATISTICS, {"c": str(seeded.past_cycle_id)})
    assert grouped["scoreStatistics"]
    for group in grouped["scoreStatistics"]:
        assert all(_cents(group[k]) for k in ("mean", "stddev", "p50", "p90")), group


async def test_ranks_come_with_the_size_of_their_group(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """postGroupSize and departmentGroupSize count the cycle's results ranked in the result's post and
    department (read here with SQL of the test's own); every rank lies within its group."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(AppraisalResult.id, AppraisalResult.post_id, AppraisalResult.department_id).where(
                    AppraisalResult.cycle_id == seeded.past_cycle_id
                )
            )
        ).all()
    in_post = Counter(row.post_id for row in rows)
    in_department = Counter(row.department_id for row in rows)
    expected = {row.id: (in_post[row.post_id], in_department[row.department_id]) for row in rows}
    nodes = await _nodes(app_client, RESULTS, seeded.past_cycle_id)
    assert len(nodes) == len(rows)
    for node in nodes:
        assert (node["postGroupSize"], node["departmentGroupSize"]) == expected[int(node["id"])]
        assert 1 <= node["rankInPost"] <= node["postGroupSize"]
        assert 1 <= node["rankInDepartment"] <= node["departmentGroupSize"]
    assert len({node["postGroupSize"] for node in nodes}) > 1


async def test_a_group_size_is_withheld_where_its_rank_is(database_url: str, seeded: SeedSummary) -> None:
    """For an analyst without the names grant, a small (department, post) cell's ranks and their group sizes
    are null together; large cells show both."""
    async with serving(make_settings(database_url=database_url, min_group_size=4)) as client:
        nodes = await _nodes(
            client.as_principal("analyst"),
            RESULTS.replace("employee { id }", "").replace(
                "indicatorScores { normalizedScore weightedScore effectiveWeight }", ""
            ),
            seeded.past_cycle_id,
        )
    for rank, size in (("rankInPost", "postGroupSize"), ("rankInDepartment", "departmentGroupSize")):
        shown = [node for node in nodes if node[rank] is not None]
        withheld = [node for node in nodes if node[rank] is None]
        assert shown and withheld, "the demo has cells on both sides of 4"
        assert all(node[size] is not None for node in shown)
        # Null together: a small cell's row, and (since the fix for ranks placing withheld rows) every row of a
        # rank group that holds a small cell (tests/insider/test_pseudonymous_ranks.py).
        assert all(node[size] is None for node in withheld)


@pytest.fixture
async def two_published(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> None:
    """The current cycle scored and published after the past one."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))
    await publish_cycle(sessionmaker, CyclePublish(seeded.current_cycle_id), Caller("test"))


async def test_a_result_shows_its_change_since_the_previous_published_cycle(
    app_client: GraphQLClient, seeded: SeedSummary, two_published: None
) -> None:
    """The current result's change names the same employee's past result; the delta is of the shown totals,
    gradeSteps counts grades up; the past result, with nothing before it, has no change."""
    past = {node["employee"]["id"]: node for node in await _nodes(app_client, CHANGES, seeded.past_cycle_id)}
    assert all(node["change"] is None for node in past.values())
    current = await _nodes(app_client, CHANGES, seeded.current_cycle_id)
    compared = [node for node in current if node["employee"]["id"] in past]
    assert len(compared) > 90
    order = list(Grade)
    for node in compared:
        before = past[node["employee"]["id"]]
        change = node["change"]
        assert change["previous"]["id"] == before["id"]
        assert change["previous"]["cycle"]["id"] == str(seeded.past_cycle_id)
        expected = Decimal(str(node["totalScore"])) - Decimal(str(before["totalScore"]))
        assert Decimal(str(change["totalScoreDelta"])) == expected
        assert change["gradeSteps"] == order.index(Grade(before["grade"])) - order.index(Grade(node["grade"]))
    assert any(node["change"]["gradeSteps"] != 0 for node in compared)


async def test_only_a_published_cycle_counts_as_previous(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """A scored but unpublished cycle is no one's previous cycle, even when its period comes first."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    async with sessionmaker() as session, session.begin():
        past_start = (
            await session.execute(select(Cycle.period_start).where(Cycle.id == seeded.past_cycle_id))
        ).scalar_one()
        await session.execute(
            update(Cycle)
            .where(Cycle.id == seeded.current_cycle_id)
            .values(period_start=past_start.replace(year=past_start.year - 1))
        )
    past = await _nodes(app_client, CHANGES, seeded.past_cycle_id)
    assert past and all(node["change"] is None for node in past)
    # And the other way round: the unpublished cycle's results compare with no later published one.
    current = await _nodes(app_client, CHANGES, seeded.current_cycle_id)
    assert current and all(node["change"] is None for node in current)


async def test_change_of_a_page_costs_one_statement(
    app_client: GraphQLClient, seeded: SeedSummary, two_published: None
) -> None:
    """The change (with its previous result) and the group sizes of a page: the same count for 10 results
    as for 100, one statement each beyond the page."""
    page = "query($c: ID!, $first: Int!) { results(cycleId: $c, first: $first) { edges { node { id FIELDS } } } }"
    variants = {
        "bare": "",
        "change": "change { totalScoreDelta gradeSteps previous { totalScore } }",
        "sizes": "postGroupSize departmentGroupSize",
    }
    counts: dict[str, list[int]] = {}
    for name, fields in variants.items():
        for first in (10, 100):
            app_client.sql.reset()
            nodes = await _nodes(app_client, page.replace("FIELDS", fields), seeded.current_cycle_id, first)
            assert len(nodes) == first
            counts.setdefault(name, []).append(app_client.sql.count)
    assert all(small == large for small, large in counts.values()), counts
    assert counts["change"][0] == counts["bare"][0] + 1
    assert counts["sizes"][0] == counts["bare"][0] + 1
