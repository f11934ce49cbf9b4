"""Trends and comparisons: Employee.trend, scoreTrends, cycleComparison and postComparison, checked against the
result lists the same principal reads, in a fixed number of statements, under scoreStatistics' small-group rule."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import fmean
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Grant, Role
from hub.db.models import AppraisalResult, SchemeVersion
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org

GRADES = ["D", "C", "B", "A", "S"]

RESULTS = """query($cycle: ID!, $after: String) {
  results(cycleId: $cycle, first: 500, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id totalScore grade employee { id } post { id code } } }
  }
}"""


async def _results(client: GraphQLClient, cycle: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await client.data(RESULTS, {"cycle": str(cycle), "after": after}))["results"]
        rows.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


TREND = """query($id: ID!) { employee(id: $id) { trend {
  result { cycle { id } totalScore grade } change { totalScoreDelta gradeSteps previous { cycle { id } } }
} } }"""


async def test_an_employees_trend_lists_their_results_with_each_change(app_client: GraphQLClient, org: Org) -> None:
    """hr_admin sees both cycles, the later with its change from the earlier; the employee sees only the published."""
    trend = (await app_client.data(TREND, {"id": str(org.staff_id)}))["employee"]["trend"]
    assert [point["result"]["cycle"]["id"] for point in trend] == [str(org.published_cycle), str(org.unpublished_cycle)]
    first, second = trend
    assert first["change"] is None
    assert second["change"]["previous"]["cycle"]["id"] == str(org.published_cycle)
    delta = round(second["result"]["totalScore"] - first["result"]["totalScore"], 2)
    assert abs(second["change"]["totalScoreDelta"] - delta) < 0.011
    steps = GRADES.index(second["result"]["grade"]) - GRADES.index(first["result"]["grade"])
    assert second["change"]["gradeSteps"] == steps
    own = app_client.as_principal(Role.EMPLOYEE, org.staff_no)
    mine = (await own.data(TREND, {"id": str(org.staff_id)}))["employee"]["trend"]
    assert [point["result"]["cycle"]["id"] for point in mine] == [str(org.published_cycle)]


SCORE_TRENDS = """query($by: GroupDimension) { scoreTrends(groupBy: $by) {
  key cycles { cycle { id } count mean change }
} }"""


def _means(rows: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
    by_post: defaultdict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_post[row["post"]["code"]].append(row["totalScore"])
    return {code: (len(scores), fmean(scores)) for code, scores in by_post.items()}


async def test_score_trends_are_the_means_of_the_results_per_cycle_in_one_statement(
    app_client: GraphQLClient, org: Org
) -> None:
    """Per post, each cycle's count and mean are those of the results list, the change the difference of the means;
    the whole answer costs the same two statements (the aggregate, the cycles) however many groups it has."""
    app_client.sql.reset()
    trends = (await app_client.data(SCORE_TRENDS, {"by": "POST"}))["scoreTrends"]
    assert app_client.sql.count == 2
    cycles = (org.published_cycle, org.unpublished_cycle)
    expected = {cycle: _means(await _results(app_client, cycle)) for cycle in cycles}
    assert {trend["key"] for trend in trends} == {code for cycle in cycles for code in expected[cycle]}
    for trend in trends:
        previous = None
        for point in trend["cycles"]:
            count, mean = expected[int(point["cycle"]["id"])][trend["key"]]
            assert point["count"] == count
            assert abs(point["mean"] - mean) < 0.011  # means of the shown (rounded) totals
            if previous is None:
                assert point["change"] is None
            else:
                assert abs(point["change"] - (mean - previous)) < 0.021
            previous = mean
    ungrouped = (await app_client.data(SCORE_TRENDS, {"by": None}))["scoreTrends"]
    assert [trend["key"] for trend in ungrouped] == [""]
    assert [point["count"] for point in ungrouped[0]["cycles"]] == [
        sum(count for count, _ in expected[cycle].values()) for cycle in (org.published_cycle, org.unpublished_cycle)
    ]


async def test_score_trends_withhold_small_groups_but_for_hr_admin(app_client: GraphQLClient, org: Org) -> None:
    """An analyst (names grant) gets every count, and a mean only for groups of the minimum size or more; hr_admin
    gets every mean."""
    minimum = app_client.settings.min_group_size
    analyst = app_client.as_principal(Role.ANALYST, grants=[Grant.NAMES])
    trends = (await analyst.data(SCORE_TRENDS, {"by": "POST"}))["scoreTrends"]
    points = [point for trend in trends for point in trend["cycles"]]
    assert any(point["count"] < minimum for point in points)  # the demo has small posts: the rule is exercised
    assert all(point["mean"] is None for point in points if point["count"] < minimum)
    assert any(point["mean"] is not None for point in points)
    everything = (await app_client.data(SCORE_TRENDS, {"by": "POST"}))["scoreTrends"]
    assert all(point["mean"] is not None for trend in everything for point in trend["cycles"])


COMPARISON = """query($a: ID!, $b: ID!) { cycleComparison(a: $a, b: $b, groupBy: POST_FAMILY) {
  earlier { id } later { id }
  groups { key cycles { cycle { id } count mean change } }
  migrations { fromGrade toGrade count }
  movedFar { steps before { id grade } after { id grade employee { id name } } }
} }"""


async def test_cycle_comparison_counts_every_grade_migration_and_lists_the_far_movers(
    app_client: GraphQLClient, org: Org
) -> None:
    """The matrix and the movers are those of the two result lists paired by employee, in a fixed number of
    statements."""
    earlier = {row["employee"]["id"]: row for row in await _results(app_client, org.published_cycle)}
    later = {row["employee"]["id"]: row for row in await _results(app_client, org.unpublished_cycle)}
    pairs = [(earlier[who], later[who]) for who in earlier.keys() & later.keys()]
    variables = {"a": str(org.published_cycle), "b": str(org.unpublished_cycle)}
    app_client.sql.reset()
    comparison = (await app_client.data(COMPARISON, variables))["cycleComparison"]
    statements = app_client.sql.count
    assert comparison["earlier"]["id"] == str(org.published_cycle)
    matrix = {(cell["fromGrade"], cell["toGrade"]): cell["count"] for cell in comparison["migrations"]}
    assert matrix == dict(Counter((before["grade"], after["grade"]) for before, after in pairs))
    far = {
        (before["id"], after["id"])
        for before, after in pairs
        if abs(GRADES.index(after["grade"]) - GRADES.index(before["grade"])) >= 2
    }
    assert far  # the demo's two cycles differ enough for movers
    assert {(move["before"]["id"], move["after"]["id"]) for move in comparison["movedFar"]} == far
    for move in comparison["movedFar"]:
        assert move["steps"] == GRADES.index(move["after"]["grade"]) - GRADES.index(move["before"]["grade"])
        assert move["after"]["employee"]["name"]
    family = comparison["groups"][0]
    assert [point["cycle"]["id"] for point in family["cycles"]] == [variables["a"], variables["b"]]
    # The means, the matrix, the changed pairs, the cycles, the movers' results, then their employees.
    assert statements <= 7


async def test_cycle_comparison_stays_within_a_managers_line(app_client: GraphQLClient, org: Org) -> None:
    """A manager compares their people only: every mover is one of them, every count at most their number."""
    manager = app_client.as_principal(Role.MANAGER, org.manager_no)
    variables = {"a": str(org.published_cycle), "b": str(org.unpublished_cycle)}
    comparison = (await manager.data(COMPARISON, variables))["cycleComparison"]
    assert {int(move["after"]["employee"]["id"]) for move in comparison["movedFar"]} <= org.team
    counts = [point["count"] for group in comparison["groups"] for point in group["cycles"]]
    assert counts and all(count <= len(org.team) for count in counts)


async def test_a_pseudonymous_analyst_sees_movers_without_names(app_client: GraphQLClient, org: Org) -> None:
    """Without the names grant the movers' names are refused (Employee.name's rule), the rest of the answer stands."""
    analyst = app_client.as_principal(Role.ANALYST)
    variables = {"a": str(org.published_cycle), "b": str(org.unpublished_cycle)}
    body = await analyst.execute(COMPARISON, variables)
    movers = body["data"]["cycleComparison"]["movedFar"]
    assert movers
    assert all(move["after"]["employee"]["name"] is None for move in movers)
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
    assert {error["path"][-1] for error in body["errors"]} == {"name"}


POSTS = """query($cycle: ID!) { postComparison(cycleId: $cycle) {
  mixedSchemeVersions note posts { post { code } count mean schemes { count schemeVersion { id version } } }
} }"""


async def test_post_comparison_states_mixed_scheme_versions(
    app_client: GraphQLClient, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Posts side by side with their means; when one post's results were scored under another scheme version than
    the rest, the answer says so and names the versions."""
    expected = _means(await _results(app_client, org.published_cycle))
    answer = (await app_client.data(POSTS, {"cycle": str(org.published_cycle)}))["postComparison"]
    for standing in answer["posts"]:
        count, mean = expected[standing["post"]["code"]]
        assert standing["count"] == count == sum(use["count"] for use in standing["schemes"])
        assert abs(standing["mean"] - mean) < 0.011
    versions = {use["schemeVersion"]["version"] for standing in answer["posts"] for use in standing["schemes"]}
    assert answer["mixedSchemeVersions"] is (len(versions) > 1)
    # One post's results re-pointed at a second version of its scheme: the comparison now mixes versions.
    async with sessionmaker.begin() as session:
        result = (
            (await session.execute(select(AppraisalResult).where(AppraisalResult.cycle_id == org.published_cycle)))
            .scalars()
            .first()
        )
        assert result is not None
        scheme = await session.get(SchemeVersion, result.scheme_version_id)
        assert scheme is not None
        newer = SchemeVersion(
            post_id=scheme.post_id, version=scheme.version + 7, effective_from=scheme.effective_from, author="test"
        )
        session.add(newer)
        await session.flush()
        await session.execute(
            update(AppraisalResult)
            .where(AppraisalResult.cycle_id == org.published_cycle, AppraisalResult.post_id == scheme.post_id)
            .values(scheme_version_id=newer.id)
        )
    mixed = (await app_client.data(POSTS, {"cycle": str(org.published_cycle)}))["postComparison"]
    assert mixed["mixedSchemeVersions"] is True
    assert f"v{scheme.version + 7}" in mixed["note"]


async def test_the_cost_limit_covers_trends_before_anything_runs(app_client: GraphQLClient, org: Org) -> None:
    """Every employee's trend with its indicator scores, 500 a page, is over the cost limit: refused unrun."""
    query = """{ employees(first: 500) { edges { node { trend {
      result { totalScore indicatorScores { normalizedScore rawValue weightedScore } } change { totalScoreDelta }
    } } } } }"""
    app_client.sql.reset()
    body = await app_client.execute(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert app_client.sql.count == 0
