"""scoreStatistics computed in the database: the figures against an independent computation in Python, one
statement returning a row per group (never a row per result), the grade distribution, and the row scope."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.analytics.statistics import CellFigures, StatisticsQuery, read_cells
from hub.db.models import AppraisalResult, Cycle, Department, Employee, Post
from hub.demo.organisation import SeedSummary
from hub.domain import Grade
from schema.rounding import two_decimals
from tests.conftest import GraphQLClient

FIGURES = "key count mean stddev min max p25 p50 p75 p90 grades { grade count }"
STATISTICS = f"query($c: ID!, $g: [GroupDimension!]!) {{ scoreStatistics(cycleId: $c, groupBy: $g) {{ {FIGURES} }} }}"
DIMENSIONS = {
    "DEPARTMENT": Department.code,
    "POST": Post.code,
    "POST_FAMILY": Post.family,
    "GRADE": AppraisalResult.grade,
    "CYCLE": Cycle.name,
}


def percentile(values: Sequence[float], share: float) -> float:
    """percentile_cont's definition (linear interpolation between closest ranks, as PostgreSQL's documentation
    gives it), checked against the statistics module's inclusive quantiles, which agree up to rounding."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    if len(ordered) > 1:
        parts, index = {0.25: (4, 0), 0.5: (4, 1), 0.75: (4, 2), 0.9: (10, 8)}[share]
        assert math.isclose(value, statistics.quantiles(ordered, n=parts, method="inclusive")[index], abs_tol=1e-9)
    return value


def same_figures(got: object, want: object) -> bool:
    """Equal, but for figures a cent apart: a value exactly between two cents (a mean of 4 values at .xx5) is
    rounded half-up from whichever side the database's float arithmetic (summation order) lands on."""
    if isinstance(got, float | int) and isinstance(want, float | int) and not isinstance(got, bool):
        return got == want if isinstance(want, int) and isinstance(got, int) else abs(got - want) <= 0.0100001
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same_figures(got[key], want[key]) for key in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(same_figures(a, b) for a, b in zip(got, want, strict=True))
    return got == want


def expected_group(key: list[str], scores: list[float], grades: list[str]) -> dict[str, Any]:
    return {
        "key": key,
        "count": len(scores),
        "mean": two_decimals(statistics.fmean(scores)),
        "stddev": two_decimals(statistics.pstdev(scores)),
        "min": two_decimals(min(scores)),
        "max": two_decimals(max(scores)),
        "p25": two_decimals(percentile(scores, 0.25)),
        "p50": two_decimals(percentile(scores, 0.5)),
        "p75": two_decimals(percentile(scores, 0.75)),
        "p90": two_decimals(percentile(scores, 0.9)),
        "grades": [{"grade": grade.value, "count": grades.count(grade.value)} for grade in Grade],
    }


async def expected(
    sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int, group_by: list[str]
) -> list[dict[str, Any]]:
    """The groups computed here from every result row (what the hub must not do)."""
    columns = [DIMENSIONS[dimension] for dimension in group_by]
    statement = (
        select(AppraisalResult.total_score, AppraisalResult.grade, *columns)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Department, Department.id == AppraisalResult.department_id)
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.cycle_id == cycle_id)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    groups: defaultdict[tuple[str, ...], tuple[list[float], list[str]]] = defaultdict(lambda: ([], []))
    for row in rows:
        scores, grades = groups[tuple(str(value) for value in row[2:])]
        scores.append(row[0])
        grades.append(str(row[1]))
    grade_at = group_by.index("GRADE") if "GRADE" in group_by else None
    rank = {grade.value: index for index, grade in enumerate(Grade)}

    def order(key: tuple[str, ...]) -> tuple[object, ...]:
        # A grade sorts in the scale's order (S first), every other part alphabetically.
        return tuple((rank[part], part) if index == grade_at else (0, part) for index, part in enumerate(key))

    return [expected_group(list(key), *groups[key]) for key in sorted(groups, key=order)]


