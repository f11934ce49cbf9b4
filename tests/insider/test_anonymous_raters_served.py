"""Over the network: the department's head reads the ratings of everyone below them from the served demo.

The demo assigns three peers and up to three direct reports as raters, so people with one or two
reports are the insider's case: their SUBORDINATE ratings must not be listed, only counted, while roles
with three raters are listed without rater and without time.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

# The served fixtures live in tests/served/conftest.py; this package reaches them by name.
served_to_read = served_fixtures.served_to_read

ORG = "{ cycles { id state } employees(first: 200) { edges { node { id employeeNo manager { id } } } } }"
RATINGS = """
query($c: ID!) {
  employees(first: 200) { edges { node {
    id
    ratingsReceived(cycleId: $c) { role submittedAt rater { id } }
    ratingsWithheld(cycleId: $c) { role raters minimumRaters }
  } } }
}
"""
MINIMUM = 3  # PERFHUB_MIN_ANONYMOUS_RATERS's default; the served hub runs with it


def post(hub: ServedHub, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    response = httpx.post(hub.url, json={"query": query, "variables": variables}, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def test_subordinate_ratings_are_listed_only_from_three_raters(served_to_read: ServedHub) -> None:
    hub = served_to_read
    org = post(hub, ORG, hub.headers("hr_admin"))
    nodes = [edge["node"] for edge in org["employees"]["edges"]]
    reports: dict[str, int] = {node["id"]: 0 for node in nodes}
    for node in nodes:
        if node["manager"] is not None:
            reports[node["manager"]["id"]] += 1
    root = next(node for node in nodes if node["manager"] is None)
    published = next(c["id"] for c in org["cycles"] if c["state"] == "PUBLISHED")

    seen = post(hub, RATINGS, hub.headers("manager", root["employeeNo"]), c=published)
    people = {edge["node"]["id"]: edge["node"] for edge in seen["employees"]["edges"]}
    assert set(people) == set(reports)  # the head of the department sees everyone
    listed = withheld = 0
    for person, count in reports.items():
        if count == 0:
            continue  # nobody to rate them upwards
        node = people[person]
        subordinate = [r for r in node["ratingsReceived"] if r["role"] == "SUBORDINATE"]
        held = [w for w in node["ratingsWithheld"] if w["role"] == "SUBORDINATE"]
        raters = min(3, count)  # the demo's assignment: up to three direct reports, all of whom rated
        if raters >= MINIMUM:
            assert subordinate and not held, node
            assert all(r["rater"] is None and r["submittedAt"] is None for r in subordinate)
            listed += 1
        else:
            assert not subordinate, node
            assert held == [{"role": "SUBORDINATE", "raters": raters, "minimumRaters": MINIMUM}]
            withheld += 1
    # Both cases occur in the demo, so neither branch is vacuous.
    assert listed and withheld
