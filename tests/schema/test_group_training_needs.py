"""groupTrainingNeeds: per group and core indicator, the people under the need threshold, counted in one statement,
checked against a count in Python over the same rows, under scoreStatistics' small-group rules."""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Department, Indicator, IndicatorScore, IndicatorVersion, Post
from hub.demo.organisation import SeedSummary
from hub.domain import IndicatorCategory
from tests.conftest import GraphQLClient

NEEDS = """query($c: ID!, $g: GroupDimension) {
  groupTrainingNeeds(cycleId: $c, groupBy: $g) {
    key indicatorCode indicator { code category } threshold count below share meanScore withheld
  }
}"""
KEYS = {"DEPARTMENT": Department.code, "POST": Post.code, "POST_FAMILY": Post.family}
DEFAULT_THRESHOLD = 60.0  # the C grade's lower bound of the default bands; no rule is set in these tests


async def expected(
    sessionmaker: async_sessionmaker[AsyncSession], cycle: int, group_by: str | None
) -> dict[tuple[tuple[str, ...], str], tuple[int, int, float]]:
    """(key, indicator code) -> (scored, under the threshold, mean score), from the rows themselves."""
    key = KEYS[group_by] if group_by else Post.family
    statement = (
        select(key, Indicator.code, IndicatorScore.normalized_score)
        .select_from(IndicatorScore)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Department, Department.id == AppraisalResult.department_id)
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(AppraisalResult.cycle_id == cycle, Indicator.category == IndicatorCategory.CORE)
    )
    scores: defaultdict[tuple[tuple[str, ...], str], list[float]] = defaultdict(list)
    async with sessionmaker() as session:
        for group, code, score in await session.execute(statement):
            if score is not None:
                scores[((str(group),) if group_by else (), code)].append(score)
    return {
        found: (len(values), sum(value < DEFAULT_THRESHOLD for value in values), fmean(values))
        for found, values in scores.items()
    }


def answered(rows: list[dict[str, Any]]) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    return {(tuple(row["key"]), row["indicatorCode"]): row for row in rows}


@pytest.mark.parametrize("group_by", [None, "DEPARTMENT", "POST", "POST_FAMILY"])
async def test_hr_admin_gets_every_group_as_counted_from_the_rows_in_one_statement(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, group_by: str | None
) -> None:
    cycle = seeded.past_cycle_id
    want = await expected(sessionmaker, cycle, group_by)
    assert any(below for _, below, _ in want.values()), "the demo's past cycle has needs to count"
    app_client.sql.reset()
    rows = (await app_client.data(NEEDS, {"c": str(cycle), "g": group_by}))["groupTrainingNeeds"]
    reads = [statement for statement in app_client.sql.statements if "indicator_scores" in statement]
    assert len(reads) == 1 and "GROUP BY" in reads[0].upper(), reads
    got = answered(rows)
    assert set(got) == set(want)
    for found, (scored, below, mean) in want.items():
        row = got[found]
        assert (row["count"], row["below"], row["withheld"]) == (scored, below, None), (found, row)
        assert row["share"] == pytest.approx(below / scored)
        assert row["meanScore"] == pytest.approx(mean, abs=0.006)
        assert row["threshold"] == DEFAULT_THRESHOLD and row["indicator"] == {"code": found[1], "category": "CORE"}
    # By key, then indicator code.
    assert [(tuple(row["key"]), row["indicatorCode"]) for row in rows] == sorted(got)


@pytest.mark.parametrize("grants", [("names",), ()])
async def test_an_analyst_sees_small_groups_listed_as_withheld(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary, grants: Any
) -> None:
    """By post the demo has posts of a few people: listed with their size and reason, no figure; every released
    group has at least the minimum, and no family less its released posts leaves a small group."""
    minimum = app_client.settings.min_group_size
    cycle = seeded.past_cycle_id
    rows = (await app_client.as_principal("analyst", grants=grants).data(NEEDS, {"c": str(cycle), "g": "POST"}))[
        "groupTrainingNeeds"
    ]
    assert rows, "the analyst sees groups"
    withheld = [row for row in rows if row["withheld"] is not None]
    released = [row for row in rows if row["withheld"] is None]
    # With the names grant the demo's small posts are withheld; without it their people are left out altogether
    # (small (department, post) cells), so what is listed is a union of large cells.
    assert released and (withheld or not grants), rows
    assert all(row["below"] is None and row["share"] is None and row["meanScore"] is None for row in withheld)
    assert all(row["count"] >= minimum and row["below"] is not None for row in released)
    assert {row["withheld"] for row in withheld} <= {"SMALL_GROUP", "TABLE_TOTALS"}
    assert all(row["withheld"] == "SMALL_GROUP" for row in withheld if row["count"] < minimum)
    # The whole cycle, and each family, less the released posts, per indicator: nobody, or at least the minimum.
    analyst = app_client.as_principal("analyst", grants=grants)
    whole = answered((await analyst.data(NEEDS, {"c": str(cycle)}))["groupTrainingNeeds"])
    for (_, code), total in whole.items():
        left = total["count"] - sum(row["count"] for row in released if row["indicatorCode"] == code)
        assert left == 0 or left >= minimum, (code, left)
    async with sessionmaker() as session:
        family_of = {code: family for code, family in (await session.execute(select(Post.code, Post.family))).all()}
    families = answered((await analyst.data(NEEDS, {"c": str(cycle), "g": "POST_FAMILY"}))["groupTrainingNeeds"])
    for ((family,), code), group in families.items():
        if group["withheld"] is not None:
            continue
        inside = sum(
            row["count"] for row in released if row["indicatorCode"] == code and family_of[row["key"][0]] == family
        )
        left = group["count"] - inside
        assert left == 0 or left >= minimum, (family, code, left)


async def test_group_by_must_be_a_group_of_people(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    body = await app_client.execute(NEEDS, {"c": str(seeded.past_cycle_id), "g": "GRADE"})
    assert body["data"] == {"groupTrainingNeeds": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("role", ["employee", "payroll", "training"])
async def test_who_may_not_ask(app_client: GraphQLClient, seeded: SeedSummary, role: str) -> None:
    body = await app_client.as_principal(role).execute(NEEDS, {"c": str(seeded.past_cycle_id)})
    assert body["data"] == {"groupTrainingNeeds": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
