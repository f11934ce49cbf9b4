"""indicatorStatistics computed in the database: per indicator version, the raw values and normalised scores of
a cycle's results, per post, post family or the whole cycle, against an independent computation in Python."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, IndicatorScore, Post
from hub.demo.organisation import SeedSummary
from schema.rounding import two_decimals
from tests.conftest import GraphQLClient
from tests.schema.test_score_statistics import percentile, same_figures

VALUE = "count mean stddev min max p25 p50 p75 p90"
QUERY = f"""query($c: ID!, $g: [GroupDimension!]) {{ indicatorStatistics(cycleId: $c, groupBy: $g) {{
  key indicatorVersion {{ id }} raw {{ {VALUE} }} normalized {{ {VALUE} }} withheld }} }}"""
KEYS = {"POST": Post.code, "POST_FAMILY": Post.family}


def figures(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {
        "count": len(values),
        "mean": two_decimals(statistics.fmean(values)),
        "stddev": two_decimals(statistics.pstdev(values)),
        "min": two_decimals(min(values)),
        "max": two_decimals(max(values)),
        **{f"p{round(s * 100)}": two_decimals(percentile(values, s)) for s in (0.25, 0.5, 0.75, 0.9)},
    }


@pytest.mark.parametrize("group_by", [[], ["POST"], ["POST_FAMILY"]])
async def test_figures_match_an_independent_computation(
    app_client: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
    group_by: list[str],
) -> None:
    """hr_admin's every group equals Python's statistics module over the same indicator scores."""
    columns = [KEYS[dimension] for dimension in group_by]
    statement = (
        select(IndicatorScore.indicator_version_id, IndicatorScore.raw_value, IndicatorScore.normalized_score, *columns)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .where(AppraisalResult.cycle_id == seeded.past_cycle_id)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    groups: defaultdict[tuple[int, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for row in rows:
        raw, normalized = groups[(row[0], str(row[3]) if group_by else "")]
        if row[1] is not None:
            raw.append(row[1])
        if row[2] is not None:
            normalized.append(row[2])
    wanted = [
        {
            "key": [key] if group_by else [],
            "indicatorVersion": {"id": str(version)},
            "raw": figures(raw),
            "normalized": figures(normalized),
            "withheld": None,
        }
        for (version, key), (raw, normalized) in sorted(groups.items())
    ]
    data = await app_client.data(QUERY, {"c": str(seeded.past_cycle_id), "g": group_by})
    assert same_figures(data["indicatorStatistics"], wanted), (data["indicatorStatistics"], wanted)


async def test_groupings_other_than_post_or_family_are_refused(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """An indicator version belongs to posts' schemes: grouping it by department or grade is refused."""
    body = await app_client.execute(QUERY, {"c": str(seeded.past_cycle_id), "g": ["DEPARTMENT"]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_small_post_is_withheld_with_its_reason(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """Below hr_admin, a post whose results with a value are fewer than the minimum keeps its key, nulls its
    figures and says why; hr_admin sees the same group's figures."""
    variables = {"c": str(seeded.past_cycle_id), "g": ["POST"]}
    hr = (await app_client.data(QUERY, variables))["indicatorStatistics"]
    analyst = app_client.as_principal("analyst", grants=["names"])
    seen = (await analyst.data(QUERY, variables))["indicatorStatistics"]
    minimum = app_client.settings.min_group_size
    small = [g for g in hr if g["normalized"] is not None and g["normalized"]["count"] < minimum]
    assert small, "the demo has posts below the minimum"
    by_key = {(g["indicatorVersion"]["id"], tuple(g["key"])): g for g in seen}
    for group in small:
        withheld = by_key[(group["indicatorVersion"]["id"], tuple(group["key"]))]
        assert withheld["normalized"] is None and withheld["withheld"] and str(minimum) in withheld["withheld"]


async def test_one_statement_reads_the_indicator_scores(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """Per post, every indicator version's figures come from one statement (a row per (version, post))."""
    app_client.sql.reset()
    data = await app_client.data(QUERY, {"c": str(seeded.past_cycle_id), "g": ["POST"]})
    reads = [statement for statement in app_client.sql.statements if "indicator_scores" in statement]
    assert len(reads) == 1 and "GROUP BY" in reads[0].upper(), reads
    assert data["indicatorStatistics"]
