"""Organisation master data through GraphQL: typed errors, the audit, the history, and hr_admin alone."""

from __future__ import annotations

from typing import Any

import pytest

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

DEPARTMENT = """
mutation($input: DepartmentCreateInput!) {
  departmentCreate(input: $input) {
    __typename ... on DepartmentChanged { department { id code parent { code } } }
    ... on MutationError { code field message }
  }
}
"""

MOVE = """
mutation($input: DepartmentUpdateInput!) {
  departmentUpdate(input: $input) {
    __typename ... on DepartmentChanged { department { id parent { code } } } ... on MutationError { code field }
  }
}
"""

POST = """
mutation($input: PostCreateInput!) {
  postCreate(input: $input) { __typename ... on PostChanged { post { id code family } } ... on MutationError { code } }
}
"""

EMPLOYEE_FIELDS = """
  employee { id employeeNo email status leftOn post { code }
    postAssignments { post { code } startDate endDate } results { cycle { id } post { code } } }
"""

HIRE = (
    """
mutation($input: EmployeeCreateInput!) {
  employeeCreate(input: $input) { __typename ... on EmployeeChanged {"""
    + EMPLOYEE_FIELDS
    + """} ... on MutationError { code field } }
}
"""
)

TRANSFER = (
    """
mutation($input: EmployeeTransferInput!) {
  employeeTransfer(input: $input) { __typename ... on EmployeeChanged {"""
    + EMPLOYEE_FIELDS
    + """} ... on MutationError { code field } }
}
"""
)

DEACTIVATE = (
    """
mutation($input: EmployeeDeactivateInput!) {
  employeeDeactivate(input: $input) { __typename ... on EmployeeChanged {"""
    + EMPLOYEE_FIELDS
    + """} ... on MutationError { code field } }
}
"""
)

IMPORT = """
mutation($csv: String!, $dryRun: Boolean) {
  organisationImport(csv: $csv, dryRun: $dryRun) {
    __typename
    ... on OrganisationImported { departments { created } posts { created } employees { created updated unchanged }
      dryRun }
    ... on ImportRejectedError { code problems { line message } }
  }
}
"""

AUDIT = "query($op: String!) { auditLog(first: 3, operation: $op) { edges { node { outcome ids } } } }"

EMPLOYEES = "{ employees(first: 100) { edges { node { id employeeNo results { cycle { id } } } } } }"

ORG_FILE = """\
employee_no,name,email,hired_on,department_code,department_name,post_code,post_name,post_family
IT-1,Grace,grace@example.com,2024-01-08,IT,Information technology,IT-AGENT,Support agent,IT support
IT-2,Linus,linus@example.com,2025-03-01,IT,Information technology,IT-AGENT,Support agent,IT support
"""


async def answer(client: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    data = await client.data(query, variables)
    (value,) = data.values()
    return value


async def audited(client: GraphQLClient, operation: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await client.data(AUDIT, {"op": operation}))["auditLog"]["edges"]]


async def test_the_tree_refuses_a_loop_and_every_call_is_audited(app_client: GraphQLClient) -> None:
    top = await answer(app_client, DEPARTMENT, {"input": {"code": "IT", "name": "IT"}})
    top_id = top["department"]["id"]
    below = await answer(
        app_client, DEPARTMENT, {"input": {"code": "IT-SD", "name": "Service desk", "parentId": top_id}}
    )
    assert below["department"]["parent"] == {"code": "IT"}

    loop = await answer(app_client, MOVE, {"input": {"departmentId": top_id, "parentId": below["department"]["id"]}})
    assert loop == {"__typename": "InvalidInputError", "code": "CIRCULAR_REFERENCE", "field": "parentId"}
    taken = await answer(app_client, DEPARTMENT, {"input": {"code": "IT", "name": "Again"}})
    assert (taken["__typename"], taken["code"], taken["field"]) == ("InvalidInputError", "DUPLICATE_CODE", "code")
    unknown = await answer(app_client, MOVE, {"input": {"departmentId": "999999", "toRoot": True}})
    assert unknown == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "departmentId"}

    assert (await audited(app_client, "departmentCreate"))[:2] == [
        {"outcome": "DUPLICATE_CODE", "ids": []},
        # The ids it was asked about, and the one it made.
        {"outcome": "ok", "ids": [f"department:{below['department']['id']}", f"parent:{top_id}"]},
    ]
    assert [entry["outcome"] for entry in await audited(app_client, "departmentUpdate")] == [
        "NOT_FOUND",
        "CIRCULAR_REFERENCE",
    ]


