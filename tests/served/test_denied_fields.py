"""Denied means null, and only that field: the README's portal query, as each role sends it to the served hub.

Each role is denied some fields (names to an analyst without the grant, compensation to all but HR and
payroll, ratings of an open cycle to the ratee, ...). Each denial must be a FORBIDDEN error whose path
ends at a null field inside a present parent; every other field of the page is there.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.served.hub_process import ServedHub
from tests.served.people import People, find_people

PORTAL = """
query($open: ID!, $published: ID!) {
  cycles { id name state }
  scoreStatistics(cycleId: $published, groupBy: [DEPARTMENT]) { count }
  schemeDiagnostics(cycleId: $published, postId: "1") { flags }
  auditLog(first: 1) { totalCount }
  employees(first: 5) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id employeeNo name
      department { name }
      post { name currentScheme { version items { weight indicatorVersion { indicator { name category } } } } }
      results { cycle { name } totalScore grade rankInPost indicatorScores { rawValue normalizedScore } }
      ratingsReceived(cycleId: $open) { role value }
      trainingRecords { course }
      compensationRecords { currency }
    } }
  }
}
"""
ROOT_FIELDS = ("cycles", "scoreStatistics", "schemeDiagnostics", "auditLog", "employees")
EMPLOYEE_FIELDS = (
    "employeeNo",
    "name",
    "department",
    "post",
    "results",
    "ratingsReceived",
    "trainingRecords",
    "compensationRecords",
)

# What each role is denied on this page (field names), from the rules printed in schema.graphql.
DENIED: dict[str, set[str]] = {
    "hr_admin": set(),
    "analyst": {"employeeNo", "name", "ratingsReceived", "trainingRecords", "compensationRecords", "auditLog"},
    "analyst+names": {"ratingsReceived", "trainingRecords", "compensationRecords", "auditLog"},
    "payroll": {"ratingsReceived", "trainingRecords", "scoreStatistics", "schemeDiagnostics", "auditLog"},
    "training": {"ratingsReceived", "compensationRecords", "scoreStatistics", "schemeDiagnostics", "auditLog"},
    # Their own ratings of an OPEN cycle are not theirs to read yet.
    "employee": {"ratingsReceived", "compensationRecords", "scoreStatistics", "schemeDiagnostics", "auditLog"},
    "manager": {"ratingsReceived", "compensationRecords", "schemeDiagnostics", "auditLog"},
}
# And on the rows of people whom few share a department and post with: their department and post, and
# their results' indicator scores, which name the post's scheme (an analyst without the names grant;
# tests/insider/test_pseudonymous_analyst.py counts them).
DENIED_ON_SOME_ROWS: dict[str, set[str]] = {"analyst": {"department", "post", "indicatorScores"}}


def token_for(hub: ServedHub, people: People, role: str) -> str:
    if role == "employee":
        return hub.token("employee", people.staff_no)
    if role == "manager":
        return hub.token("manager", people.manager_no)
    if role == "analyst+names":
        return hub.token("analyst", grants=["names"])
    return hub.token(role)


def at(data: Any, path: list[str | int]) -> Any:
    for step in path:
        data = data[step]
    return data


@pytest.mark.parametrize("role", sorted(DENIED))
def test_a_denied_field_is_null_and_everything_else_stands(served_to_read: ServedHub, role: str) -> None:
    served = served_to_read
    people = find_people(served)
    answer = httpx.post(
        served.url,
        json={"query": PORTAL, "variables": {"open": people.open_cycle, "published": people.published_cycle}},
        headers={"Authorization": f"Bearer {token_for(served, people, role)}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    data = body["data"]
    errors = body.get("errors", [])
    assert all(error["extensions"]["code"] == "FORBIDDEN" for error in errors), errors
    denied_paths = {tuple(error["path"]) for error in errors}
    for path in denied_paths:
        assert at(data, list(path)) is None
        assert isinstance(at(data, list(path[:-1])), dict), f"the parent of {path} is gone"
    assert DENIED[role] <= {path[-1] for path in denied_paths} <= DENIED[role] | DENIED_ON_SOME_ROWS.get(role, set())
    # Everything not denied is there: the root fields, and every field of every employee on the page.
    for field in ROOT_FIELDS:
        assert (field,) in denied_paths or data[field] is not None, field
    nodes = [edge["node"] for edge in data["employees"]["edges"]]
    assert nodes, "the page lists someone for every role"
    for index, node in enumerate(nodes):
        for field in EMPLOYEE_FIELDS:
            path = ("employees", "edges", index, "node", field)
            assert (path in denied_paths) == (node[field] is None), (path, node[field])
