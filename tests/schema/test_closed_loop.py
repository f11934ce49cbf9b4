"""The closed loop (issue 14, point 5): trainingNeeds and compensationGuidance against the demo systems.

The demo's training (xAPI) and payroll (OData) systems run on loopback in the test's loop; upstream calls
are counted by their own request counters, SQL statements by the client's counter. The seed configured
the demo's courses per core indicator and its merit matrix (``hub.demo.closed_loop``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.config import parse_systems
from hub.config import Settings
from hub.db.models import AppraisalResult, Cycle, Indicator, IndicatorScore, IndicatorVersion, ResultEvent
from hub.demo.closed_loop import COURSES_BY_INDICATOR
from hub.demo.organisation import SeedSummary
from hub.demo.systems import DemoSystems, serve_demo_systems
from hub.domain import IndicatorCategory
from hub.events.outbox import TRAINING_NEED
from tests.conftest import EMPLOYEES, SEED, GraphQLClient, serving
from tests.schema.conftest import Org
from tests.schema.test_federation import fast, requests, spent

NEEDS = """
query($cycle: ID!, $first: Int, $after: String, $nos: [String!]) {
  trainingNeeds(cycleId: $cycle, first: $first, after: $after, employeeNos: $nos) {
    cursor
    employee { employeeNo }
    result { id }
    needs { indicatorCode score threshold thresholdSource courses completedCourses { course } trainingTaken }
  }
}
"""
GUIDANCE = """
query($cycle: ID!, $first: Int, $nos: [String!]) {
  compensationGuidance(cycleId: $cycle, first: $first, employeeNos: $nos) {
    cursor postFamily
    employee { employeeNo compensationRecords { effectiveDate baseSalary bonus currency } }
    result { grade }
    advice {
      explanation record { effectiveDate baseSalary bonus }
      salaryMinimum salaryMaximum positionInRange band raisePercent bonusFactor proposedBaseSalary proposedBonus
    }
  }
}
"""
SET_MATRIX = """
mutation($input: MeritMatrixSetInput!) {
  meritMatrixSet(input: $input) {
    __typename
    ... on MeritMatrixChanged { matrix { currency positionBounds cells { grade band raisePercent bonusFactor } } }
    ... on MutationError { code field message }
  }
}
"""


@pytest.fixture
async def demo() -> AsyncIterator[DemoSystems]:
    async with serve_demo_systems(SEED, EMPLOYEES) as systems:
        yield systems


@pytest.fixture
async def hub(demo: DemoSystems, settings: Settings) -> AsyncIterator[GraphQLClient]:
    async with serving(settings, parse_systems(fast(demo.config()), demo.secrets)) as client:
        yield client


def matrix_input(**changes: Any) -> dict[str, Any]:
    cells = [
        {"grade": grade, "band": band, "raisePercent": 2.0 * band + i, "bonusFactor": 1.0 + i / 10}
        for i, grade in enumerate("SABCD")
        for band in range(2)
    ]
    value = {
        "currency": "CNY",
        "salaryRanges": [{"postFamily": "FINANCE", "minimum": 6000, "maximum": 12000}],
        "positionBounds": [0.5],
        "cells": cells,
    }
    return {**value, **changes}


async def every_need(client: GraphQLClient, cycle: int) -> list[dict[str, Any]]:
    """Every page of trainingNeeds of the cycle, 40 at a time."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await client.data(NEEDS, {"cycle": str(cycle), "first": 40, "after": after}))["trainingNeeds"]
        found += page
        if len(page) < 40:
            return found
        after = page[-1]["cursor"]


async def completed(client: GraphQLClient, since: dt.date | None = None) -> dict[str, set[str]]:
    """Every employee's completed courses (those completed on or after ``since``), as Employee.trainingRecords says."""
    page = await client.data(
        "{ employees(first: 200) { edges { node { employeeNo trainingRecords { course completedOn } } } } }"
    )
    return {
        edge["node"]["employeeNo"]: {
            record["course"]
            for record in edge["node"]["trainingRecords"]
            if since is None or (record["completedOn"] and dt.date.fromisoformat(record["completedOn"]) >= since)
        }
        for edge in page["employees"]["edges"]
    }


