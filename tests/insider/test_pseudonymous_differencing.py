"""A pseudonymous analyst differencing two answers, as the hostile insider review did on the seeded demo.

Three attacks (each succeeded before its fix): two filtered lists whose leftover is one person (the head,
the only holder of post 1 outside department 2); two statistics tables whose groups nest (post family
ADMIN, 28 people, against department ADMIN_OFFICE, 27), so that 28*m1 - 27*m2 is one score; and two
score thresholds whose counts differ by one. Each test checks what the attack yields over every answer
of its kind, not only the insider's pair: nothing below the minimum group size.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import AppraisalResult, Department, Employee, Post
from hub.demo.organisation import SeedSummary
from hub.domain import Grade
from hub.pseudonyms import pseudonyms_for
from tests.conftest import GraphQLClient
from tests.insider.test_pseudonymous_analyst import STATISTICS, statistics

MINIMUM = 5

EMPLOYEES = """query($f: EmployeeFilter) { employees(first: 500, filter: $f) {
  totalCount edges { node { id } } } }"""
RESULTS = """query($c: ID!, $f: ResultFilter) { results(cycleId: $c, first: 500, filter: $f) {
  totalCount edges { node { id } } } }"""


def _sizes(rows: list[Any]) -> dict[tuple[int, int], int]:
    sizes: dict[tuple[int, int], int] = {}
    for row in rows:
        sizes[(row.department_id, row.post_id)] = sizes.get((row.department_id, row.post_id), 0) + 1
    return sizes


def _filters(rows: list[Any], families: dict[int, str]) -> list[dict[str, str]]:
    """Every department, post and post family filter, and every (department, post) pair that has people."""
    found: list[dict[str, str]] = []
    found += [{"departmentId": str(d)} for d in sorted({row.department_id for row in rows})]
    found += [{"postId": str(p)} for p in sorted({row.post_id for row in rows})]
    found += [{"postFamily": f} for f in sorted(set(families.values()))]
    found += [{"departmentId": str(d), "postId": str(p)} for d, p in sorted(_sizes(rows))]
    found += [{"departmentId": str(d), "postFamily": families[p]} for d, p in sorted(_sizes(rows))]
    return found


async def _released_lists(
    client: GraphQLClient,
    query: str,
    variables: dict[str, Any],
    filters: list[dict[str, str]],
    kind: str,
    settings: Settings,
) -> dict[str, set[int]]:
    """The row keys of every filtered list the hub answers (refused filters left out)."""
    pseudonyms = pseudonyms_for(settings)
    released: dict[str, set[int]] = {}
    for filter_ in filters:
        body = await client.execute(query, {**variables, "f": filter_})
        if body.get("errors"):
            assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}
            continue
        connection = next(iter(body["data"].values()))
        keys = {pseudonyms.decode(kind, edge["node"]["id"]) for edge in connection["edges"]}
        assert None not in keys and connection["totalCount"] == len(keys)
        released[repr(sorted(filter_.items()))] = keys  # type: ignore[assignment]
    return released


def _assert_no_small_leftover(released: dict[str, set[int]], small: set[int]) -> None:
    assert released
    for keys in released.values():
        assert not keys & small, "a filter matched a row whose (department, post) cell is below the minimum"
    for (name_a, a), (name_b, b) in combinations(released.items(), 2):
        for rest in (a - b, b - a):
            assert not rest or len(rest) >= MINIMUM, (name_a, name_b, len(rest))


async def test_filtered_employee_lists_never_difference_to_fewer_than_the_minimum(
    app_client: GraphQLClient, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    analyst = app_client.as_principal("analyst")
    async with sessionmaker() as session:
        people = list((await session.execute(select(Employee.id, Employee.department_id, Employee.post_id))).all())
        families = {row.id: row.family for row in await session.execute(select(Post.id, Post.family))}
    sizes = _sizes(people)
    small = {p.id for p in people if sizes[(p.department_id, p.post_id)] < MINIMUM}
    # The insider's pair: post 1 and (department 2, post 1) differ by the head alone in the data.
    head = {p.id for p in people if p.post_id == 1 and p.department_id != 2}
    assert len(head) == 1 and head <= small
    # Department 3 holds a 4-person cell whose department and post are withheld on the rows.
    assert any(d == 3 and 1 < n < MINIMUM for (d, _), n in sizes.items())
    released = await _released_lists(analyst, EMPLOYEES, {}, _filters(people, families), "employee", settings)
    _assert_no_small_leftover(released, small)
    # Unfiltered, every row is still listed; HR's filters are unchanged.
    assert (await analyst.data(EMPLOYEES))["employees"]["totalCount"] == len(people)
    hr = await app_client.data(EMPLOYEES, {"f": {"postId": "1"}})
    assert hr["employees"]["totalCount"] == sum(1 for p in people if p.post_id == 1)


async def test_filtered_result_lists_never_difference_to_fewer_than_the_minimum(
    app_client: GraphQLClient,
    settings: Settings,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    analyst = app_client.as_principal("analyst")
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        rows = list(
            (
                await session.execute(
                    select(AppraisalResult.id, AppraisalResult.department_id, AppraisalResult.post_id).where(
                        AppraisalResult.cycle_id == cycle
                    )
                )
            ).all()
        )
        families = {row.id: row.family for row in await session.execute(select(Post.id, Post.family))}
    sizes = _sizes(rows)
    small = {r.id for r in rows if sizes[(r.department_id, r.post_id)] < MINIMUM}
    assert small
    variables = {"c": str(cycle)}
    released = await _released_lists(analyst, RESULTS, variables, _filters(rows, families), "result", settings)
    _assert_no_small_leftover(released, small)
    assert (await analyst.data(RESULTS, variables))["results"]["totalCount"] == len(rows)


# The groupBy tables an insider can ask for without grade, and those with it (whose cells include the grade).
TABLES = [["CYCLE"], ["DEPARTMENT"], ["POST"], ["POST_FAMILY"], ["DEPARTMENT", "POST"], ["POST_FAMILY", "DEPARTMENT"]]
GRADE_TABLES = [["GRADE"], ["DEPARTMENT", "GRADE"], ["POST", "GRADE"], ["POST_FAMILY", "GRADE"]]


async def test_statistics_tables_never_difference_to_fewer_than_the_minimum(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    analyst = app_client.as_principal("analyst")
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    AppraisalResult.id,
                    Department.code.label("DEPARTMENT"),
                    Post.code.label("POST"),
                    Post.family.label("POST_FAMILY"),
                    AppraisalResult.grade,
                )
                .join(Department, Department.id == AppraisalResult.department_id)
                .join(Post, Post.id == AppraisalResult.post_id)
                .where(AppraisalResult.cycle_id == cycle)
            )
        ).all()

    def members(group_by: list[str], key: list[str]) -> frozenset[int]:
        """Everyone in the cycle whose values are the group's key (before anything is left out)."""
        values = {"CYCLE": lambda _: key[0], "GRADE": lambda row: str(row.grade.value)}
        return frozenset(
            row.id
            for row in rows
            if all(values.get(d, lambda r, d=d: getattr(r, d))(row) == k for d, k in zip(group_by, key, strict=True))
        )

    # The insider's pair, as HR sees it: family ADMIN holds department ADMIN_OFFICE and the head besides.
    hr_family = {g["key"][0]: g for g in await statistics(app_client, cycle, ["POST_FAMILY"])}
    hr_office = {g["key"][0]: g for g in await statistics(app_client, cycle, ["DEPARTMENT"])}
    assert hr_family["ADMIN"]["count"] - hr_office["ADMIN_OFFICE"]["count"] == 1
    for tables in (TABLES, GRADE_TABLES, TABLES + GRADE_TABLES):
        released: list[tuple[int, frozenset[int], int]] = []  # (table, its people, released count)
        for index, group_by in enumerate(tables):
            for group in await statistics(analyst, cycle, group_by):
                released.append((index, members(group_by, group["key"]), group["count"]))
        # A released group minus every released group of another table that it holds is no one, or a crowd.
        for table, people, count in released:
            for other in range(len(tables)):
                inside = [c for t, p, c in released if t == other and p <= people and (t, p) != (table, people)]
                if inside:
                    rest = count - sum(inside)
                    assert rest == 0 or rest >= MINIMUM, (tables[table], tables[other], count, inside)
                for t, p, c in released:
                    if t == other and p <= people:
                        assert count - c == 0 or count - c >= MINIMUM, (tables[table], tables[other], count, c)
    # Filtered by grade, a table leaves out the same people as grouped by grade: nothing new to subtract.
    for group_by in (["DEPARTMENT"], ["POST_FAMILY"]):
        by_grade = await statistics(analyst, cycle, [*group_by, "GRADE"])
        assert by_grade
        slices = 0
        for grade in ("S", "A", "B", "C", "D"):
            sliced = await statistics(analyst, cycle, group_by, grade=grade)
            expected = [{**g, "key": g["key"][:1]} for g in by_grade if g["key"][1] == grade]
            assert sliced == expected
            slices += len(sliced)
        assert slices == len(by_grade)


