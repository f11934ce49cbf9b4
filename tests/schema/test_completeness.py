"""Completeness before scoring: a result with no rating at all is refused unless HR allows it with a reason,
and every result says how complete its inputs were. Expectations are counted from the tables by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import (
    AppraisalResult,
    Cycle,
    CycleTransition,
    Employee,
    MetricValue,
    Rating,
)
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState, RaterRole
from tests.conftest import GraphQLClient

SCORE = """
mutation($c: ID!, $allow: Boolean!, $reason: String) {
  cycleScore(cycleId: $c, allowIncomplete: $allow, reason: $reason) {
    __typename
    ... on CycleScored {
      scored blocked { employee { id } }
      coverage { post { id } results withoutRatings withoutMeasures completeness blocked }
      incomplete { employee { id } withoutRatings withoutMeasures }
    }
    ... on MutationError { code message field }
  }
}
"""
RESULTS = """
query($c: ID!) {
  results(cycleId: $c, first: 500) {
    edges { node { employee { id } completeness { percent withoutRatings withoutMeasures } } }
  }
}
"""


SCHEME = """
query($e: ID!, $c: ID!) {
  employee(id: $e) {
    post { id } scheme(cycleId: $c) { items { weight indicatorVersion { id sourceSystem sourceMetric } } }
  }
}
"""


@pytest.fixture
async def unrated(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[int, int, float]:
    """An employee of the demo's OPEN cycle whose every rating is withdrawn and who has one measured value (the
    OPEN cycle has none collected yet): (id, post id, the weight of the measured indicator)."""
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        rated = select(Rating.ratee_id).where(Rating.cycle_id == cycle).order_by(Rating.ratee_id).limit(1)
        employee_id = int(await session.scalar(rated) or 0)
    employee = (await app_client.data(SCHEME, {"e": str(employee_id), "c": str(cycle)}))["employee"]
    measured = next(
        item for item in employee["scheme"]["items"] if item["indicatorVersion"]["sourceSystem"] != "MANUAL"
    )
    version = measured["indicatorVersion"]
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Rating).where(Rating.cycle_id == cycle, Rating.ratee_id == employee_id))
        session.add(
            MetricValue(
                cycle_id=cycle,
                employee_id=employee_id,
                indicator_version_id=int(version["id"]),
                value=1.0,
                system=version["sourceSystem"],
                metric=version["sourceMetric"],
                fetched_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                checksum="0" * 64,
            )
        )
    return employee_id, int(employee["post"]["id"]), float(measured["weight"])


async def nothing_written(sessionmaker: async_sessionmaker[AsyncSession], cycle: int, transitions: int) -> None:
    async with sessionmaker() as session:
        assert (await session.get(Cycle, cycle)).state is CycleState.OPEN  # type: ignore[union-attr]
        stored = select(func.count()).select_from(AppraisalResult).where(AppraisalResult.cycle_id == cycle)
        assert await session.scalar(stored) == 0
        trail = select(func.count()).select_from(CycleTransition).where(CycleTransition.cycle_id == cycle)
        assert await session.scalar(trail) == transitions


async def trail_length(sessionmaker: async_sessionmaker[AsyncSession], cycle: int) -> int:
    async with sessionmaker() as session:
        trail = select(func.count()).select_from(CycleTransition).where(CycleTransition.cycle_id == cycle)
        return int(await session.scalar(trail) or 0)


async def score(client: GraphQLClient, cycle: int, allow: bool, reason: str | None = None) -> dict[str, Any]:
    variables = {"c": str(cycle), "allow": allow, "reason": reason}
    payload: dict[str, Any] = (await client.data(SCORE, variables))["cycleScore"]
    return payload


async def test_a_result_without_any_rating_is_refused_until_hr_allows_it_with_a_reason(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
    unrated: tuple[int, int, float],
) -> None:
    cycle = seeded.current_cycle_id
    before = await trail_length(sessionmaker, cycle)
    refused = await score(app_client, cycle, allow=False)
    assert refused["__typename"] == "StateError"
    assert (refused["code"], refused["field"]) == ("INCOMPLETE_INPUTS", "allowIncomplete")
    assert refused["message"].startswith("1 result(s) would have no rating at all (1 of ")
    async with sessionmaker() as session:
        number = await session.scalar(select(Employee.employee_no).where(Employee.id == unrated[0]))
    assert f"; {number}): " in refused["message"], "the refusal names whom to chase"
    assert "Coverage: " in refused["message"] and "% complete, 1 without ratings" in refused["message"]
    await nothing_written(sessionmaker, cycle, before)

    # Allowing it takes a reason.
    unexplained = await score(app_client, cycle, allow=True, reason="  ")
    assert (unexplained["code"], unexplained["field"]) == ("INVALID_INPUT", "reason")
    await nothing_written(sessionmaker, cycle, before)

    # With a reason, scoring goes ahead and says what each result lacks.
    employee_id, post_id, measured_weight = unrated  # the weight of its one measured value
    scored = await score(app_client, cycle, allow=True, reason="ratings of one leaver will not come")
    assert scored["__typename"] == "CycleScored", scored
    coverage = {row["post"]["id"]: row for row in scored["coverage"]}
    assert sum(row["results"] for row in coverage.values()) == scored["scored"]
    assert coverage[str(post_id)]["withoutRatings"] == 1
    assert sum(row["withoutRatings"] for row in coverage.values()) == 1
    # Shown as every other figure: two decimals (a mean of percents is 70.66666666666667 otherwise).
    assert all(row["completeness"] == round(row["completeness"], 2) for row in coverage.values())
    assert any(row["completeness"] < 100 for row in coverage.values())
    async with sessionmaker() as session:
        reason = await session.scalar(
            select(CycleTransition.reason)
            .where(CycleTransition.cycle_id == cycle, CycleTransition.to_state == CycleState.SCORED)
            .order_by(CycleTransition.id.desc())
        )
    assert reason == "ratings of one leaver will not come"

    nodes = [edge["node"] for edge in (await app_client.data(RESULTS, {"c": str(cycle)}))["results"]["edges"]]
    flagged = {node["employee"]["id"]: node["completeness"] for node in nodes if node["completeness"]["withoutRatings"]}
    assert list(flagged) == [str(employee_id)]
    # The payload names every result that lacks a whole part, rated or measured, as the results say.
    lacking = {
        node["employee"]["id"]: (node["completeness"]["withoutRatings"], node["completeness"]["withoutMeasures"])
        for node in nodes
        if node["completeness"]["withoutRatings"] or node["completeness"]["withoutMeasures"]
    }
    listed = {row["employee"]["id"]: (row["withoutRatings"], row["withoutMeasures"]) for row in scored["incomplete"]}
    assert listed == lacking
    assert listed[str(employee_id)] == (True, False)
    assert len(listed) == sum(row["withoutRatings"] + row["withoutMeasures"] for row in coverage.values()) - sum(
        1 for both in listed.values() if all(both)
    )
    # Its one measured value is all it had: that indicator's share of the scheme's weight.
    assert flagged[str(employee_id)]["percent"] == pytest.approx(measured_weight)
    assert all(0 < node["completeness"]["percent"] <= 100 for node in nodes)


async def test_the_demos_cycles_have_no_result_without_ratings(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    published = await app_client.data(RESULTS, {"c": str(seeded.past_cycle_id)})
    nodes = [edge["node"] for edge in published["results"]["edges"]]
    assert nodes and not any(node["completeness"]["withoutRatings"] for node in nodes)
    # The OPEN cycle scores as it is, without allowIncomplete.
    scored = await score(app_client, seeded.current_cycle_id, allow=False)
    assert scored["__typename"] == "CycleScored" and scored["scored"] > 0


async def test_completeness_costs_the_same_statements_for_any_page(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    query = "query($c: ID!, $n: Int!) { results(cycleId: $c, first: $n) { edges { node { %s } } } }"
    spent = {}
    for size in (5, 100):
        for fields in ("totalScore", "totalScore completeness { percent }"):
            app_client.sql.reset()
            await app_client.data(query % fields, {"c": str(seeded.past_cycle_id), "n": size})
            spent[(size, fields)] = app_client.sql.count
    added = {
        size: spent[(size, "totalScore completeness { percent }")] - spent[(size, "totalScore")] for size in (5, 100)
    }
    assert added[5] == added[100] == 2  # the scores with their rater inputs, and the schemes' rater weights


SCHEME_WEIGHTS = """
query($e: ID!, $c: ID!) {
  employee(id: $e) {
    scheme(cycleId: $c) { items { weight indicatorVersion { sourceSystem } } raterWeights { role weight } }
    result(cycleId: $c) { completeness { percent withoutRatings } }
  }
}
"""


async def test_a_self_rating_alone_counts_for_the_self_weight_only(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A result whose only rater rated themselves had a tenth of its people-rated input where self weighs 10 of
    100: its completeness says so (it is not without ratings, and not complete)."""
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session, session.begin():
        self_rated = select(Rating.ratee_id).where(Rating.cycle_id == cycle, Rating.role == RaterRole.SELF)
        ratee = int(await session.scalar(self_rated.limit(1)) or 0)
        of_ratee = (Rating.cycle_id == cycle, Rating.ratee_id == ratee)
        await session.execute(delete(Rating).where(*of_ratee, Rating.role != RaterRole.SELF))
        assert await session.scalar(select(func.count()).select_from(Rating).where(*of_ratee))
    assert (await score(app_client, cycle, allow=False))["__typename"] == "CycleScored"
    employee = (await app_client.data(SCHEME_WEIGHTS, {"e": str(ratee), "c": str(cycle)}))["employee"]
    items, roles = employee["scheme"]["items"], {r["role"]: r["weight"] for r in employee["scheme"]["raterWeights"]}
    rated_weight = sum(item["weight"] for item in items if item["indicatorVersion"]["sourceSystem"] == "MANUAL")
    expected = rated_weight * roles["SELF"] / sum(roles.values())  # the OPEN cycle has no measured value yet
    found = employee["result"]["completeness"]
    assert found["withoutRatings"] is False
    assert found["percent"] == pytest.approx(expected) and found["percent"] < rated_weight


