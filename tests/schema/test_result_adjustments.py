"""A result's calibrations and corrections through GraphQL: who sees the history, scoped target distributions,
resultCorrect and the revised event, and one statement per page for the history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, AuditEntry, Post, ResultAdjustment, ResultEvent
from hub.domain import Grade
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org
from tests.stored import result_ids

Sessions = async_sessionmaker[AsyncSession]

CALIBRATE = """
mutation($input: ResultCalibrateInput!) {
  resultCalibrate(input: $input) {
    __typename
    ... on ResultCalibrated { result { totalScore grade } warnings { grade count group { dimension id name } message } }
    ... on MutationError { code field message }
  }
}
"""
CORRECT = """
mutation($input: ResultCorrectInput!) {
  resultCorrect(input: $input) {
    __typename
    ... on ResultCorrected { result { totalScore grade rankInPost } }
    ... on MutationError { code field message }
  }
}
"""
HISTORY = """
query($employee: ID!, $cycle: ID!) {
  employee(id: $employee) {
    result(cycleId: $cycle) {
      totalScore grade calibrated calibrationReason
      adjustments { kind totalBefore gradeBefore totalAfter gradeAfter reason at %s }
    }
  }
}
"""


async def _result(sessionmaker: Sessions, employee_id: int, cycle_id: int) -> Any:
    async with sessionmaker() as session:
        statement = select(AppraisalResult).where(
            AppraisalResult.employee_id == employee_id, AppraisalResult.cycle_id == cycle_id
        )
        return (await session.execute(statement)).scalar_one()


async def _calibrate(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CALIBRATE, {"input": input}))["resultCalibrate"]
    return payload


async def _correct(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CORRECT, {"input": input}))["resultCorrect"]
    return payload


async def test_hr_sees_every_calibration_in_order_with_who_made_it(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """Two calibrations: the result shows the second, its adjustments both, oldest first, for hr_admin with the
    actor (the token's subject)."""
    result = await _result(sessionmaker, org.staff_id, org.unpublished_cycle)
    first = await _calibrate(app_client, resultId=str(result.id), totalScore=96.5, reason="won the tender")
    assert first["result"] == {"totalScore": 96.5, "grade": "S"}
    await _calibrate(app_client, resultId=str(result.id), totalScore=50.0, reason="the tender was a colleague's")

    data = await app_client.data(
        HISTORY % "actor", {"employee": str(org.staff_id), "cycle": str(org.unpublished_cycle)}
    )

    shown = data["employee"]["result"]
    assert (shown["totalScore"], shown["calibrationReason"]) == (50.0, "the tender was a colleague's")
    older, newer = shown["adjustments"]
    assert {key: older[key] for key in ("kind", "totalAfter", "gradeAfter", "reason", "actor")} == {
        "kind": "CALIBRATION",
        "totalAfter": 96.5,
        "gradeAfter": "S",
        "reason": "won the tender",
        "actor": "test-hr-admin",
    }
    assert older["totalBefore"] == round(result.total_score, 2) and older["gradeBefore"] == result.grade.value
    assert (newer["totalBefore"], newer["gradeBefore"], newer["totalAfter"]) == (96.5, "S", 50.0)
    assert older["at"] <= newer["at"]


async def test_a_target_per_post_warns_naming_the_post(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """targetScope {postId}: the S share is counted over the result's post, and the warning names the post."""
    result = await _result(sessionmaker, org.staff_id, org.unpublished_cycle)
    async with sessionmaker() as session:
        post_name = await session.scalar(select(Post.name).where(Post.id == result.post_id))
        in_post = (
            await session.scalars(
                select(AppraisalResult.id).where(
                    AppraisalResult.cycle_id == org.unpublished_cycle, AppraisalResult.post_id == result.post_id
                )
            )
        ).all()
    assert len(in_post) > 1

    no_s = {"resultId": str(result.id), "totalScore": 99.0, "targetDistribution": [{"grade": "S", "maxShare": 0.0}]}

    payload = await _calibrate(
        app_client, **no_s, reason="best in the post", targetScope={"postId": str(result.post_id)}
    )

    assert payload["__typename"] == "ResultCalibrated"
    (warning,) = payload["warnings"]
    assert warning["grade"] == "S" and warning["count"] >= 1
    assert warning["group"] == {"dimension": "POST", "id": str(result.post_id), "name": post_name}
    assert warning["message"] == (
        f"grade S is given to {warning['count']} of {len(in_post)} results in post {post_name} "
        f"({warning['count'] / len(in_post):.0%}), above the target of 0%: at most 0"
    )

    other_post = await _calibrate(app_client, **no_s, reason="r", targetScope={"postId": str(result.post_id + 1)})
    assert (other_post["__typename"], other_post["code"], other_post["field"]) == (
        "InvalidInputError",
        "INVALID_INPUT",
        "targetScope",
    )


async def test_a_manager_sees_the_history_as_the_calibration_fields_but_not_who(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """A manager reads their people's unpublished results, calibration fields and adjustments alike; the actor is
    hr_admin's only (null with FORBIDDEN). The employee does not see the unpublished result at all."""
    result = await _result(sessionmaker, org.staff_id, org.unpublished_cycle)
    await _calibrate(app_client, resultId=str(result.id), totalScore=90.0, reason="committee")
    variables = {"employee": str(org.staff_id), "cycle": str(org.unpublished_cycle)}

    manager = app_client.as_principal("manager", org.manager_no)
    body = await manager.execute(HISTORY % "actor", variables)

    shown = body["data"]["employee"]["result"]
    assert (shown["calibrated"], shown["calibrationReason"]) == (True, "committee")
    assert [(a["kind"], a["reason"], a["actor"]) for a in shown["adjustments"]] == [("CALIBRATION", "committee", None)]
    assert [(error["path"][-1], error["extensions"]["code"]) for error in body["errors"]] == [("actor", "FORBIDDEN")]
    employee = app_client.as_principal("employee", org.staff_no)
    assert (await employee.data(HISTORY % "", variables))["employee"]["result"] is None


async def test_an_employee_sees_their_corrected_result_and_the_revised_event(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """hr_admin corrects a published result: the employee reads the corrected total and grade, the correction in
    the adjustments, and a result.revised event for their result at the end of their stream."""
    result = await _result(sessionmaker, org.staff_id, org.published_cycle)
    corrected_total = 12.0 if result.total_score > 50 else 88.0

    payload = await _correct(
        app_client, resultId=str(result.id), totalScore=corrected_total, reason="ticket export cut"
    )

    assert payload["__typename"] == "ResultCorrected"
    employee = app_client.as_principal("employee", org.staff_no)
    variables = {"employee": str(org.staff_id), "cycle": str(org.published_cycle)}
    shown = (await employee.data(HISTORY % "", variables))["employee"]["result"]
    assert (shown["totalScore"], shown["grade"]) == (corrected_total, payload["result"]["grade"])
    (correction,) = shown["adjustments"]
    assert (correction["kind"], correction["totalBefore"], correction["totalAfter"], correction["reason"]) == (
        "CORRECTION",
        round(result.total_score, 2),
        corrected_total,
        "ticket export cut",
    )
    events = (await employee.data("{ resultEvents(first: 500) { type result { id totalScore } } }"))["resultEvents"]
    assert [event["type"] for event in events] == ["result.published", "result.revised"]
    assert events[-1]["result"] == {"id": str(result.id), "totalScore": corrected_total}


async def _revisions(sessionmaker: Sessions, result_id: int) -> tuple[int, int]:
    """The result's adjustments and its result.revised events."""
    async with sessionmaker() as session:
        adjustments = select(func.count()).select_from(ResultAdjustment).where(ResultAdjustment.result_id == result_id)
        revised = (
            select(func.count())
            .select_from(ResultEvent)
            .where(ResultEvent.result_id == result_id, ResultEvent.type == "result.revised")
        )
        return int(await session.scalar(adjustments) or 0), int(await session.scalar(revised) or 0)


async def test_a_correction_to_the_total_as_shown_changes_nothing_and_is_refused(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """A stored 64.70588... is shown as 64.71: typing 64.71 back with the same grade corrects nothing, so it is
    refused with nothing written and no result.revised event; a grade change at the same shown total is a
    correction, and keeps the exact stored total."""
    result = await _result(sessionmaker, org.staff_id, org.published_cycle)
    exact = 64.70588235294117  # grade C under the default bands (60 <= total < 70)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(AppraisalResult).where(AppraisalResult.id == result.id).values(total_score=exact, grade=Grade.C)
        )
    shown = await _correct(app_client, resultId=str(result.id), totalScore=64.71, reason="as shown")
    refused = (shown["__typename"], shown.get("code"), shown.get("field"))
    assert refused == ("InvalidInputError", "INVALID_INPUT", "totalScore"), shown
    assert "64.71" in shown["message"]
    assert await _revisions(sessionmaker, result.id) == (0, 0)
    assert (await _result(sessionmaker, org.staff_id, org.published_cycle)).total_score == exact

    regraded = await _correct(
        app_client, resultId=str(result.id), totalScore=64.71, grade="D", gradeOverride=True, reason="misconduct"
    )
    assert regraded["__typename"] == "ResultCorrected", regraded
    assert (regraded["result"]["totalScore"], regraded["result"]["grade"]) == (64.71, "D")
    assert (await _result(sessionmaker, org.staff_id, org.published_cycle)).total_score == exact
    assert await _revisions(sessionmaker, result.id) == (1, 1)


async def test_result_correct_is_for_published_results_and_hr_admin_only(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """Before publication resultCorrect is a StateError (calibrate instead); a manager may not call it at all."""
    unpublished = await _result(sessionmaker, org.staff_id, org.unpublished_cycle)
    published = await _result(sessionmaker, org.staff_id, org.published_cycle)

    refused = await _correct(app_client, resultId=str(unpublished.id), totalScore=80.0, reason="r")
    assert (refused["__typename"], refused["code"]) == ("StateError", "WRONG_CYCLE_STATE")
    assert "calibrate" in refused["message"]

    manager = app_client.as_principal("manager", org.manager_no)
    body = await manager.execute(CORRECT, {"input": {"resultId": str(published.id), "totalScore": 80.0, "reason": "r"}})
    assert body["data"]["resultCorrect"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await _result(sessionmaker, org.staff_id, org.published_cycle)).total_score == published.total_score
    await _correct(
        app_client, resultId=str(published.id), totalScore=80.0 if published.total_score != 80 else 81.0, reason="r"
    )
    async with sessionmaker() as session:
        entries = (
            await session.execute(
                select(AuditEntry.outcome, AuditEntry.ids, AuditEntry.roles)
                .where(AuditEntry.operation == "resultCorrect")
                .order_by(AuditEntry.id)
            )
        ).all()
    # Every call is audited: the refusal, the denial and the change (the change in its own transaction).
    assert [(entry.outcome, entry.roles) for entry in entries] == [
        ("WRONG_CYCLE_STATE", "hr_admin"),
        ("denied", "manager"),
        ("ok", "hr_admin"),
    ]
    assert f"result:{published.id}" in entries[-1].ids


async def test_the_history_costs_one_statement_per_page(
    app_client: GraphQLClient, org: Org, sessionmaker: Sessions
) -> None:
    """adjustments over 10 results costs what it costs over 60: one batch, not one read per result."""
    async with sessionmaker() as session:
        ids = (await session.scalars(result_ids(org.unpublished_cycle))).all()
    for result_id in (ids[0], ids[30]):
        await _calibrate(app_client, resultId=str(result_id), totalScore=70.0, reason="r")
    query = "query($c: ID!, $n: Int!) { results(cycleId: $c, first: $n) { edges { node { adjustments { kind } } } } }"

    counts = []
    for first in (10, 60):
        app_client.sql.reset()
        data = await app_client.data(query, {"c": str(org.unpublished_cycle), "n": first})
        counts.append(app_client.sql.count)
        shown = [node["node"]["adjustments"] for node in data["results"]["edges"]]
        assert sum(len(adjustments) for adjustments in shown) == (1 if first == 10 else 2)

    assert counts[0] == counts[1]
