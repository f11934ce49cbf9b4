"""A self-service portal against the served hub: who am I, my people, a colleague by number, my results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.served.hub_process import ServedHub
from tests.served.people import find_people

MY_PAGE = """
query($published: ID!) {
  me {
    employeeNo name
    directReports { employeeNo name }
    result(cycleId: $published) {
      totalScore rankInPost postGroupSize indicatorScores { normalizedScore weightedScore }
      change { totalScoreDelta gradeSteps }
    }
  }
}
"""
BY_NUMBER = "query($no: String!) { employeeByNumber(employeeNo: $no) { employeeNo name manager { employeeNo } } }"


def _ask(hub: ServedHub, query: str, variables: dict[str, Any], role: str, number: str | None) -> dict[str, Any]:
    answer = httpx.post(
        hub.url, json={"query": query, "variables": variables}, headers=hub.headers(role, number), timeout=30
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _two_decimals(value: float) -> bool:
    return Decimal(str(value)).as_tuple().exponent >= -2  # type: ignore[operator]


def test_a_manager_and_their_staff_use_the_portal_over_http(served_to_read: ServedHub) -> None:
    """`me` is the caller; a manager's directReports hold their staff, whom employeeByNumber finds; a staff
    member finds nobody else by number and has no reports; scores come rounded to two decimals."""
    people = find_people(served_to_read)
    published = {"published": people.published_cycle}
    manager = _ask(served_to_read, MY_PAGE, published, "manager", people.manager_no)["me"]
    assert manager["employeeNo"] == people.manager_no and manager["name"]
    assert people.staff_no in {report["employeeNo"] for report in manager["directReports"]}
    found = _ask(served_to_read, BY_NUMBER, {"no": people.staff_no}, "manager", people.manager_no)
    assert found["employeeByNumber"] == {
        "employeeNo": people.staff_no,
        "name": next(r["name"] for r in manager["directReports"] if r["employeeNo"] == people.staff_no),
        "manager": {"employeeNo": people.manager_no},
    }
    staff = _ask(served_to_read, MY_PAGE, published, "employee", people.staff_no)["me"]
    assert staff["employeeNo"] == people.staff_no and staff["directReports"] == []
    result = staff["result"]
    assert result is not None and 1 <= result["rankInPost"] <= result["postGroupSize"]
    assert result["change"] is None, "the published cycle is the demo's first"
    scores = [result["totalScore"], *(s[k] for s in result["indicatorScores"] for k in s)]
    assert all(_two_decimals(score) for score in scores if score is not None)
    # Their manager is out of a staff member's reach: by number as by id.
    hidden = _ask(served_to_read, BY_NUMBER, {"no": people.manager_no}, "employee", people.staff_no)
    assert hidden == {"employeeByNumber": None}


def test_me_is_null_for_a_token_without_an_employee(served_to_read: ServedHub) -> None:
    """hr_admin's token binds no employee: `me` is null, and the rest of the answer stands."""
    data = _ask(served_to_read, "{ me { id } employees(first: 1) { totalCount } }", {}, "hr_admin", None)
    assert data == {"me": None, "employees": {"totalCount": 120}}