async def test_people_who_cannot_be_scored_at_all_are_refused_by_name_until_allowed(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A cycle opened without any input yet blocks everyone (every indicator missing): scoring it would publish a
    cycle without results, so it is refused like a result without ratings, naming the first people."""
    created = await app_client.data(
        'mutation { cycleCreate(input: {name: "Nothing in yet", periodStart: "2026-10-01", periodEnd: "2026-12-31"}) '
        "{ ... on CycleChanged { cycle { id } } } }"
    )
    cycle = int(created["cycleCreate"]["cycle"]["id"])
    opened = await app_client.data(
        f'mutation {{ cycleOpen(cycleId: "{cycle}", families: ["FINANCE"]) {{ __typename }} }}'
    )
    assert opened["cycleOpen"]["__typename"] == "CycleChanged"
    before = await trail_length(sessionmaker, cycle)
    refused = await score(app_client, cycle, allow=False)
    assert (refused["code"], refused["field"]) == ("INCOMPLETE_INPUTS", "allowIncomplete")
    assert "participant(s) could not be scored at all (E" in refused["message"]
    await nothing_written(sessionmaker, cycle, before)
    allowed = await score(app_client, cycle, allow=True, reason="a dry run before the ratings come in")
    assert allowed["__typename"] == "CycleScored" and allowed["scored"] == 0
    # Every FINANCE post is listed, with its blocked people and no result: nobody goes missing from the report.
    assert allowed["coverage"] and all(row["results"] == 0 for row in allowed["coverage"])
    assert sum(row["blocked"] for row in allowed["coverage"]) == len(allowed["blocked"]) > 0


RANKS = """
query($c: ID!) {
  results(cycleId: $c, first: 500) {
    edges { node {
      employee { id } post { id } totalScore grade rankInPost postGroupSize percentileInPost rankInDepartment
      departmentGroupSize completeness { withoutRatings }
    } }
  }
}
"""


async def test_a_result_without_any_rating_is_graded_but_left_unranked(
    app_client: GraphQLClient, seeded: SeedSummary, unrated: tuple[int, int, float]
) -> None:
    """The complete results of its post are ranked among themselves, 1..n with n the complete ones; the one
    without ratings keeps its total and grade, with no rank, percentile or group size. Closing calibration re-ranks
    the same way."""
    cycle = seeded.current_cycle_id
    employee_id, post_id, _ = unrated
    assert (await score(app_client, cycle, allow=True, reason="one leaver"))["__typename"] == "CycleScored"
    for step in ("scored", "calibrated"):
        nodes = [edge["node"] for edge in (await app_client.data(RANKS, {"c": str(cycle)}))["results"]["edges"]]
        (alone,) = [node for node in nodes if node["employee"]["id"] == str(employee_id)]
        assert alone["completeness"]["withoutRatings"] and alone["grade"] and alone["totalScore"] is not None
        assert [alone[key] for key in ("rankInPost", "postGroupSize", "percentileInPost", "rankInDepartment")] == [
            None
        ] * 4, step
        peers = [node for node in nodes if node["post"]["id"] == str(post_id) and node is not alone]
        assert peers, "the post has complete results beside it"
        assert sorted(node["rankInPost"] for node in peers)[0] == 1
        assert max(node["rankInPost"] for node in peers) <= len(peers)
        assert {node["postGroupSize"] for node in peers} == {len(peers)}, step
        close = "mutation($c: ID!) { cycleCloseCalibration(cycleId: $c) { __typename } }"
        if step == "scored":
            assert (await app_client.data(close, {"c": str(cycle)}))["cycleCloseCalibration"]["__typename"] == (
                "CycleChanged"
            )