async def test_figures_match_an_independent_computation(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Every figure of every grouping tried equals Python's statistics module over the same rows (on SQLite and
    on PostgreSQL, so both give the same figures)."""
    cycle = seeded.past_cycle_id
    for group_by in ([], ["POST"], ["DEPARTMENT", "GRADE"], ["POST_FAMILY", "CYCLE"], ["DEPARTMENT", "POST"]):
        data = await app_client.data(STATISTICS, {"c": str(cycle), "g": group_by})
        wanted = await expected(sessionmaker, cycle, group_by)
        assert same_figures(data["scoreStatistics"], wanted), (group_by, data["scoreStatistics"], wanted)


async def test_grades_come_in_the_scale_order_for_hr_and_analysts(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    # (An analyst without the names grant gets the large cells only: in the demo, a single grade.)
    for role, grants in (("hr_admin", ()), ("analyst", ("names",))):
        data = await app_client.as_principal(role, grants=grants).data(
            STATISTICS, {"c": str(seeded.past_cycle_id), "g": ["GRADE"]}
        )
        keys = [group["key"][0] for group in data["scoreStatistics"]]
        assert len(keys) > 2 and keys == [grade.value for grade in Grade if grade.value in keys], (role, keys)


async def test_a_known_group_interpolates_its_percentiles(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Five totals 10, 20, 30, 40, 100: quartiles 20, 30, 40; the 90th percentile 40 + 0.6 * 60 = 76; the
    population standard deviation sqrt(1000)."""
    async with sessionmaker() as session, session.begin():
        post_id = (
            await session.execute(
                select(AppraisalResult.post_id).where(AppraisalResult.cycle_id == seeded.past_cycle_id).limit(1)
            )
        ).scalar_one()
        ids = (
            await session.scalars(
                select(AppraisalResult.id).where(
                    AppraisalResult.cycle_id == seeded.past_cycle_id, AppraisalResult.post_id == post_id
                )
            )
        ).all()
        # The five are the post's only S; the post's other holders are D.
        await session.execute(update(AppraisalResult).where(AppraisalResult.id.in_(ids[5:])).values(grade=Grade.D))
        for result_id, score in zip(ids[:5], (40.0, 10.0, 100.0, 30.0, 20.0), strict=False):
            await session.execute(
                update(AppraisalResult).where(AppraisalResult.id == result_id).values(total_score=score, grade=Grade.S)
            )
        code = (await session.execute(select(Post.code).where(Post.id == post_id))).scalar_one()
    assert len(ids) >= 5, "the first post of the demo has at least five holders"
    data = await app_client.data(STATISTICS, {"c": str(seeded.past_cycle_id), "g": ["POST", "GRADE"]})
    (group,) = [group for group in data["scoreStatistics"] if group["key"] == [code, "S"]]
    assert (group["count"], group["mean"], group["min"], group["max"]) == (5, 40.0, 10.0, 100.0)
    assert (group["p25"], group["p50"], group["p75"], group["p90"]) == (20.0, 30.0, 40.0, 76.0)
    assert group["stddev"] == two_decimals(math.sqrt(1000))
    assert {grade["grade"]: grade["count"] for grade in group["grades"]} == {"S": 5, "A": 0, "B": 0, "C": 0, "D": 0}


async def test_one_statement_returns_a_row_per_group_not_per_result(
    app_client: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request reads results in exactly one statement, and the database hands back as many rows as there are
    groups (a dozen posts), not one per result (120): nothing is summarised in Python."""
    returned: list[int] = []
    read = read_cells

    def counting(query: StatisticsQuery, dialect: str, rows: Sequence[Row[*tuple[object, ...]]]) -> list[CellFigures]:
        returned.append(len(rows))
        return read(query, dialect, rows)

    monkeypatch.setattr("resolvers.statistics.read_cells", counting)
    async with sessionmaker() as session:
        results = len(
            (
                await session.scalars(
                    select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.past_cycle_id)
                )
            ).all()
        )
    for role, grants in (("hr_admin", ()), ("analyst", ("names",)), ("analyst", ())):
        client = app_client.as_principal(role, grants=grants)
        app_client.sql.reset()
        returned.clear()
        data = await client.data(STATISTICS, {"c": str(seeded.past_cycle_id), "g": ["POST"]})
        reads = [statement for statement in app_client.sql.statements if "appraisal_results" in statement]
        assert len(reads) == 1 and "GROUP BY" in reads[0].upper(), (role, grants, reads)
        # hr_admin: a row per group; the others: a row per cell, some withheld.
        assert len(returned) == 1 and len(data["scoreStatistics"]) <= returned[0] < results / 5, (role, returned)


async def test_a_manager_sees_the_statistics_of_their_reach_only(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """The whole cycle as a manager counts the results of their reporting line (and their own), no one else's."""
    async with sessionmaker() as session:
        people = (await session.execute(select(Employee.id, Employee.manager_id, Employee.employee_no))).all()
        scored = set(
            (
                await session.scalars(
                    select(AppraisalResult.employee_id).where(AppraisalResult.cycle_id == seeded.past_cycle_id)
                )
            ).all()
        )
        state = (await session.execute(select(Cycle.state).where(Cycle.id == seeded.past_cycle_id))).scalar_one()
    reports: defaultdict[int, list[int]] = defaultdict(list)
    for person, manager, _ in people:
        if manager is not None:
            reports[manager].append(person)

    def reach(person: int) -> set[int]:
        below = set(reports[person])
        for report in reports[person]:
            below |= reach(report)
        return below

    # A middle manager: a reporting line of at least the minimum group size, but not the whole organisation.
    candidates: list[tuple[int, int, str]] = [(len(reach(p) & scored), p, number) for p, _, number in people]
    size, manager_id, number = max(c for c in candidates if c[0] < len(scored) // 2)
    assert size >= app_client.settings.min_group_size
    own = 1 if manager_id in scored and str(state) == "PUBLISHED" else 0
    client = app_client.as_principal("manager", number)
    data = await client.data(STATISTICS, {"c": str(seeded.past_cycle_id), "g": []})
    assert [group["count"] for group in data["scoreStatistics"]] == [size + own]
    # indicatorStatistics reads the same scope: no indicator counts more results than the manager reaches.
    indicators = await client.data(
        "query($c: ID!) { indicatorStatistics(cycleId: $c) { normalized { count } } }", {"c": str(seeded.past_cycle_id)}
    )
    counts = [group["normalized"]["count"] for group in indicators["indicatorStatistics"] if group["normalized"]]
    assert counts and max(counts) <= size + own < len(scored)