async def test_score_thresholds_are_refused_and_extremes_withheld(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    analyst = app_client.as_principal("analyst")
    cycle = str(seeded.past_cycle_id)
    # The insider's thresholds: counts 9 and 8 gave one score as the difference of the two sums.
    for argument, value in (("minScore", 87), ("minScore", 88), ("maxScore", 60)):
        for query, variables in (
            (STATISTICS, {"c": cycle, "g": ["CYCLE"]}),
            (RESULTS, {"c": cycle}),
        ):
            body = await analyst.execute(query, {**variables, "f": {argument: value}})
            assert not any((body["data"] or {}).values())
            error = body["errors"][0]
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}
            assert f"filter.{argument}" in error["message"]
            assert "score thresholds single people out; group by grade instead" in error["message"]
            assert "errors" not in await app_client.execute(query, {**variables, "f": {argument: value}})
    extremes = """query($c: ID!, $g: [GroupDimension!]!) { scoreStatistics(cycleId: $c, groupBy: $g) {
      count mean min max } }"""
    groups = (await analyst.data(extremes, {"c": cycle, "g": ["DEPARTMENT"]}))["scoreStatistics"]
    assert groups and all(g["min"] is None and g["max"] is None and g["mean"] is not None for g in groups)
    hr = (await app_client.data(extremes, {"c": cycle, "g": ["DEPARTMENT"]}))["scoreStatistics"]
    assert all(g["min"] is not None and g["max"] is not None for g in hr)
    # An analyst with the names grant sees names anyway: unchanged.
    named = app_client.as_principal("analyst", grants=["names"])
    named_groups = [
        group
        for group in (await named.data(extremes, {"c": cycle, "g": ["DEPARTMENT"]}))["scoreStatistics"]
        if group["mean"] is not None  # a withheld department is listed with its size only
    ]
    assert named_groups and all(g["min"] is not None for g in named_groups)
    assert "errors" not in await named.execute(STATISTICS, {"c": cycle, "g": ["CYCLE"], "f": {"minScore": 87}})


