"""highPerformerProfile over GraphQL: the figures of a known data set, their cost, and what is withheld."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.analytics.profile import Moments, Withheld
from hub.config import Settings
from hub.domain import Grade
from resolvers.insights import blocker, contrast
from tests.conftest import GraphQLClient, make_settings, serving
from tests.insights.known import PERIODS, Known, core, extension, grade, total, write_known

GROUP = "{ count mean stddev withheld }"
CONTRAST = f"{{ top {GROUP} rest {GROUP} difference hedgesG }}"
PROFILE = f"""
query($c: ID!) {{
  highPerformerProfile(cycleId: $c) {{
    cycle {{ name }} topGrade minimumGroupSize
    total {CONTRAST}
    indicators {{ indicator {{ id category }} comparison {CONTRAST} }}
    posts {{ post {{ id }} count topCount topShare withheld }}
    tenure {{ band fromYears toYears count topCount topShare withheld }}
    note
  }}
}}
"""


@pytest.fixture
async def known(sessionmaker: async_sessionmaker[AsyncSession]) -> Known:
    return await write_known(sessionmaker)


def hedges(top: Sequence[float], rest: Sequence[float]) -> float:
    """Hedges' g written out from its definition, independently of the hub's arithmetic."""
    n1, n2 = len(top), len(rest)
    pooled = math.sqrt(((n1 - 1) * statistics.variance(top) + (n2 - 1) * statistics.variance(rest)) / (n1 + n2 - 2))
    return (statistics.fmean(top) - statistics.fmean(rest)) / pooled * (1 - 3 / (4 * (n1 + n2) - 9))


def check_contrast(answer: dict[str, Any], top: Sequence[float], rest: Sequence[float]) -> None:
    assert answer["top"]["count"] == len(top) and answer["rest"]["count"] == len(rest)
    assert answer["top"]["mean"] == pytest.approx(statistics.fmean(top), abs=0.006)
    assert answer["rest"]["mean"] == pytest.approx(statistics.fmean(rest), abs=0.006)
    assert answer["top"]["stddev"] == pytest.approx(statistics.stdev(top), abs=0.006)
    assert answer["rest"]["stddev"] == pytest.approx(statistics.stdev(rest), abs=0.006)
    assert answer["difference"] == pytest.approx(statistics.fmean(top) - statistics.fmean(rest), abs=0.011)
    assert answer["hedgesG"] == pytest.approx(hedges(top, rest), rel=1e-9)
    assert answer["top"]["withheld"] is None and answer["rest"]["withheld"] is None


def years_of_service(hired: dt.date, on: dt.date) -> int:
    return on.year - hired.year - ((on.month, on.day) < (hired.month, hired.day))


def band_of(hired: dt.date | None, on: dt.date) -> str:
    if hired is None:
        return "UNKNOWN"
    years = years_of_service(hired, on)
    for limit, band in ((1, "UNDER_1"), (3, "FROM_1_TO_3"), (5, "FROM_3_TO_5"), (10, "FROM_5_TO_10")):
        if years < limit:
            return band
    return "FROM_10"


async def test_hr_admin_gets_every_figure_as_computed_from_the_known_results(
    app_client: GraphQLClient, known: Known
) -> None:
    """Top against rest on the total, per indicator, per post and per tenure band, all as computed here."""
    count = len(known.people)
    top = [i for i in range(count) if grade(i) is Grade.S]
    rest = [i for i in range(count) if grade(i) is not Grade.S]
    app_client.sql.reset()
    answer = (await app_client.data(PROFILE, {"c": str(known.cycles["Y3"])}))["highPerformerProfile"]
    # The cycle (its loader: the answer's cycle reads it from there), two aggregations, and one loader each for
    # the indicators and the posts.
    assert app_client.sql.count == 5, [s[:90] for s in app_client.sql.statements]
    assert answer["topGrade"] == "S" and answer["minimumGroupSize"] == 1 and answer["cycle"]["name"] == "known Y3"
    check_contrast(answer["total"], [total(i) for i in top], [total(i) for i in rest])
    by_category = {entry["indicator"]["category"]: entry["comparison"] for entry in answer["indicators"]}
    assert set(by_category) == {"CORE", "EXTENSION"}
    check_contrast(by_category["CORE"], [core(i) for i in top], [core(i) for i in rest])
    ext_top = [value for i in top if (value := extension(i)) is not None]
    ext_rest = [value for i in rest if (value := extension(i)) is not None]
    check_contrast(by_category["EXTENSION"], ext_top, ext_rest)
    posts: Counter[int] = Counter(person[2] for person in known.people)
    post_tops: Counter[int] = Counter(known.people[i][2] for i in top)
    shown = {int(row["post"]["id"]): row for row in answer["posts"]}
    assert set(shown) == set(posts)
    for post, people in posts.items():
        assert shown[post]["count"] == people and shown[post]["topCount"] == post_tops[post]
        assert shown[post]["topShare"] == pytest.approx(post_tops[post] / people)
    on = PERIODS["Y3"][1]
    bands = Counter(band_of(person[4], on) for person in known.people)
    band_tops = Counter(band_of(known.people[i][4], on) for i in top)
    tenure = {row["band"]: row for row in answer["tenure"]}
    assert {band: row["count"] for band, row in tenure.items()} == dict(bands)
    assert {band: row["topCount"] for band, row in tenure.items() if row["topCount"]} == dict(band_tops)
    assert all(row["withheld"] is None for row in [*answer["posts"], *answer["tenure"]])


async def test_the_statements_do_not_grow_with_the_results(app_client: GraphQLClient, known: Known) -> None:
    """A cycle of 120 results costs what the demo's scored cycle costs: aggregation in SQL, not rows."""
    counts = []
    for cycle in (known.cycles["Y3"], known.cycles["Y1"]):
        app_client.sql.reset()
        await app_client.data(PROFILE, {"c": str(cycle)})
        counts.append(app_client.sql.count)
    # Y1 has no indicator scores: the indicator loader is not asked.
    assert counts == [5, 4]


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[GraphQLClient]:
    """The app with a minimum group size of 25: larger than the 20 top grades of the known set."""
    async with serving(make_settings(database_url=settings.database_url, min_group_size=25)) as client:
        yield client


