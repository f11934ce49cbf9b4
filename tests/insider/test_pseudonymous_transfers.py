"""A pseudonymous analyst linking the rows of someone who changed post (the hostile insider review's finding).

An employee's department and post used to be shown by their *current* (department, post) cell and a result's
post by the cell it was scored in. After a transfer the two disagreed: the only row showing ADMIN_OFFICE /
ADM-01 with every result's post withheld was the Archivist who moved to Admin officer, and the only row with
its grouping withheld but results showing ADM-02 was the Secretary who moved to Archivist. Now a person's
groupings are shown only when every cell of theirs (current, and of every result the analyst can see) is
large, and a filter by group never counts anyone else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, Post
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.insider.test_pseudonymous_analyst import statistics

TRANSFER = """mutation($e: ID!, $post: ID!, $dept: ID!) {
  employeeTransfer(input: {employeeId: $e, effectiveDate: "2026-12-01", postId: $post, departmentId: $dept}) {
    __typename ... on MutationError { code message } } }"""
PEOPLE = """query($f: EmployeeFilter) { employees(first: 500, filter: $f) { totalCount edges { node {
  id department { code } post { code } results { cycle { id } totalScore grade post { code } } } } } }"""
RESULTS = """query($c: ID!, $f: ResultFilter) { results(cycleId: $c, first: 500, filter: $f) {
  totalCount edges { node { id employee { id } post { code } rankInPost rankInDepartment } } } }"""


async def _ids(sessionmaker: async_sessionmaker[AsyncSession], number: str, post: str) -> tuple[str, str, str]:
    """The employee's key and the keys of a post and of its department (hr_admin's ids are the keys)."""
    async with sessionmaker() as session:
        employee = await session.scalar(select(Employee.id).where(Employee.employee_no == number))
        post_id = await session.scalar(select(Post.id).where(Post.code == post))
        department = await session.scalar(select(Post.department_id).where(Post.code == post))
    return str(employee), str(post_id), str(department)


async def _transfer(client: GraphQLClient, employee: str, post: str, department: str) -> None:
    answer = await client.data(TRANSFER, {"e": employee, "post": post, "dept": department})
    assert answer["employeeTransfer"]["__typename"] == "EmployeeChanged", answer


async def _move_the_archivist(
    client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, str, str]:
    """The review's first move: the Archivist (E000073) to Admin officer (ADM-01, in ADMIN_OFFICE). Her key,
    and the keys of the post and the department she moved to."""
    archivist, _, _ = await _ids(sessionmaker, "E000073", "ADM-03")
    _, admin_officer, admin_office = await _ids(sessionmaker, "E000073", "ADM-01")
    await _transfer(client, archivist, admin_officer, admin_office)
    return archivist, admin_officer, admin_office


def _assert_no_row_links_a_withheld_cell_to_a_shown_one(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        shown = {row["department"] is not None, row["post"] is not None}
        shown |= {result["post"] is not None for result in row["results"]}
        assert len(shown) == 1, row  # all of this person's groupings shown, or none


async def _people(analyst: GraphQLClient, filter_: dict[str, str] | None = None) -> dict[str, Any]:
    body = await analyst.execute(PEOPLE, {"f": filter_})
    assert body.get("data") is not None, body
    page: dict[str, Any] = body["data"]["employees"]
    return page


async def _check_everything(
    app_client: GraphQLClient, seeded: SeedSummary, mover: str, posts: list[str], departments: list[str]
) -> None:
    analyst = app_client.as_principal("analyst")
    whole = await _people(analyst)
    rows = [edge["node"] for edge in whole["edges"]]
    assert len(rows) == whole["totalCount"]
    _assert_no_row_links_a_withheld_cell_to_a_shown_one(rows)
    withheld = {row["id"] for row in rows if row["department"] is None}
    for filter_ in [{"postId": post} for post in posts] + [{"departmentId": dept} for dept in departments]:
        body = await analyst.execute(PEOPLE, {"f": filter_})
        if body.get("data") is None:  # a filter that selects fewer than the minimum is refused: nothing to link
            continue
        page = body["data"]["employees"]
        listed = [edge["node"] for edge in page["edges"]]
        _assert_no_row_links_a_withheld_cell_to_a_shown_one(listed)
        # A filtered list counts nobody whose groupings are withheld (its count would else tell them apart).
        assert page["totalCount"] == len(listed)
        assert not {row["id"] for row in listed} & withheld
        assert all(row["department"] is not None for row in listed)
    # Results, by post and unfiltered: no shown post or rank beside the mover's withheld row.
    for cycle in {result["cycle"]["id"] for row in rows for result in row["results"]}:
        body = await analyst.execute(RESULTS, {"c": cycle, "f": None})
        nodes = [edge["node"] for edge in body["data"]["results"]["edges"]]
        for node in nodes:
            if node["employee"]["id"] in withheld:
                assert node["post"] is None and node["rankInPost"] is None and node["rankInDepartment"] is None
        for post in posts:
            body = await analyst.execute(RESULTS, {"c": cycle, "f": {"postId": post}})
            if body.get("data") is None:
                continue
            listed = [edge["node"] for edge in body["data"]["results"]["edges"]]
            assert not {node["employee"]["id"] for node in listed} & withheld
            assert all(node["post"] is not None for node in listed)
            # The figures count the same people as the filtered list: their difference is no one (a figure
            # that still counted the mover's result in a large cell would give her score away).
            codes = {node["post"]["code"] for node in listed}
            figures = await statistics(analyst, int(cycle), ["POST"])
            assert [group["count"] for group in figures if group["key"][-1] in codes] == (
                [len(listed)] if codes else []
            )
    # The mover's own row: HR's view confirms the transfer took (the analyst cannot name it).
    hr = await app_client.data("""query($e: ID!) { employee(id: $e) { post { code } } }""", {"e": mover})
    assert hr["employee"]["post"]["code"] in {"ADM-01", "ADM-03"}


async def test_an_archivist_moved_into_a_large_group_is_not_linked_to_her_withheld_results(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    archivist, admin_officer, admin_office = await _move_the_archivist(app_client, sessionmaker)
    _, archivist_post, _ = await _ids(sessionmaker, "E000073", "ADM-03")

    analyst = app_client.as_principal("analyst")
    page = await _people(analyst, {"postId": admin_officer})
    rows = [edge["node"] for edge in page["edges"]]
    # The review's query: before the fix, exactly one row showed ADM-01 with every result's post withheld.
    assert [row for row in rows if row["results"] and all(r["post"] is None for r in row["results"])] == []
    _assert_no_row_links_a_withheld_cell_to_a_shown_one(rows)
    await _check_everything(app_client, seeded, archivist, [admin_officer, archivist_post], [admin_office])


async def test_a_secretary_moved_out_to_a_small_group_is_not_linked_to_her_shown_results(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # As in the review, after the archivist's move (which leaves three archivists): the Secretary makes four.
    await _move_the_archivist(app_client, sessionmaker)
    secretary, secretary_post, admin_office = await _ids(sessionmaker, "E000013", "ADM-02")
    _, archivist_post, archive_department = await _ids(sessionmaker, "E000013", "ADM-03")
    await _transfer(app_client, secretary, archivist_post, archive_department)

    analyst = app_client.as_principal("analyst")
    rows = [edge["node"] for edge in (await _people(analyst))["edges"]]
    # Before the fix, the only row withheld but with results showing ADM-02 was the Secretary's.
    linked = [
        row
        for row in rows
        if row["post"] is None and any(r["post"] is not None and r["post"]["code"] == "ADM-02" for r in row["results"])
    ]
    assert linked == []
    await _check_everything(app_client, seeded, secretary, [secretary_post, archivist_post], [admin_office])
