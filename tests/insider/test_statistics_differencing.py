"""A curious insider differencing the statistics: a coarser group less the released finer groups of any other
grouping must never leave a few people (from one to the minimum group size less one).

The attacker is an analyst with the names grant (every result in reach, no pseudonymous exclusions, the minimum
group size applies), and what the test subtracts is hr_admin's true count of the coarser group, which an
insider may know from elsewhere (a head count). Each grouping is compared with every coarser one, down to the
whole cycle (the table by (department, post) less the whole cycle's figures was a small department's before
disclosure checked every ancestor, not only the groupings one dimension coarser).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Department, Post
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.stored import result_ids

SCORES = """query($c: ID!, $g: [GroupDimension!]!) { scoreStatistics(cycleId: $c, groupBy: $g) {
  key count mean withheld grades { count } } }"""
INDICATORS = """query($c: ID!, $g: [GroupDimension!]) { indicatorStatistics(cycleId: $c, groupBy: $g) {
  key indicatorVersion { id } raw { count mean min max p50 } normalized { count mean min max p90 } withheld } }"""
DIMENSIONS = ("DEPARTMENT", "POST", "GRADE")


def _leftover_is_safe(hidden: int, minimum: int) -> bool:
    return hidden == 0 or hidden >= minimum


def _released(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups whose figures are released: a withheld group is listed with its size and reason only."""
    for group in groups:
        if group["withheld"] is not None:
            assert group["mean"] is None and group["grades"] == [], group
    return [group for group in groups if group["withheld"] is None]