async def core_scores(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> dict[int, dict[str, float]]:
    """Every result's core indicator scores, by result id and indicator code, read straight from the tables."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(IndicatorScore.result_id, Indicator.code, IndicatorScore.normalized_score)
            .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
            .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
            .where(AppraisalResult.cycle_id == cycle_id, Indicator.category == IndicatorCategory.CORE)
        )
        found: dict[int, dict[str, float]] = {}
        for result_id, code, score in rows:
            if score is not None:
                found.setdefault(result_id, {})[code] = score
    return found


async def test_needs_are_the_core_indicators_under_the_c_grade_joined_with_completed_courses(
    hub: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    items = await every_need(hub, cycle)
    async with sessionmaker() as session:
        start = await session.scalar(select(Cycle.period_start).where(Cycle.id == cycle))
    assert start is not None
    # The demo's first published cycle: no earlier result, so training counts from the cycle's first day.
    courses_of = await completed(hub, since=start)
    assert await completed(hub) != courses_of, "the demo has completions from before the cycle"
    expected = {
        result_id: {code for code, score in scores.items() if score < 60.0}
        for result_id, scores in (await core_scores(sessionmaker, cycle)).items()
    }
    expected = {result_id: codes for result_id, codes in expected.items() if codes}
    assert expected, "the demo's past cycle has core scores under 60"
    assert {int(item["result"]["id"]): {n["indicatorCode"] for n in item["needs"]} for item in items} == expected
    taken_somewhere = False
    for item in items:
        done = courses_of[item["employee"]["employeeNo"]]
        for need in item["needs"]:
            assert need["threshold"] == 60.0 and need["thresholdSource"].startswith("default")
            assert need["courses"] == list(COURSES_BY_INDICATOR[need["indicatorCode"]])
            related = done & set(need["courses"])
            assert {record["course"] for record in need["completedCourses"]} == related
            assert need["trainingTaken"] is bool(related)
            taken_somewhere |= bool(related)
    assert taken_somewhere and not all(need["trainingTaken"] for item in items for need in item["needs"])


async def test_a_configured_threshold_and_mapping_apply_at_once(
    hub: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        teamwork = await session.scalar(select(Indicator.id).where(Indicator.code == "TEAMWORK"))
    changed = await hub.data(
        """mutation($id: ID!) { trainingNeedRuleSet(indicatorId: $id, threshold: 85, courses: ["Course X"]) {
             __typename ... on TrainingNeedRuleChanged { rule { indicatorId threshold courses } } } }""",
        {"id": str(teamwork)},
    )
    assert changed["trainingNeedRuleSet"]["rule"] == {
        "indicatorId": str(teamwork),
        "threshold": 85.0,
        "courses": ["Course X"],
    }
    items = await every_need(hub, seeded.past_cycle_id)
    scores = await core_scores(sessionmaker, seeded.past_cycle_id)
    teamwork_needs = {
        int(item["result"]["id"]): need
        for item in items
        for need in item["needs"]
        if need["indicatorCode"] == "TEAMWORK"
    }
    assert set(teamwork_needs) == {rid for rid, s in scores.items() if s.get("TEAMWORK", 100.0) < 85.0}
    for need in teamwork_needs.values():
        assert need["threshold"] == 85.0 and need["thresholdSource"] == "configured for the indicator"
        assert need["courses"] == ["Course X"] and need["trainingTaken"] is False  # nobody took a course X

    for threshold in (140, 0):
        refused = await hub.data(
            """mutation($id: ID!, $t: Float) { trainingNeedRuleSet(indicatorId: $id, threshold: $t) {
                 __typename ... on MutationError { code field message } } }""",
            {"id": str(teamwork), "t": threshold},
        )
        assert refused["trainingNeedRuleSet"] == {
            "__typename": "InvalidInputError",
            "code": "INVALID_INPUT",
            "field": "threshold",
            "message": "threshold must be above 0 and at most 100",
        }

    # Without courses the stored list stays; an empty list clears it.
    rule_set = """mutation($id: ID!, $courses: [String!]) {
        trainingNeedRuleSet(indicatorId: $id, threshold: 70, courses: $courses) {
          ... on TrainingNeedRuleChanged { rule { threshold courses } } } }"""
    kept = await hub.data(rule_set, {"id": str(teamwork)})
    assert kept["trainingNeedRuleSet"]["rule"] == {"threshold": 70.0, "courses": ["Course X"]}
    assert {
        n["courses"][0]
        for i in await every_need(hub, seeded.past_cycle_id)
        for n in i["needs"]
        if n["indicatorCode"] == "TEAMWORK"
    } == {"Course X"}
    cleared = await hub.data(rule_set, {"id": str(teamwork), "courses": []})
    assert cleared["trainingNeedRuleSet"]["rule"] == {"threshold": 70.0, "courses": []}


async def test_needs_page_by_cursor_with_constant_statements_and_one_training_sequence_a_page(
    hub: GraphQLClient, seeded: SeedSummary, demo: DemoSystems
) -> None:
    cycle = str(seeded.past_cycle_id)
    hub.sql.reset()
    before = requests(demo)
    small = (await hub.data(NEEDS, {"cycle": cycle, "first": 5}))["trainingNeeds"]
    statements_small, calls_small = hub.sql.count, spent(before, requests(demo))
    await asyncio.sleep(0.25)  # past the connector cache's freshness: the next page asks again
    hub.sql.reset()
    before = requests(demo)
    large = (await hub.data(NEEDS, {"cycle": cycle, "first": 40}))["trainingNeeds"]
    statements_large, calls_large = hub.sql.count, spent(before, requests(demo))
    assert len(small) == 5 and len(large) == 40
    assert statements_large == statements_small
    assert calls_large["training"] == calls_small["training"] >= 1  # one paged sequence a page, not one per need
    rest = (await hub.data(NEEDS, {"cycle": cycle, "first": 35, "after": small[-1]["cursor"]}))["trainingNeeds"]
    assert [item["cursor"] for item in small + rest] == [item["cursor"] for item in large]


@pytest.mark.parametrize("role", ["employee", "manager", "training"])
async def test_needs_follow_the_row_scope_of_results(
    role: str, hub: GraphQLClient, org: Org, seeded: SeedSummary
) -> None:
    everyone = await every_need(hub, seeded.past_cycle_id)
    number = {"employee": org.staff_no, "manager": org.manager_no}.get(role)
    client = hub.as_principal(role, employee_number=number)
    seen = await every_need(client, seeded.past_cycle_id)
    mine = {item["result"]["id"] for item in seen}
    if role == "training":
        assert mine == {item["result"]["id"] for item in everyone}
    elif role == "employee":
        assert {item["employee"]["employeeNo"] for item in seen} <= {org.staff_no}
    else:
        assert 0 < len(mine) < len(everyone)
    unpublished = await client.data(NEEDS, {"cycle": str(seeded.current_cycle_id), "first": 40})
    if role != "manager":  # only a manager (for their people) reads a cycle before publication
        assert unpublished["trainingNeeds"] == []


async def test_an_analyst_gets_no_training_needs(hub: GraphQLClient, seeded: SeedSummary) -> None:
    for grants in ((), ("names",)):
        body = await hub.as_principal("analyst", grants=grants).execute(NEEDS, {"cycle": str(seeded.past_cycle_id)})
        assert body["data"]["trainingNeeds"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


async def test_a_training_system_failure_is_a_typed_error_on_the_taken_fields_only(
    hub: GraphQLClient, seeded: SeedSummary, demo: DemoSystems
) -> None:
    demo.faults["training"].down = True
    body = await hub.execute(
        "query($c: ID!) { trainingNeeds(cycleId: $c, first: 3) { needs { indicatorCode score trainingTaken } } }",
        {"c": str(seeded.past_cycle_id)},
    )
    needs = [need for item in body["data"]["trainingNeeds"] for need in item["needs"]]
    assert needs and all(need["trainingTaken"] is None and need["score"] < 60 for need in needs)
    assert {error["extensions"]["code"] for error in body["errors"]} == {"SYSTEM_UNAVAILABLE"}
    assert {error["extensions"]["system"] for error in body["errors"]} == {"training"}


async def test_publication_announces_training_needs_in_its_transaction_and_only_on_request(
    hub: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        announced = set(
            await session.scalars(
                select(ResultEvent.result_id).where(ResultEvent.cycle_id == cycle, ResultEvent.type == TRAINING_NEED)
            )
        )
        published = await session.scalar(
            select(func.count()).select_from(ResultEvent).where(ResultEvent.type == "result.published")
        )
    needs = await every_need(hub, cycle)
    assert announced == {int(item["result"]["id"]) for item in needs} != set()
    query = "query($f: ResultEventFilter) { resultEvents(first: 500, filter: $f) { type result { id } } }"
    plain = (await hub.data(query))["resultEvents"]
    assert len(plain) == published and {event["type"] for event in plain} == {"result.published"}
    asked = (await hub.data(query, {"f": {"types": ["training.need"]}}))["resultEvents"]
    assert {int(event["result"]["id"]) for event in asked} == announced


async def test_guidance_applies_the_matrix_to_the_record_in_force(
    hub: GraphQLClient, seeded: SeedSummary, demo: DemoSystems
) -> None:
    changed = (await hub.data(SET_MATRIX, {"input": matrix_input()}))["meritMatrixSet"]
    assert changed["__typename"] == "MeritMatrixChanged" and len(changed["matrix"]["cells"]) == 10
    before = requests(demo)
    items = (await hub.data(GUIDANCE, {"cycle": str(seeded.past_cycle_id), "first": 60}))["compensationGuidance"]
    assert len(items) == 60
    # One call for the page: advice and compensationRecords share the loader's batch.
    assert spent(before, requests(demo))["payroll"] == 1
    guided = [item for item in items if item["postFamily"] == "FINANCE"]
    assert guided and all(item["advice"]["raisePercent"] is None for item in items if item["postFamily"] != "FINANCE")
    for item in items:
        if item["postFamily"] != "FINANCE":
            assert (
                item["advice"]["explanation"]
                == "the matrix has no salary range for post family " + item["postFamily"] + ": no guidance"
            )
    grades = "SABCD"
    for item in guided:
        advice, record = item["advice"], item["advice"]["record"]
        base = record["baseSalary"]
        position = (base - 6000) / 6000
        band = 1 if position >= 0.5 else 0
        i = grades.index(item["result"]["grade"])
        assert advice["positionInRange"] == pytest.approx(position)
        assert (advice["band"], advice["raisePercent"], advice["bonusFactor"]) == (band, 2.0 * band + i, 1.0 + i / 10)
        assert advice["proposedBaseSalary"] == pytest.approx(round(base * (1 + (2.0 * band + i) / 100), 2))
        if record["bonus"] is None:
            assert advice["proposedBonus"] is None and "no bonus" in advice["explanation"]
        else:
            assert advice["proposedBonus"] == pytest.approx(round(record["bonus"] * (1.0 + i / 10), 2))
        # The record used is the newest of the employee's own records (all in force before the cycle's end).
        newest = max(item["employee"]["compensationRecords"], key=lambda r: r["effectiveDate"])
        assert record["effectiveDate"] == newest["effectiveDate"]


async def test_without_a_record_there_is_no_guidance_and_it_says_so(
    hub: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], demo: DemoSystems
) -> None:
    # The cycle's period ends before anyone's first compensation record: the record in force is none.
    async with sessionmaker() as session:
        from hub.db.models import Cycle

        cycle = await session.get(Cycle, seeded.past_cycle_id)
        assert cycle is not None
        cycle.period_end = cycle.period_end.replace(year=1990)
        await session.commit()
    items = (await hub.data(GUIDANCE, {"cycle": str(seeded.past_cycle_id), "first": 3}))["compensationGuidance"]
    for item in items:
        advice = item["advice"]
        assert advice["record"] is None and advice["raisePercent"] is None and advice["proposedBaseSalary"] is None
        assert "no compensation record with a base salary in force on 1990" in advice["explanation"]
    demo.faults["payroll"].down = True
    body = await hub.execute(
        "query($c: ID!) { compensationGuidance(cycleId: $c, first: 2) { postFamily advice { raisePercent } } }",
        {"c": str(seeded.past_cycle_id)},
    )
    assert [item["advice"] for item in body["data"]["compensationGuidance"]] == [None, None]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"SYSTEM_UNAVAILABLE"}


@pytest.mark.parametrize(
    ("role", "grants"), [("manager", ()), ("employee", ()), ("analyst", ()), ("analyst", ("names",)), ("training", ())]
)
async def test_compensation_guidance_is_refused_below_hr_and_payroll(
    role: str, grants: tuple[str, ...], hub: GraphQLClient, org: Org, seeded: SeedSummary, demo: DemoSystems
) -> None:
    number = {"employee": org.staff_no, "manager": org.manager_no}.get(role)
    client = hub.as_principal(role, employee_number=number, grants=grants)
    before = requests(demo)
    body = await client.execute(GUIDANCE, {"cycle": str(seeded.past_cycle_id)})
    assert body["data"]["compensationGuidance"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert spent(before, requests(demo))["payroll"] == 0
    matrix = await client.execute("{ meritMatrix { currency } }")
    assert matrix["data"]["meritMatrix"] is None and matrix["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_payroll_sees_guidance_of_published_cycles_only(hub: GraphQLClient, seeded: SeedSummary) -> None:
    payroll = hub.as_principal("payroll")
    published = await payroll.data(GUIDANCE, {"cycle": str(seeded.past_cycle_id), "first": 2})
    assert len(published["compensationGuidance"]) == 2
    assert all(
        item["advice"]["raisePercent"] is not None or item["advice"]["explanation"]
        for item in published["compensationGuidance"]
    )
    unpublished = await payroll.data(GUIDANCE, {"cycle": str(seeded.current_cycle_id), "first": 2})
    assert unpublished["compensationGuidance"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "cny"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"salaryRanges": [{"postFamily": "NOPE", "minimum": 6000, "maximum": 12000}]}, "salaryRanges"),
        ({"salaryRanges": [{"postFamily": "finance", "minimum": 6000, "maximum": 12000}]}, "salaryRanges"),
        ({"salaryRanges": []}, "salaryRanges"),
        ({"salaryRanges": [{"postFamily": "FINANCE", "minimum": 9000, "maximum": 9000}]}, "salaryRanges"),
        ({"positionBounds": [0.6, 0.4]}, "positionBounds"),
        ({"positionBounds": [1.0]}, "positionBounds"),
        ({"cells": []}, "cells"),
        (
            {"cells": [*matrix_input()["cells"], {"grade": "S", "band": 0, "raisePercent": 1, "bonusFactor": 1}]},
            "cells",
        ),
        ({"cells": [{**cell, "raisePercent": -1} for cell in matrix_input()["cells"]]}, "cells"),
    ],
)
async def test_a_bad_matrix_is_refused_naming_its_field_and_changes_nothing(
    changes: dict[str, Any], field: str, hub: GraphQLClient
) -> None:
    before = await hub.data("{ meritMatrix { currency salaryRanges { postFamily minimum maximum } } }")
    refused = (await hub.data(SET_MATRIX, {"input": matrix_input(**changes)}))["meritMatrixSet"]
    assert (refused["__typename"], refused["code"], refused["field"]) == ("InvalidInputError", "INVALID_INPUT", field)
    assert await hub.data("{ meritMatrix { currency salaryRanges { postFamily minimum maximum } } }") == before
    denied = await hub.as_principal("payroll").execute(SET_MATRIX, {"input": matrix_input()})
    assert denied["data"]["meritMatrixSet"] is None and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