async def test_hire_transfer_and_leave_keep_the_history_and_the_results(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    department = (await answer(app_client, DEPARTMENT, {"input": {"code": "IT", "name": "IT"}}))["department"]
    posts = [
        (
            await answer(
                app_client,
                POST,
                {"input": {"code": code, "name": code, "family": "IT", "departmentId": department["id"]}},
            )
        )["post"]
        for code in ("IT-1", "IT-2")
    ]
    hire = {
        "employeeNo": "N-1",
        "name": "Ada",
        "email": "ada@example.com",
        "hiredOn": "2026-01-05",
        "postId": posts[0]["id"],
    }
    hired = (await answer(app_client, HIRE, {"input": hire}))["employee"]
    assert (hired["status"], hired["email"], hired["post"]) == ("ACTIVE", "ada@example.com", {"code": "IT-1"})
    again = await answer(app_client, HIRE, {"input": {**hire, "employeeNo": "N-2", "email": "ADA@example.com"}})
    assert (again["code"], again["field"]) == ("DUPLICATE_CODE", "email")

    early = {"employeeId": hired["id"], "effectiveDate": "2025-12-31", "postId": posts[1]["id"]}
    refused = await answer(app_client, TRANSFER, {"input": early})
    assert refused == {"__typename": "InvalidInputError", "code": "INVALID_INPUT", "field": "effectiveDate"}
    moved = await answer(app_client, TRANSFER, {"input": {**early, "effectiveDate": "2026-06-01"}})
    assert moved["employee"]["postAssignments"] == [
        {"post": {"code": "IT-2"}, "startDate": "2026-06-01", "endDate": None},
        {"post": {"code": "IT-1"}, "startDate": "2026-01-05", "endDate": "2026-05-31"},
    ]

    # A demo employee with a published result leaves: the result stays, in the post it was scored in.
    node = next(
        edge["node"] for edge in (await app_client.data(EMPLOYEES))["employees"]["edges"] if edge["node"]["results"]
    )
    left = await answer(app_client, DEACTIVATE, {"input": {"employeeId": node["id"], "leftOn": "2026-11-30"}})
    employee = left["employee"]
    assert (employee["status"], employee["leftOn"]) == ("INACTIVE", "2026-11-30")
    assert employee["postAssignments"][0]["endDate"] == "2026-11-30"
    assert [result["cycle"] for result in employee["results"]] == [result["cycle"] for result in node["results"]]
    assert all(result["post"] is not None for result in employee["results"])
    twice = await answer(app_client, DEACTIVATE, {"input": {"employeeId": node["id"], "leftOn": "2026-11-30"}})
    assert (twice["code"], twice["field"]) == ("INVALID_INPUT", "employeeId")


async def test_organisation_import_counts_then_finds_everything_unchanged(app_client: GraphQLClient) -> None:
    dry = await answer(app_client, IMPORT, {"csv": ORG_FILE, "dryRun": True})
    assert (dry["dryRun"], dry["employees"]) == (True, {"created": 2, "updated": 0, "unchanged": 0})
    first = await answer(app_client, IMPORT, {"csv": ORG_FILE})
    assert (first["departments"], first["posts"], first["employees"]) == (
        {"created": 1},
        {"created": 1},
        {"created": 2, "updated": 0, "unchanged": 0},
    )
    again = await answer(app_client, IMPORT, {"csv": ORG_FILE})
    assert again["employees"] == {"created": 0, "updated": 0, "unchanged": 2}

    bad = ORG_FILE + "IT-3,Ken,linus@example.com,2025-13-01,IT,,NOPE,,\n"
    rejected = await answer(app_client, IMPORT, {"csv": bad})
    assert rejected["__typename"] == "ImportRejectedError" and rejected["code"] == "IMPORT_REJECTED"
    assert [problem["line"] for problem in rejected["problems"]] == [4]
    assert [entry["outcome"] for entry in await audited(app_client, "organisationImport")] == [
        "IMPORT_REJECTED",
        "ok",
        "ok",
    ]


@pytest.mark.parametrize(
    ("role", "number", "grants"),
    [("employee", "E000012", ()), ("manager", "E000002", ()), ("analyst", None, ("names",))],
)
async def test_only_hr_admin_changes_the_organisation(
    app_client: GraphQLClient, role: str, number: str | None, grants: tuple[str, ...]
) -> None:
    caller = app_client.as_principal(role, number, grants)
    for query, variables in (
        (DEPARTMENT, {"input": {"code": "IT", "name": "IT"}}),
        (IMPORT, {"csv": ORG_FILE}),
        (DEACTIVATE, {"input": {"employeeId": "1", "leftOn": "2026-11-30"}}),
    ):
        body = await caller.execute(query, variables)
        assert list(body["data"].values()) == [None]
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    departments = await app_client.data("{ departments { code } }")
    assert "IT" not in {department["code"] for department in departments["departments"]}


async def test_an_analyst_without_names_sees_no_email_or_history(app_client: GraphQLClient) -> None:
    analyst = app_client.as_principal("analyst")
    body = await analyst.execute(
        "{ employees(first: 1) { edges { node { email status postAssignments { startDate } } } } }"
    )
    assert body["data"]["employees"]["edges"][0]["node"] == {"email": None, "status": None, "postAssignments": None}
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
