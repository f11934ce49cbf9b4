"""The analytics fields name their cycles: a malformed id is BAD_USER_INPUT, an id that names no cycle NOT_FOUND
(naming the argument), and a cycle that exists but has no results in the caller's scope an answer, not an error."""

from __future__ import annotations

from typing import Any

import pytest

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

UNKNOWN, MALFORMED = "987654", "12x"

# (field, query, variables with the cycle id placed by ``place``, the argument an error names)
FIELDS: list[tuple[str, str, str]] = [
    ("scoreStatistics", "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [POST]) { key count } }", "cycleId"),
    ("scoreStatistics", "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: []) { key count } }", "cycleId"),
    (
        "indicatorStatistics",
        "query($c: ID!) { indicatorStatistics(cycleId: $c, groupBy: [POST]) { key withheld } }",
        "cycleId",
    ),
    ("highPerformerProfile", "query($c: ID!) { highPerformerProfile(cycleId: $c) { minimumGroupSize } }", "cycleId"),
    ("attritionSignals", "query($c: ID!) { attritionSignals(cycleId: $c) { people { flags { rule } } } }", "cycleId"),
    ("postComparison", "query($c: ID!) { postComparison(cycleId: $c) { posts { count } } }", "cycleId"),
    (
        "groupTrainingNeeds",
        "query($c: ID!) { groupTrainingNeeds(cycleId: $c, groupBy: POST) { key count withheld } }",
        "cycleId",
    ),
    ("scoreTrends", "query($c: ID!) { scoreTrends(cycleIds: [$c]) { key } }", "cycleIds"),
    ("cycleComparison", "query($c: ID!, $o: ID!) { cycleComparison(a: $o, b: $c) { groups { key } } }", "b"),
    ("cycleComparison", "query($c: ID!, $o: ID!) { cycleComparison(a: $c, b: $o) { groups { key } } }", "a"),
]
PRINCIPALS = [("hr_admin", ()), ("analyst", ()), ("analyst", ("names",))]


def _variables(seeded: SeedSummary, cycle: str) -> dict[str, str]:
    return {"c": cycle, "o": str(seeded.past_cycle_id)}


def _client(app_client: GraphQLClient, field: str, role: str, grants: tuple[str, ...]) -> GraphQLClient:
    # attritionSignals is never an analyst's (without the names grant, not at all): hr_admin asks it.
    if field == "attritionSignals" and role == "analyst":
        return app_client
    return app_client.as_principal(role, grants=grants) if role != "hr_admin" else app_client


@pytest.mark.parametrize(("field", "query", "argument"), FIELDS)
async def test_an_unknown_cycle_is_not_found_a_malformed_one_bad_input_and_one_without_results_answers(
    app_client: GraphQLClient, seeded: SeedSummary, field: str, query: str, argument: str
) -> None:
    """For hr_admin and analysts with and without the names grant (their answers take other paths). The demo's
    current cycle is open and not scored: it exists, so its answer is an empty one, not an error."""
    for role, grants in PRINCIPALS:
        client = _client(app_client, field, role, grants)
        for cycle, code in ((UNKNOWN, "NOT_FOUND"), (MALFORMED, "BAD_USER_INPUT")):
            body = await client.execute(query, _variables(seeded, cycle))
            assert body["data"] == {field: None}, (role, cycle, body)
            errors: list[dict[str, Any]] = body["errors"]
            assert [(error["extensions"]["code"], error["extensions"]["argument"]) for error in errors] == [
                (code, argument)
            ], (role, errors)
            assert cycle in errors[0]["message"]
        body = await client.execute(query, _variables(seeded, str(seeded.current_cycle_id)))
        assert "errors" not in body and body["data"][field] is not None, (role, body)
