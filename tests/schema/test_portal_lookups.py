"""The portal's lookups: `me`, `employeeByNumber` and `Employee.directReports`, role by role, and their cost."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee
from hub.domain import EmployeeStatus
from tests.conftest import GraphQLClient
from tests.insider.org_chart import read_chart
from tests.schema.conftest import Org

ME = "{ me { id employeeNo name } }"
BY_NUMBER = "query($no: String!) { employeeByNumber(employeeNo: $no) { id employeeNo } }"
REPORTS = "query($id: ID!) { employee(id: $id) { id directReports { id } } }"
PAGE_OF_REPORTS = "query($first: Int!) { employees(first: $first) { edges { node { id directReports { id } } } } }"
EVERY_REPORT = """
query($first: Int!) { employees(first: $first) { edges { node { id directReports(includeLeavers: true) { id } } } } }
"""
TEAM = "query($id: ID!, $all: Boolean!) { employee(id: $id) { directReports(includeLeavers: $all) { id status } } }"


async def test_me_is_the_employee_the_token_binds(app_client: GraphQLClient, org: Org) -> None:
    """An employee's and a manager's `me` is their own row, with their name and number."""
    staff = await app_client.as_principal("employee", org.staff_no).data(ME)
    assert staff["me"]["id"] == str(org.staff_id) and staff["me"]["employeeNo"] == org.staff_no
    assert staff["me"]["name"]
    manager = await app_client.as_principal("manager", org.manager_no).data(ME)
    assert manager["me"]["id"] == str(org.manager_id)


async def test_me_is_null_without_an_error_for_a_token_that_binds_nobody(app_client: GraphQLClient) -> None:
    """hr_admin and analyst tokens name no employee: `me` is null, not an error; so is an unknown number."""
    for client in (
        app_client,
        app_client.as_principal("analyst"),
        app_client.as_principal("employee", "NO-SUCH-NUMBER"),
    ):
        body = await client.execute(ME)
        assert body == {"data": {"me": None}}


async def test_employee_by_number_finds_whom_employee_by_id_finds(app_client: GraphQLClient, org: Org) -> None:
    """hr_admin finds anyone; a manager their people; both as `employee(id)` answers."""
    everyone = await app_client.data(BY_NUMBER, {"no": org.staff_no})
    assert everyone["employeeByNumber"] == {"id": str(org.staff_id), "employeeNo": org.staff_no}
    manager = app_client.as_principal("manager", org.manager_no)
    mine = await manager.data(BY_NUMBER, {"no": org.staff_no})
    assert mine["employeeByNumber"]["id"] == str(org.staff_id)
    unknown = await app_client.data(BY_NUMBER, {"no": "NO-SUCH-NUMBER"})
    assert unknown == {"employeeByNumber": None}


async def test_employee_by_number_is_refused_to_an_analyst_without_the_names_grant(
    app_client: GraphQLClient, org: Org
) -> None:
    """A number is a name's twin: a pseudonymous analyst would tie it to a pseudonym. With the grant it answers."""
    body = await app_client.as_principal("analyst").execute(BY_NUMBER, {"no": org.staff_no})
    assert body["data"] == {"employeeByNumber": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    granted = await app_client.as_principal("analyst", grants=["names"]).data(BY_NUMBER, {"no": org.staff_no})
    assert granted["employeeByNumber"]["id"] == str(org.staff_id)


async def test_an_overlong_employee_number_is_bad_input(app_client: GraphQLClient) -> None:
    """Longer than the column (64) could never match: refused before any SQL, naming the argument."""
    app_client.sql.reset()
    body = await app_client.execute(BY_NUMBER, {"no": "7" * 65})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "employeeNo" in body["errors"][0]["message"]
    assert app_client.sql.count == 0


async def test_direct_reports_are_exactly_the_people_who_report_to_the_employee(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """For hr_admin, every manager's directReports(includeLeavers: true) are the employees whose manager they
    are, in id order."""
    chart = await read_chart(sessionmaker)
    data = await app_client.data(EVERY_REPORT, {"first": 500})
    found = {
        int(edge["node"]["id"]): [int(r["id"]) for r in edge["node"]["directReports"]]
        for edge in data["employees"]["edges"]
    }
    assert found == {employee: chart.reports(employee) for employee in chart.manager_of}
    assert sum(1 for reports in found.values() if reports) > 5


async def test_direct_reports_leave_out_leavers_unless_asked(
    app_client: GraphQLClient, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A report who has left (INACTIVE) is not in the manager's team, for the manager and for HR, unless
    includeLeavers asks for them."""
    variables = {"id": str(org.manager_id), "all": False}
    before = [int(r["id"]) for r in (await app_client.data(TEAM, variables))["employee"]["directReports"]]
    assert len(before) >= 2
    leaver = before[0]
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Employee).where(Employee.id == leaver).values(status=EmployeeStatus.INACTIVE))

    manager = app_client.as_principal("manager", org.manager_no)
    for client in (app_client, manager):
        active = (await client.data(TEAM, variables))["employee"]["directReports"]
        assert [int(r["id"]) for r in active] == before[1:]
        every = (await client.data(TEAM, {**variables, "all": True}))["employee"]["directReports"]
        assert [int(r["id"]) for r in every] == before
        assert [r["status"] for r in every if int(r["id"]) == leaver] == ["INACTIVE"]


async def test_a_manager_sees_their_reports_and_an_employee_token_none(app_client: GraphQLClient, org: Org) -> None:
    """A manager's own directReports are theirs; the same person with an employee token reaches only
    themselves, so their reports are left out (an empty list, not an error)."""
    manager = await app_client.as_principal("manager", org.manager_no).data(REPORTS, {"id": str(org.manager_id)})
    assert {int(r["id"]) for r in manager["employee"]["directReports"]} <= org.team
    assert manager["employee"]["directReports"]
    as_employee = await app_client.as_principal("employee", org.manager_no).data(REPORTS, {"id": str(org.manager_id)})
    assert as_employee == {"employee": {"id": str(org.manager_id), "directReports": []}}


async def test_direct_reports_are_refused_to_an_analyst_without_the_names_grant(app_client: GraphQLClient) -> None:
    """The org chart's links identify people: null with FORBIDDEN on the field, the employee row intact."""
    body = await app_client.as_principal("analyst").execute(PAGE_OF_REPORTS, {"first": 3})
    nodes = [edge["node"] for edge in body["data"]["employees"]["edges"]]
    assert len(nodes) == 3 and all(node["id"] and node["directReports"] is None for node in nodes)
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
    assert len(body["errors"]) == 3


async def test_direct_reports_of_a_page_cost_one_statement(app_client: GraphQLClient) -> None:
    """One statement for the page's reports: the same count for 10 employees as for 100, one more than without."""
    counts = []
    for query in (PAGE_OF_REPORTS, PAGE_OF_REPORTS.replace("directReports { id }", "")):
        for first in (10, 100):
            app_client.sql.reset()
            await app_client.data(query, {"first": first})
            counts.append(app_client.sql.count)
    with_reports_10, with_reports_100, without_10, without_100 = counts
    assert with_reports_10 == with_reports_100
    assert without_10 == without_100
    assert with_reports_100 == without_100 + 1


async def test_a_managers_page_of_reports_costs_one_statement_too(app_client: GraphQLClient, org: Org) -> None:
    """Scoped (the reporting line is a recursive CTE inside the statement): still one statement for the page."""
    manager = app_client.as_principal("manager", org.manager_no)
    counts = []
    for query in (PAGE_OF_REPORTS, PAGE_OF_REPORTS.replace("directReports { id }", "")):
        app_client.sql.reset()
        data = await manager.data(query, {"first": 100})
        counts.append(app_client.sql.count)
        assert {int(edge["node"]["id"]) for edge in data["employees"]["edges"]} == org.team
    assert counts[0] == counts[1] + 1


@pytest.mark.parametrize(
    ("role", "grants", "allowed"),
    [
        ("hr_admin", (), True),
        ("payroll", (), True),
        ("training", (), True),
        ("analyst", ("names",), True),
        ("analyst", (), False),
    ],
)
async def test_direct_reports_follow_the_org_chart_rule_role_by_role(
    role: str,
    grants: tuple[str, ...],
    allowed: bool,
    app_client: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    org: Org,
) -> None:
    """Whoever may read `manager` may read `directReports` (ORG_CHART); the others get null with FORBIDDEN."""
    chart = await read_chart(sessionmaker)
    client = app_client.as_principal(role, grants=grants)
    manager_id = str(org.manager_id)
    if not allowed:
        # A pseudonymous analyst passes pseudonyms back: the first page's ids are theirs.
        page = await client.data(PAGE_OF_REPORTS.replace("directReports { id }", ""), {"first": 1})
        manager_id = page["employees"]["edges"][0]["node"]["id"]
    body = await client.execute(REPORTS, {"id": manager_id})
    if allowed:
        assert "errors" not in body, body
        assert [int(r["id"]) for r in body["data"]["employee"]["directReports"]] == chart.reports(org.manager_id)
    else:
        assert body["data"] == {"employee": {"id": manager_id, "directReports": None}}
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
