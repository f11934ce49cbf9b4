"""A fresh cycle driven from DRAFT to PUBLISHED through GraphQL mutations alone, checked against hand arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

SAVED_VERSION = """
mutation($input: IndicatorCreateInput!) {
  indicatorCreate(input: $input) {
    __typename
    ... on IndicatorVersionSaved { indicatorVersion { id version } }
    ... on MutationError { code message field }
  }
}
"""

TRANSITION = """
mutation($id: ID!) {
  %s(cycleId: $id) { __typename ... on CycleChanged { cycle { state } } ... on MutationError { code message } }
}
"""

RATE = """
mutation($input: RatingSubmitInput!) {
  ratingSubmit(input: $input) {
    __typename ... on RatingSubmitted { rating { role value } } ... on MutationError { code message }
  }
}
"""


async def ok(client: GraphQLClient, query: str, variables: dict[str, Any], field: str, typename: str) -> Any:
    payload = (await client.data(query, variables))[field]
    assert payload["__typename"] == typename, payload
    return payload


async def setup_post(client: GraphQLClient) -> tuple[str, dict[str, str], str, str]:
    """Creates two measured indicators and publishes a scheme for a security post; returns ids."""
    error_rate = await ok(
        client,
        SAVED_VERSION,
        {
            "input": {
                "code": "E2E_ERROR_RATE",
                "name": "Logbook error rate",
                "category": "EXTENSION",
                "direction": "LOWER_IS_BETTER",
                "unit": "%",
                "rule": {"kind": "linear", "floor": 5, "target": 1},
                "sourceSystem": "security",
                "sourceMetric": "logbook_error_rate",
                "effectiveFrom": "2027-01-01",
            }
        },
        "indicatorCreate",
        "IndicatorVersionSaved",
    )
    patrol = await ok(
        client,
        SAVED_VERSION,
        {
            "input": {
                "code": "E2E_PATROL",
                "name": "Patrol rounds completed",
                "category": "EXTENSION",
                "direction": "HIGHER_IS_BETTER",
                "unit": "%",
                "rule": {"kind": "lookup", "points": [[80, 0], [90, 50], [100, 100]]},
                "sourceSystem": "security",
                "sourceMetric": "patrol_rounds",
                "effectiveFrom": "2027-01-01",
            }
        },
        "indicatorCreate",
        "IndicatorVersionSaved",
    )
    core = (await client.data("{ indicators(category: CORE) { code currentVersion { id } } }"))["indicators"]
    core_ids = {indicator["code"]: indicator["currentVersion"]["id"] for indicator in core}
    posts = (await client.data("{ posts { id family } }"))["posts"]
    post_id = next(post["id"] for post in posts if post["family"] == "SECURITY")
    items = [{"indicatorVersionId": version_id, "weight": 10} for version_id in core_ids.values()]
    items += [
        {"indicatorVersionId": error_rate["indicatorVersion"]["id"], "weight": 40},
        {"indicatorVersionId": patrol["indicatorVersion"]["id"], "weight": 30},
    ]
    published = await ok(
        client,
        """mutation($input: SchemeVersionPublishInput!) { schemeVersionPublish(input: $input) {
             __typename ... on SchemeVersionPublished { schemeVersion { id version } }
             ... on MutationError { code } } }""",
        {
            "input": {
                "postId": post_id,
                "effectiveFrom": "2027-01-01",
                "changeNote": "logbook and patrol rounds replace the old security indicators",
                "items": items,
                "raterWeights": [
                    {"role": "SELF", "weight": 10},
                    {"role": "MANAGER", "weight": 50},
                    {"role": "PEER", "weight": 30},
                    {"role": "SUBORDINATE", "weight": 10},
                ],
            }
        },
        "schemeVersionPublish",
        "SchemeVersionPublished",
    )
    return post_id, core_ids, published["schemeVersion"]["id"], published["schemeVersion"]["version"]


async def test_cycle_from_draft_to_published_through_mutations(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """Indicators, scheme, cycle, 360 ratings, imported metrics, score, calibrate, publish: numbers as by hand."""
    client = app_client
    post_id, core, scheme_id, scheme_version = await setup_post(client)

    created = await ok(
        client,
        """mutation($input: CycleCreateInput!) { cycleCreate(input: $input) {
             __typename ... on CycleChanged { cycle { id state } } } }""",
        {"input": {"name": "2027 Q1", "periodStart": "2027-01-01", "periodEnd": "2027-03-31"}},
        "cycleCreate",
        "CycleChanged",
    )
    cycle_id = created["cycle"]["id"]
    assert created["cycle"]["state"] == "DRAFT"
    refused = (await client.data(TRANSITION % "cyclePublish", {"id": cycle_id}))["cyclePublish"]
    assert (refused["__typename"], refused["code"]) == ("StateError", "ILLEGAL_TRANSITION")
    opened = await ok(client, TRANSITION % "cycleOpen", {"id": cycle_id}, "cycleOpen", "CycleChanged")
    assert opened["cycle"]["state"] == "OPEN"

    staff = await client.data(
        """query($post: ID!) { employees(first: 500, filter: {postId: $post}) {
             edges { node { id employeeNo manager { id } } } } }""",
        {"post": post_id},
    )
    employee, peer = [edge["node"] for edge in staff["employees"]["edges"] if edge["node"]["manager"]][:2]
    manager_id = employee["manager"]["id"]
    await ok(
        client,
        """mutation($input: RaterAssignInput!) { raterAssign(input: $input) { __typename } }""",
        {"input": {"cycleId": cycle_id, "rateeId": employee["id"], "raterId": peer["id"], "role": "PEER"}},
        "raterAssign",
        "RaterAssigned",
    )
    # self / manager / peer on ethics, teamwork, learning
    given = {
        employee["id"]: (5, 5, 5),
        manager_id: (4, 3, 4),
        peer["id"]: (3, 3, 2),
    }
    for rater_id, values in given.items():
        for code, value in zip(("PROFESSIONAL_ETHICS", "TEAMWORK", "LEARNING"), values, strict=True):
            rating = {
                "cycleId": cycle_id,
                "rateeId": employee["id"],
                "raterId": rater_id,
                "indicatorVersionId": core[code],
                "value": value,
            }
            await ok(client, RATE, {"input": rating}, "ratingSubmit", "RatingSubmitted")
    stranger = await client.data(
        RATE,
        {
            "input": {
                "cycleId": cycle_id,
                "rateeId": manager_id,
                "raterId": employee["id"],
                "indicatorVersionId": core["TEAMWORK"],
                "value": 4,
            }
        },
    )
    # Upward ratings need an assigned SUBORDINATE relationship; without one the rater is refused.
    assert stranger["ratingSubmit"]["code"] == "NOT_A_RATER", stranger

    number = employee["employeeNo"]
    csv = f"employee_no,indicator,value\n{number},E2E_ERROR_RATE,2.0\n{number},E2E_PATROL,95\n"
    imported = await ok(
        client,
        """mutation($id: ID!, $csv: String!) { metricValuesImport(cycleId: $id, csv: $csv) {
             __typename ... on MetricValuesImported { imported replaced } } }""",
        {"id": cycle_id, "csv": csv},
        "metricValuesImport",
        "MetricValuesImported",
    )
    assert imported["imported"] == 2

    scored = await ok(
        client,
        """mutation($id: ID!) { cycleScore(cycleId: $id, allowIncomplete: true,
               reason: "only the employee under test was rated") { __typename
             ... on CycleScored { scored cycle { state } blocked { code employee { id } }
                                  coverage { results withoutRatings } } } }""",
        {"id": cycle_id},
        "cycleScore",
        "CycleScored",
    )
    assert scored["cycle"]["state"] == "SCORED"
    assert scored["scored"] >= 1
    # Everyone but the employee under test went unrated: scored only because HR allowed it, and reported.
    assert sum(post["withoutRatings"] for post in scored["coverage"]) == scored["scored"] - 1

    result = (
        await client.data(
            """query($e: ID!, $c: ID!) { employee(id: $e) { result(cycleId: $c) {
                 id totalScore grade schemeVersion { id version }
                 indicatorScores { rawValue normalizedScore weight weightedScore
                                   indicatorVersion { indicator { code } } provenance { system metric } } } } }""",
            {"e": employee["id"], "c": cycle_id},
        )
    )["employee"]["result"]
    # By hand. Raters combine as (10*self + 50*manager + 30*peer) / 90 (no subordinates: re-weighted),
    # a 1-5 rating r scores (r - 1) / 4 * 100:
    #   ethics   (50 + 200 + 90) / 90 = 3.7778 -> 69.444
    #   teamwork (50 + 150 + 90) / 90 = 3.2222 -> 55.556
    #   learning (50 + 200 + 60) / 90 = 3.4444 -> 61.111
    # error rate 2.0 on floor 5 / target 1, lower is better: (5 - 2) / (5 - 1) * 100 = 75
    # patrol 95 between (90, 50) and (100, 100): 50 + 5 / 10 * 50 = 75
    # total = 0.1 * (69.444 + 55.556 + 61.111) + 0.4 * 75 + 0.3 * 75 = 18.611 + 30 + 22.5 = 71.111 -> B
    # The API shows scores rounded half-up to two decimals.
    expected = {
        "PROFESSIONAL_ETHICS": 69.44,
        "TEAMWORK": 55.56,
        "LEARNING": 61.11,
        "E2E_ERROR_RATE": 75.0,
        "E2E_PATROL": 75.0,
    }
    scores = {s["indicatorVersion"]["indicator"]["code"]: s for s in result["indicatorScores"]}
    for code, normalized in expected.items():
        assert scores[code]["normalizedScore"] == normalized
    assert scores["E2E_ERROR_RATE"]["rawValue"] == 2.0
    assert scores["E2E_ERROR_RATE"]["provenance"] == {"system": "security", "metric": "logbook_error_rate"}
    assert scores["TEAMWORK"]["rawValue"] == pytest.approx(290 / 90)
    assert result["totalScore"] == 71.11
    assert result["grade"] == "B"
    assert result["schemeVersion"] == {"id": scheme_id, "version": scheme_version}

    calibrated = await ok(
        client,
        """mutation($input: ResultCalibrateInput!) { resultCalibrate(input: $input) { __typename
             ... on ResultCalibrated {
               result { grade totalScore computedGrade computedTotal calibrated calibrationReason }
               warnings { grade share limit } } } }""",
        {
            "input": {
                "resultId": result["id"],
                "grade": "A",
                "gradeOverride": True,
                "reason": "led the fire-safety overhaul",
                "targetDistribution": [{"grade": "A", "maxShare": 0.0}],
            }
        },
        "resultCalibrate",
        "ResultCalibrated",
    )
    assert calibrated["result"]["grade"] == "A"
    assert calibrated["result"]["computedGrade"] == "B"
    assert calibrated["result"]["computedTotal"] == 71.11
    assert calibrated["result"]["calibrated"] is True
    assert [warning["grade"] for warning in calibrated["warnings"]] == ["A"]

    closed = await ok(
        client, TRANSITION % "cycleCloseCalibration", {"id": cycle_id}, "cycleCloseCalibration", "CycleChanged"
    )
    assert closed["cycle"]["state"] == "CALIBRATED"
    published = await ok(client, TRANSITION % "cyclePublish", {"id": cycle_id}, "cyclePublish", "CycleChanged")
    assert published["cycle"]["state"] == "PUBLISHED"
    audit = await client.data(
        "query($id: ID!) { cycle(id: $id) { transitions { fromState toState actor reason at } } }", {"id": cycle_id}
    )
    steps = [(step["fromState"], step["toState"]) for step in audit["cycle"]["transitions"]]
    assert steps == [
        (None, "DRAFT"),
        ("DRAFT", "OPEN"),
        ("OPEN", "SCORED"),
        ("SCORED", "CALIBRATED"),
        ("CALIBRATED", "PUBLISHED"),
    ]
    assert all(step["actor"] and step["at"] for step in audit["cycle"]["transitions"])

    # The past cycle still answers with the scheme version it was scored under.
    past = (
        await client.data(
            "query($e: ID!, $c: ID!) { employee(id: $e) { result(cycleId: $c) { schemeVersion { id } } } }",
            {"e": employee["id"], "c": str(seeded.past_cycle_id)},
        )
    )["employee"]["result"]
    assert past["schemeVersion"]["id"] != scheme_id


async def test_weights_that_do_not_sum_to_100_are_a_typed_error(app_client: GraphQLClient) -> None:
    """A scheme of 99% is refused with WEIGHTS_DO_NOT_SUM and the post keeps its scheme versions."""
    posts = (
        await app_client.data(
            "{ posts { id schemeVersions { id } currentScheme { items { indicatorVersion { id } } } } }"
        )
    )["posts"]
    post = posts[0]
    items = [
        {"indicatorVersionId": item["indicatorVersion"]["id"], "weight": 1} for item in post["currentScheme"]["items"]
    ]
    items[0]["weight"] = 100 - len(items)  # sums to 99
    payload = (
        await app_client.data(
            """mutation($input: SchemeVersionPublishInput!) { schemeVersionPublish(input: $input) {
                 __typename ... on MutationError { code message } } }""",
            {
                "input": {
                    "postId": post["id"],
                    "effectiveFrom": "2027-06-01",
                    "changeNote": "x",
                    "items": items,
                    "raterWeights": [{"role": "MANAGER", "weight": 100}],
                }
            },
        )
    )["schemeVersionPublish"]
    assert (payload["__typename"], payload["code"]) == ("InvalidInputError", "WEIGHTS_DO_NOT_SUM")
    after = (await app_client.data("{ posts { id schemeVersions { id } } }"))["posts"]
    assert after[0]["schemeVersions"] == post["schemeVersions"]