async def test_a_small_top_grade_withholds_the_rest_too(strict: GraphQLClient, known: Known) -> None:
    """The differencing attack: scoreStatistics gives everyone's count and mean, so the rest's mean beside it
    would give the top grade's sum, one person's score when the top grade is one person. With the top grade
    below the minimum, both sides are null, with their reasons; hr_admin still sees them."""
    cycle = str(known.cycles["Y3"])
    analyst = strict.as_principal("analyst", grants=["names"])
    everyone = await analyst.data(
        "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: []) { count mean } }", {"c": cycle}
    )
    assert everyone["scoreStatistics"][0]["count"] == len(known.people)
    answer = (await analyst.data(PROFILE, {"c": cycle}))["highPerformerProfile"]
    assert answer["minimumGroupSize"] == 25
    assert answer["total"]["top"] == {"count": None, "mean": None, "stddev": None, "withheld": "SMALL_GROUP"}
    assert answer["total"]["rest"] == {"count": None, "mean": None, "stddev": None, "withheld": "SMALL_COMPLEMENT"}
    assert answer["total"]["difference"] is None and answer["total"]["hedgesG"] is None
    for entry in answer["indicators"]:
        assert entry["comparison"]["rest"]["mean"] is None and entry["comparison"]["top"]["mean"] is None
    # No post has 25 people: every row's top count is withheld, and nothing is left to subtract from; the
    # rows keep their sizes, which scoreStatistics grouped by post lists as well.
    assert all(row["topCount"] is None and row["withheld"] for row in answer["posts"])
    assert sum(row["count"] for row in answer["posts"]) == len(known.people)
    assert answer["note"] == (
        "the top grade (S) has 20 people, fewer than the minimum group size 25: its figures are withheld, and so "
        "are the other side's (the whole, shown elsewhere, less one side is the other)"
    )
    hr = (await strict.data(PROFILE, {"c": cycle}))["highPerformerProfile"]
    assert hr["total"]["top"]["count"] == 20 and hr["total"]["rest"]["count"] == 100


def small(people: int | None) -> bool:
    return people is not None and 0 < people < 5


def no_small_group_left_by_subtraction(rows: Sequence[dict[str, Any]], top: int | None, rest: int | None) -> None:
    """Neither a shown row nor what a shown total less the table's shown rows leaves is a group of 1 to 4."""
    shown = [row for row in rows if row["withheld"] is None]
    for row in shown:
        assert not small(row["topCount"]) and not small(row["count"] - row["topCount"]), row
    if top is not None:
        assert not small(top - sum(row["topCount"] for row in shown)), rows
    if rest is not None:
        assert not small(rest - sum(row["count"] - row["topCount"] for row in shown)), rows


