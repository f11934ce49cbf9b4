"""Zero 5xx: the big pages, for every role, many times and concurrently, against the served hub.

A 500 here was once 8 runs in 20: a null propagating through a page cancelled sibling field tasks, and
a dataloader future shared with a field still running was cancelled with them. Whatever goes wrong
inside, a client must get a GraphQL JSON answer with the request id, never a `text/plain` 500.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.served.hub_process import ServedHub
from tests.served.people import People, find_people

RUNS_PER_PAGE = 50
CONCURRENCY = 8

TEAM_PAGE = """
query($department: ID!, $cycle: ID!) {
  employees(first: 50, filter: { departmentId: $department }) { edges { node {
    employeeNo name post { code } manager { employeeNo }
    result(cycleId: $cycle) { grade totalScore }
    ratingsReceived(cycleId: $cycle) { role value rater { employeeNo } }
  } } }
}
"""

PORTAL_PAGE = """
query($cycle: ID!) {
  cycles { id name state }
  employees(first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      employeeNo name
      department { name }
      post { name currentScheme { version items { weight indicatorVersion { indicator { name category } } } } }
      results { cycle { name } totalScore grade rankInPost indicatorScores { rawValue normalizedScore } }
      ratingsReceived(cycleId: $cycle) { role value }
      trainingRecords { course completedOn }
      compensationRecords { effectiveDate baseSalary currency }
    } }
  }
}
"""

RESULTS_PAGE = """
query($cycle: ID!) {
  results(cycleId: $cycle, first: 100) { edges { node {
    totalScore grade employee { employeeNo name post { code } }
    indicatorScores { indicatorVersion { indicator { code } } rawValue normalizedScore }
  } } }
  resultEvents(first: 50) { cursor eventId result { grade } }
}
"""

PAGES = {"team": TEAM_PAGE, "portal": PORTAL_PAGE, "results": RESULTS_PAGE}


def variables(page: str, people: People, department: str) -> dict[str, Any]:
    cycle = people.open_cycle if page != "results" else people.published_cycle
    values: dict[str, Any] = {"cycle": cycle}
    if page == "team":
        values["department"] = department
    return values


def principals(hub: ServedHub, people: People) -> dict[str, str]:
    return {
        "employee": hub.token("employee", people.staff_no),
        "manager": hub.token("manager", people.manager_no),
        "hr_admin": hub.token("hr_admin"),
        "analyst": hub.token("analyst"),
        "analyst+names": hub.token("analyst", grants=["names"]),
        "payroll": hub.token("payroll"),
        "training": hub.token("training"),
    }


async def test_big_pages_never_answer_5xx_for_any_role(served: ServedHub) -> None:
    """The team page (the one that failed) RUNS_PER_PAGE times for every role; the portal and results pages
    RUNS_PER_PAGE times each, the roles taking turns; CONCURRENCY requests in flight, all of them mixed."""
    people = find_people(served)
    tokens = principals(served, people)
    roles = list(tokens)
    runs = [("team", role) for role in roles for _ in range(RUNS_PER_PAGE)]
    runs += [(page, roles[run % len(roles)]) for page in ("portal", "results") for run in range(RUNS_PER_PAGE)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(client: httpx.AsyncClient, page: str, role: str) -> tuple[str, httpx.Response]:
        department = people.manager_department if role != "hr_admin" else people.outsider_department
        body = {"query": PAGES[page], "variables": variables(page, people, department)}
        async with gate:
            response = await client.post(served.url, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
        return f"{role} {page}", response

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        responses = await asyncio.gather(*(one(client, page, role) for page, role in runs))

    problems: list[str] = []
    for who, response in responses:
        if response.status_code != 200 or not response.headers["content-type"].startswith("application/"):
            problems.append(f"{who}: {response.status_code} {response.headers['content-type']} {response.text[:200]}")
            continue
        for error in response.json().get("errors", []):
            # A page that does not validate would pass for the wrong reason: each must execute.
            assert "path" in error, error
            # Denials are expected; anything unexpected must still be GraphQL JSON naming the request id.
            if error.get("extensions", {}).get("code") == "INTERNAL_SERVER_ERROR":
                problems.append(f"{who}: unexpected error {error}")
    assert problems == [], "\n".join(problems[:5])
    assert Counter(who.split()[0] for who, _ in responses) == Counter(role for _page, role in runs)