async def test_no_score_grouping_less_a_coarser_one_isolates_a_few_people(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """For every grouping by department, post and grade, and every coarser grouping (down to none), what a
    coarser group holds beyond the finer groups released inside it is nobody or at least the minimum."""
    analyst = app_client.as_principal("analyst", grants=["names"])
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    truth: dict[tuple[str, ...], dict[tuple[str, ...], int]] = {}
    released: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for size in range(len(DIMENSIONS) + 1):
        for grouping in combinations(DIMENSIONS, size):
            hr = await app_client.data(SCORES, {"c": cycle, "g": list(grouping)})
            truth[grouping] = {tuple(group["key"]): group["count"] for group in hr["scoreStatistics"]}
            seen = await analyst.data(SCORES, {"c": cycle, "g": list(grouping)})
            released[grouping] = _released(seen["scoreStatistics"])
            assert all(group["count"] >= minimum for group in released[grouping])
            # A withheld group is listed, not left out: every group the analyst's scope holds is there.
            assert {tuple(group["key"]) for group in seen["scoreStatistics"]} == set(truth[grouping]), grouping
    withheld_somewhere, checked = False, 0
    for finer, groups in released.items():
        withheld_somewhere |= len(groups) < len(truth[finer])
        for size in range(len(finer)):
            for coarser in combinations(finer, size):
                positions = [finer.index(dimension) for dimension in coarser]
                shown: defaultdict[tuple[str, ...], int] = defaultdict(int)
                for group in groups:
                    shown[tuple(group["key"][index] for index in positions)] += group["count"]
                # Only a coarser group whose figures are released gives the attacker something to subtract from.
                known = {tuple(group["key"]) for group in released[coarser]}
                for key, count in truth[coarser].items():
                    if key not in known:
                        continue
                    assert _leftover_is_safe(count - shown[key], minimum), (finer, coarser, key, count, shown[key])
                    checked += 1
    assert checked and withheld_somewhere, "the demo has small groups: the check above must have had something to check"


async def test_no_indicator_grouping_less_a_coarser_one_isolates_a_few_people(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Per indicator version and value (raw, normalised): the whole cycle less the released posts or families,
    and a family less its released posts, leave nobody or at least the minimum; a withheld value says why."""
    analyst = app_client.as_principal("analyst", grants=["names"])
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    async with sessionmaker() as session:
        family_of = {code: family for code, family in (await session.execute(select(Post.code, Post.family))).all()}
    truth: dict[str, dict[tuple[str, str, str], int]] = {}
    shown: dict[str, dict[tuple[str, str, str], int]] = {}
    for level, group_by in (("cycle", []), ("family", ["POST_FAMILY"]), ("post", ["POST"])):
        hr = (await app_client.data(INDICATORS, {"c": cycle, "g": group_by}))["indicatorStatistics"]
        seen = (await analyst.data(INDICATORS, {"c": cycle, "g": group_by}))["indicatorStatistics"]
        for name, groups, into in (("hr", hr, truth), ("analyst", seen, shown)):
            for group in groups:
                for value in ("raw", "normalized"):
                    figures = group[value]
                    if figures is None:
                        if name == "analyst" and group["withheld"] is None:
                            # Null without a reason only when no result has the value (hr_admin sees none either).
                            assert not any(
                                other[value]
                                for other in hr
                                if other["key"] == group["key"]
                                and other["indicatorVersion"] == group["indicatorVersion"]
                            ), group
                        continue
                    if name == "analyst":
                        assert figures["count"] >= minimum, group
                    key = group["key"][0] if group["key"] else ""
                    into.setdefault(f"{level}:{value}", {})[(group["indicatorVersion"]["id"], key, "")] = figures[
                        "count"
                    ]
    withheld = 0
    for value in ("raw", "normalized"):
        posts = shown.get(f"post:{value}", {})
        families = shown.get(f"family:{value}", {})
        withheld += len(truth.get(f"post:{value}", {})) - len(posts)
        # The whole cycle less the released posts, and less the released families.
        # Only released coarser figures can be subtracted from (their counts are then the true ones).
        for (version, _, _), count in shown.get(f"cycle:{value}", {}).items():
            by_post = sum(n for (v, _, _), n in posts.items() if v == version)
            by_family = sum(n for (v, _, _), n in families.items() if v == version)
            assert _leftover_is_safe(count - by_post, minimum), (value, version, count, by_post)
            assert _leftover_is_safe(count - by_family, minimum), (value, version, count, by_family)
        # A family less its released posts.
        for (version, family, _), count in families.items():
            inside = sum(n for (v, post, _), n in posts.items() if v == version and family_of[post] == family)
            assert _leftover_is_safe(count - inside, minimum), (value, version, family, count, inside)
    assert withheld, "the demo has posts below the minimum: the check above must have had something to check"


async def test_pseudonymous_indicator_statistics_show_no_extremes(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """Without the names grant a group's minimum and maximum (each one person's value) are null; the rest stands."""
    analyst = app_client.as_principal("analyst")
    data = await analyst.data(INDICATORS, {"c": str(seeded.past_cycle_id), "g": ["POST_FAMILY"]})
    figures = [group[value] for group in data["indicatorStatistics"] for value in ("raw", "normalized")]
    released = [f for f in figures if f is not None]
    assert released and all(f["min"] is None and f["max"] is None and f["mean"] is not None for f in released)


async def test_the_whole_cycle_less_every_released_cell_is_not_a_small_department(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Everyone in two large (department, post) cells but two people alone in a third department: the whole
    cycle's count and mean less those of the released cells were the two people's (each check of a parent one
    dimension coarser passed: department B and post p3 hold nobody released). Now a large cell is withheld too."""
    async with sessionmaker() as session, session.begin():
        ids = (await session.scalars(result_ids(seeded.past_cycle_id))).all()
        departments = (await session.scalars(select(Department.id).order_by(Department.id).limit(2))).all()
        posts = (await session.scalars(select(Post.id).order_by(Post.id).limit(3))).all()
        half = (len(ids) - 2) // 2
        for chosen, department, post in (
            (ids[:half], departments[0], posts[0]),
            (ids[half:-2], departments[0], posts[1]),
            (ids[-2:], departments[1], posts[2]),
        ):
            await session.execute(
                update(AppraisalResult)
                .where(AppraisalResult.id.in_(chosen))
                .values(department_id=department, post_id=post)
            )
    analyst = app_client.as_principal("analyst", grants=["names"])
    cycle = str(seeded.past_cycle_id)
    whole = _released((await analyst.data(SCORES, {"c": cycle, "g": []}))["scoreStatistics"])
    cells = _released((await analyst.data(SCORES, {"c": cycle, "g": ["DEPARTMENT", "POST"]}))["scoreStatistics"])
    assert [group["count"] for group in whole] == [len(ids)]
    left = len(ids) - sum(group["count"] for group in cells)
    assert left >= app_client.settings.min_group_size, cells
    # The two are not left over once the released cells are subtracted: one large cell is withheld beside them.
    assert len(cells) == 1 and cells[0]["count"] in (half, len(ids) - 2 - half)


async def _families(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> tuple[dict[str, str], dict[str, int]]:
    """Every post's family, and the people of each family an analyst with names sees released by POST_FAMILY."""
    async with sessionmaker() as session:
        family_of = {code: family for code, family in (await session.execute(select(Post.code, Post.family))).all()}
    analyst = app_client.as_principal("analyst", grants=["names"])
    answer = await analyst.data(SCORES, {"c": str(seeded.past_cycle_id), "g": ["POST_FAMILY"]})
    return family_of, {group["key"][0]: group["count"] for group in _released(answer["scoreStatistics"])}


async def test_a_post_family_less_its_released_posts_is_no_withheld_post(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Posts nest in families: scoreStatistics by POST_FAMILY less the released posts of the family was a withheld
    post's count and mean (the family was never counted as a parent of its posts). Now the leftover is nobody or
    at least the minimum, also with a grade beside the post."""
    family_of, families = await _families(app_client, sessionmaker, seeded)
    analyst = app_client.as_principal("analyst", grants=["names"])
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    all_posts = (await app_client.data(SCORES, {"c": cycle, "g": ["POST"]}))["scoreStatistics"]
    assert any(0 < group["count"] < minimum for group in all_posts), "the demo has a small post"
    for grouping in (["POST"], ["POST", "GRADE"]):
        posts = _released((await analyst.data(SCORES, {"c": cycle, "g": grouping}))["scoreStatistics"])
        inside: defaultdict[str, int] = defaultdict(int)
        for group in posts:
            inside[family_of[group["key"][0]]] += group["count"]
        for family, count in families.items():
            assert _leftover_is_safe(count - inside[family], minimum), (grouping, family, count, inside[family])


TRENDS = "query($g: GroupDimension, $c: [ID!]) { scoreTrends(groupBy: $g, cycleIds: $c) { key cycles { count mean } } }"
POSTS = "query($c: ID!) { postComparison(cycleId: $c) { posts { post { code } count mean } } }"


async def test_trends_and_post_comparison_by_post_leave_no_withheld_post_in_a_family(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """scoreTrends and postComparison share the rule: the family's released figures (scoreStatistics or a trend by
    POST_FAMILY) less the posts whose means they release are nobody or at least the minimum."""
    family_of, families = await _families(app_client, sessionmaker, seeded)
    analyst = app_client.as_principal("analyst", grants=["names"])
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    trends = (await analyst.data(TRENDS, {"g": "POST", "c": [cycle]}))["scoreTrends"]
    by_trend = [(trend["key"], point) for trend in trends for point in trend["cycles"]]
    standings = (await analyst.data(POSTS, {"c": cycle}))["postComparison"]["posts"]
    by_post = [(standing["post"]["code"], standing) for standing in standings]
    for name, released in (("scoreTrends", by_trend), ("postComparison", by_post)):
        assert any(figures["mean"] is None for _, figures in released), (name, "the demo has a small post")
        inside: defaultdict[str, int] = defaultdict(int)
        for code, figures in released:
            if figures["mean"] is not None:
                inside[family_of[code]] += figures["count"]
        for family, count in families.items():
            assert _leftover_is_safe(count - inside[family], minimum), (name, family, count, inside[family])