@pytest.mark.parametrize("grants", [[], ["names"]])
async def test_no_figure_of_an_analyst_leaves_a_small_group_by_subtraction(
    app_client: GraphQLClient, known: Known, grants: list[str]
) -> None:
    """The profile's sides are unions of the grade groups scoreStatistics grouped by grade shows the same
    analyst, and no table's shown rows and totals differ by 1 to 4 people."""
    cycle = str(known.cycles["Y3"])
    analyst = app_client.as_principal("analyst", grants=grants)
    answer = (await analyst.data(PROFILE, {"c": cycle}))["highPerformerProfile"]
    top, rest = answer["total"]["top"], answer["total"]["rest"]
    no_small_group_left_by_subtraction(answer["posts"], top["count"], rest["count"])
    no_small_group_left_by_subtraction(answer["tenure"], top["count"], rest["count"])
    by_grade = await analyst.data(
        "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [GRADE]) { key count mean } }", {"c": cycle}
    )
    grades = {group["key"][0]: group for group in by_grade["scoreStatistics"]}
    if top["count"] is None:
        assert "S" not in grades and top["withheld"] in ("SMALL_GROUP", "SMALL_COMPLEMENT", "TABLE_TOTALS")
    else:
        assert grades["S"]["count"] == top["count"]
        assert grades["S"]["mean"] == pytest.approx(top["mean"], abs=0.011)
    if rest["count"] is not None:
        others = [group for key, group in grades.items() if key != "S"]
        assert sum(group["count"] for group in others) == rest["count"]
        mean = sum(group["count"] * group["mean"] for group in others) / rest["count"]
        assert mean == pytest.approx(rest["mean"], abs=0.011)
    whole = await analyst.data("query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: []) { count } }", {"c": cycle})
    if top["count"] is not None and rest["count"] is not None:
        assert not small(whole["scoreStatistics"][0]["count"] - top["count"] - rest["count"])
    # Whatever the analyst sees, the hub did withhold something here: the known set has small groups.
    assert any(row["withheld"] for row in answer["posts"])


async def test_an_unknown_cycle_is_not_found(app_client: GraphQLClient) -> None:
    body = await app_client.execute(PROFILE, {"c": "987654"})
    assert body["data"] == {"highPerformerProfile": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]


async def test_tenure_bands_come_in_their_natural_order(app_client: GraphQLClient, known: Known) -> None:
    """Shortest service first (UNDER_1, FROM_1_TO_3, ..., FROM_10), UNKNOWN last: not alphabetically."""
    natural = ["UNDER_1", "FROM_1_TO_3", "FROM_3_TO_5", "FROM_5_TO_10", "FROM_10", "UNKNOWN"]
    answer = (await app_client.data(PROFILE, {"c": str(known.cycles["Y3"])}))["highPerformerProfile"]
    bands = [row["band"] for row in answer["tenure"]]
    on = PERIODS["Y3"][1]
    present = {band_of(person[4], on) for person in known.people}
    assert bands == [band for band in natural if band in present]
    # The known set spans bands whose alphabetical order is another: the test could tell the two apart.
    assert sorted(bands) != bands
    starts = [row["fromYears"] for row in answer["tenure"] if row["band"] != "UNKNOWN"]
    assert starts == sorted(starts)


def test_a_large_rest_beside_a_small_top_grade_is_withheld_as_its_complement() -> None:
    """116 people are no small group: beside 4 top grades the rest is SMALL_COMPLEMENT, even when one of its
    grades is small too (as a pseudonymous analyst's table of large cells has them); with a large top grade, a
    rest withheld for a small grade of its own is TABLE_TOTALS (the rest less the grades shown is that grade)."""

    def moments(counts: dict[Grade, int]) -> dict[Grade, Moments]:
        return {grade: Moments(count, 60.0 * count, 3700.0 * count) for grade, count in counts.items()}

    counts = {Grade.S: 4, Grade.A: 60, Grade.B: 53, Grade.D: 3}
    compared = contrast(moments(counts), counts, 5)
    assert (compared.top.withheld, compared.rest.withheld) == (Withheld.SMALL_GROUP, Withheld.SMALL_COMPLEMENT)
    note = blocker(compared, moments(counts), 5, named=True)
    assert note is not None and note.startswith("the top grade (S) has 4 people, fewer than the minimum group size 5")
    unnamed = blocker(compared, moments(counts), 5, named=False)
    assert unnamed is not None and unnamed.startswith(
        "the top grade (S) has fewer people than the minimum group size 5"
    )
    counts = {Grade.S: 20, Grade.A: 60, Grade.B: 53, Grade.D: 3}
    compared = contrast(moments(counts), counts, 5)
    # The D grade's 3 would follow from the whole less A, B and S: the smallest of them (S) goes too.
    assert (compared.top.withheld, compared.rest.withheld) == (Withheld.TABLE_TOTALS, Withheld.TABLE_TOTALS)
    assert blocker(compared, moments(counts), 5, named=True) is None


async def test_a_pseudonymous_analyst_sees_the_post_sizes_and_no_top_grade_size(
    app_client: GraphQLClient, known: Known
) -> None:
    """Post rows keep their sizes (those of the large (department, post) cells, as scoreStatistics shows them);
    the note says the top grade is the blocker without saying how many it has."""
    cycle = str(known.cycles["Y3"])
    analyst = app_client.as_principal("analyst")
    answer = (await analyst.data(PROFILE, {"c": cycle}))["highPerformerProfile"]
    assert answer["total"]["top"]["withheld"] == "SMALL_GROUP"
    assert answer["note"].startswith("the top grade (S) has fewer people than the minimum group size 5")
    whole = await analyst.data("query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: []) { count } }", {"c": cycle})
    assert all(row["count"] is not None for row in answer["posts"])
    assert sum(row["count"] for row in answer["posts"]) == whole["scoreStatistics"][0]["count"]
