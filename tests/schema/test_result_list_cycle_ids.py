"""The fields over a cycle's results name their cycle as the analytics fields do (``resolvers.cycle_ids``): a
malformed id is BAD_USER_INPUT, an id that names no cycle NOT_FOUND (naming the argument), and a cycle that exists
but has no results in the caller's scope an empty answer. ``schemeDiagnostics`` does the same for its post."""

from __future__ import annotations

from typing import Any

import pytest

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

UNKNOWN, MALFORMED = "987654", "12x"
NEEDS = "query($c: ID!, $nos: [String!]) { trainingNeeds(cycleId: $c, employeeNos: $nos) { employee { employeeNo } } }"
GUIDANCE = "query($c: ID!) { compensationGuidance(cycleId: $c) { employee { employeeNo } } }"
DIAGNOSTICS = "query($c: ID!, $p: ID!) { schemeDiagnostics(cycleId: $c, postId: $p) { count } }"
RESULTS = "query($c: ID!) { results(cycleId: $c) { totalCount edges { node { id } } } }"
SORTED = "query($c: ID!) { results(cycleId: $c, orderBy: {by: TOTAL_SCORE}) { totalCount edges { node { id } } } }"

# (field, query, what the field answers for a cycle without results, null when its data is null on an error)
FIELDS: list[tuple[str, str, Any, bool]] = [
    ("trainingNeeds", NEEDS, [], True),
    ("compensationGuidance", GUIDANCE, [], True),
    ("schemeDiagnostics", DIAGNOSTICS, [], True),
    ("results", RESULTS, {"totalCount": 0, "edges": []}, False),
    ("results", SORTED, {"totalCount": 0, "edges": []}, False),
]


async def _a_post(client: GraphQLClient, seeded: SeedSummary) -> str:
    page = await client.data(
        "query($c: ID!) { results(cycleId: $c, first: 1) { edges { node { post { id } } } } }",
        {"c": str(seeded.past_cycle_id)},
    )
    return str(page["results"]["edges"][0]["node"]["post"]["id"])


@pytest.mark.parametrize(("field", "query", "empty", "nullable"), FIELDS)
async def test_an_unknown_cycle_is_not_found_a_malformed_one_bad_input_and_one_without_results_answers(
    app_client: GraphQLClient, seeded: SeedSummary, field: str, query: str, empty: Any, nullable: bool
) -> None:
    post = await _a_post(app_client, seeded)
    for cycle, code in ((UNKNOWN, "NOT_FOUND"), (MALFORMED, "BAD_USER_INPUT")):
        body = await app_client.execute(query, {"c": cycle, "p": post})
        # results is not nullable: its error nulls the whole answer's data.
        assert body["data"] == ({field: None} if nullable else None), (cycle, body)
        errors: list[dict[str, Any]] = body["errors"]
        assert [(error["extensions"]["code"], error["extensions"]["argument"]) for error in errors] == [
            (code, "cycleId")
        ], errors
        assert cycle in errors[0]["message"]
    # The demo's current cycle is open and not scored: it exists, so its answer is an empty one.
    body = await app_client.execute(query, {"c": str(seeded.current_cycle_id), "p": post})
    assert body == {"data": {field: empty}}, body


async def test_scheme_diagnostics_name_an_unknown_or_malformed_post(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    for post, code in ((UNKNOWN, "NOT_FOUND"), ("nope", "BAD_USER_INPUT")):
        body = await app_client.execute(DIAGNOSTICS, {"c": str(seeded.past_cycle_id), "p": post})
        assert body["data"] == {"schemeDiagnostics": None}, body
        errors: list[dict[str, Any]] = body["errors"]
        assert [(error["extensions"]["code"], error["extensions"]["argument"]) for error in errors] == [
            (code, "postId")
        ], errors
        assert post in errors[0]["message"]


async def test_an_unknown_employee_number_is_left_out_of_training_needs_without_an_error(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """employeeNos is a filter (documented in the field's description): a number that matches nothing is left out,
    as one outside the caller's scope is, so that no error tells which employees exist."""
    cycle = str(seeded.past_cycle_id)
    needy = (await app_client.data(NEEDS, {"c": cycle, "nos": None}))["trainingNeeds"]
    number = needy[0]["employee"]["employeeNo"]
    body = await app_client.execute(NEEDS, {"c": cycle, "nos": [number, "E999999"]})
    assert body == {"data": {"trainingNeeds": [{"employee": {"employeeNo": number}}]}}, body
    body = await app_client.execute(NEEDS, {"c": cycle, "nos": ["E999999"]})
    assert body == {"data": {"trainingNeeds": []}}, body