async def test_indicator_diagnostics_leave_out_the_people_of_small_cells(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A post's indicator means over its 16 holders, against scoreStatistics' 15 (the head left out there),
    would give the head's indicator scores and total: the diagnostics leave out the same people."""
    analyst = app_client.as_principal("analyst")
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        rows = list(
            (
                await session.execute(
                    select(AppraisalResult.department_id, AppraisalResult.post_id).where(
                        AppraisalResult.cycle_id == cycle
                    )
                )
            ).all()
        )
    sizes = _sizes(rows)
    query = "query($c: ID!, $p: ID!) { schemeDiagnostics(cycleId: $c, postId: $p) { count mean } }"
    checked = 0
    for post in sorted({row.post_id for row in rows}):
        everyone = sum(n for (_, p), n in sizes.items() if p == post)
        kept = sum(n for (_, p), n in sizes.items() if p == post and n >= MINIMUM)
        body = await analyst.execute(query, {"c": str(cycle), "p": str(post)})
        hr = (await app_client.data(query, {"c": str(cycle), "p": str(post)}))["schemeDiagnostics"]
        assert max(item["count"] for item in hr) == everyone
        if kept < MINIMUM:
            assert body["data"] == {"schemeDiagnostics": None}
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            continue
        assert max(item["count"] for item in body["data"]["schemeDiagnostics"]) == kept
        checked += kept != everyone
    # Post 1 is the insider's: its holders outside department 2 (the head) are a small cell.
    assert checked


async def test_a_grade_filter_on_a_table_grouped_by_grade_is_a_slice_of_that_table(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Grouped by grade and filtered by a grade, the grade was keyed twice and the by-grade table lost its check
    against the table without grade (review finding 1). Here every result of the large (department, post) cells
    is a B but one A: by grade, the A is a small cell, left out, so the B group is withheld (the cycle's total
    less B would be that one person). Filtered to B, the B group was released, and the cycle less it was the A."""
    cycle = seeded.past_cycle_id
    async with sessionmaker.begin() as session:
        rows = (
            await session.execute(
                select(AppraisalResult.id, AppraisalResult.department_id, AppraisalResult.post_id).where(
                    AppraisalResult.cycle_id == cycle
                )
            )
        ).all()
        cells: dict[tuple[int, int], list[int]] = {}
        for row in rows:
            cells.setdefault((row.department_id, row.post_id), []).append(row.id)
        large = [ids for ids in cells.values() if len(ids) >= MINIMUM]
        roomy = next(ids for ids in large if len(ids) > MINIMUM)  # keeps its B cell large once one is an A
        await session.execute(
            update(AppraisalResult)
            .where(AppraisalResult.id.in_([key for ids in large for key in ids]))
            .values(grade=Grade.B)
        )
        await session.execute(update(AppraisalResult).where(AppraisalResult.id == roomy[0]).values(grade=Grade.A))
    analyst = app_client.as_principal("analyst")
    for group_by in (["GRADE"], ["POST_FAMILY", "GRADE"]):
        whole = await statistics(analyst, cycle, group_by)
        at = group_by.index("GRADE")
        if group_by == ["GRADE"]:  # released groups only (``statistics``): B is withheld
            assert [group["key"] for group in whole if group["key"][at] == "B"] == [], whole
        for grade in ("A", "B", "C"):
            sliced = await statistics(analyst, cycle, group_by, grade=grade)
            assert sliced == [group for group in whole if group["key"][at] == grade], (group_by, grade, sliced)
