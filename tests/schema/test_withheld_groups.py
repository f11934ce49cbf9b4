"""A group withheld for privacy is listed with its key, its size and a reason, not left out; every analytics field
words its reasons alike (hub.analytics.withheld), and a withheld group's size tells nothing a score bound narrowed."""

from __future__ import annotations

from typing import Any

from hub.analytics.withheld import Withheld, describe
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

SCORES = """query($c: ID!, $g: [GroupDimension!]!, $f: ResultFilter) {
  scoreStatistics(cycleId: $c, groupBy: $g, filter: $f) { key count mean p50 grades { grade count } withheld }
}"""
INDICATORS = """query($c: ID!) { indicatorStatistics(cycleId: $c, groupBy: [POST]) {
  key raw { count } normalized { count } withheld } }"""
TRENDS = """query($c: [ID!]) { scoreTrends(groupBy: POST, cycleIds: $c) { key cycles { count mean withheld } } }"""
POSTS = """query($c: ID!) { postComparison(cycleId: $c) { posts { post { code } count mean withheld } } }"""
REASONS = {reason.value for reason in Withheld}


def by_key(groups: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(group["key"]): group for group in groups}


async def test_score_statistics_list_withheld_groups_with_their_size_and_reason(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """By post, an analyst with names gets every post HR gets: the small ones with their size, SMALL_GROUP and no
    figure or grade; those withheld only so that a family or the cycle less the released posts is safe say
    TABLE_TOTALS; the rest as HR sees them."""
    minimum = app_client.settings.min_group_size
    variables = {"c": str(seeded.past_cycle_id), "g": ["POST"]}
    hr = by_key((await app_client.data(SCORES, variables))["scoreStatistics"])
    seen = by_key(
        (await app_client.as_principal("analyst", grants=["names"]).data(SCORES, variables))["scoreStatistics"]
    )
    assert seen.keys() == hr.keys()
    withheld = {key: group for key, group in seen.items() if group["withheld"] is not None}
    assert any(group["withheld"] == "SMALL_GROUP" for group in withheld.values()), "the demo has small posts"
    for key, group in seen.items():
        assert group["count"] == hr[key]["count"], key
        if group["withheld"] is None:
            assert (
                group["count"] >= minimum and group["mean"] == hr[key]["mean"] and group["grades"] == hr[key]["grades"]
            )
            continue
        assert group["mean"] is None and group["p50"] is None and group["grades"] == [], group
        assert group["withheld"] == ("SMALL_GROUP" if group["count"] < minimum else "TABLE_TOTALS"), group


async def test_a_withheld_groups_size_is_before_the_score_bounds(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """Listing a group withheld because a bound leaves a few of its people would tell how many scored within the
    bound: its count is the group's size without the bounds (what the same table without them lists)."""
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    hr_whole = by_key((await app_client.data(SCORES, {"c": cycle, "g": ["POST_FAMILY"]}))["scoreStatistics"])
    family, largest = max(hr_whole.items(), key=lambda item: item[1]["count"])
    # At or above the family's best score: its top scorer(s) only.
    hr_max = (
        await app_client.data(
            "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [POST_FAMILY]) { key max } }", {"c": cycle}
        )
    )["scoreStatistics"]
    best = next(group["max"] for group in hr_max if tuple(group["key"]) == family)
    # (max is shown rounded to two decimals: a cent below it keeps the best one.)
    bounded = {"c": cycle, "g": ["POST_FAMILY"], "f": {"minScore": best - 0.01}}
    within = by_key((await app_client.data(SCORES, bounded))["scoreStatistics"])
    assert 0 < within[family]["count"] < minimum <= largest["count"], (within[family], largest)
    seen = by_key((await app_client.as_principal("analyst", grants=["names"]).data(SCORES, bounded))["scoreStatistics"])
    assert seen[family]["withheld"] == "SMALL_GROUP" and seen[family]["mean"] is None, seen[family]
    assert seen[family]["count"] == largest["count"] != within[family]["count"]


async def test_every_field_words_its_reasons_alike(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """scoreStatistics, indicatorStatistics, scoreTrends and postComparison name the same reasons: the enum
    WithheldReason, or (indicatorStatistics' older string) the enum's value and the one wording of it."""
    analyst = app_client.as_principal("analyst", grants=["names"])
    minimum = app_client.settings.min_group_size
    cycle = str(seeded.past_cycle_id)
    wordings = {describe(reason, minimum) for reason in Withheld}
    indicators = (await analyst.data(INDICATORS, {"c": cycle}))["indicatorStatistics"]
    texts = [group["withheld"] for group in indicators if group["withheld"] is not None]
    assert texts, "the demo has small posts"
    for text in texts:
        for part in text.split("; "):
            name, _, wording = part.partition(": ")
            assert name in ("raw", "normalized") and wording in wordings, text
    trends = (await analyst.data(TRENDS, {"c": [cycle]}))["scoreTrends"]
    points = [point for trend in trends for point in trend["cycles"]]
    standings = (await analyst.data(POSTS, {"c": cycle}))["postComparison"]["posts"]
    for name, figures in (("scoreTrends", points), ("postComparison", standings)):
        assert any(figure["withheld"] for figure in figures), name
        for figure in figures:
            assert (figure["mean"] is None) == (figure["withheld"] is not None), (name, figure)
            assert figure["withheld"] is None or figure["withheld"] in REASONS, (name, figure)
            if figure["withheld"] == "SMALL_GROUP":
                assert figure["count"] < minimum, (name, figure)
