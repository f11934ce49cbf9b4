"""Issue 13, point 5, through the API: what the workflow used to accept and now refuses, each refusal typed,
naming its field, and writing nothing (the audit's entry for the refused call aside)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, Employee, MetricValue, RaterAssignment, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import IndicatorCategory, RaterRole
from tests.conftest import GraphQLClient
from tests.hub.operations.test_ratings import _version as core_version
from tests.schema.test_refusal_fields import refusal

Sessions = async_sessionmaker[AsyncSession]


async def _count(sessionmaker: Sessions, table: Any) -> int:
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(table))) or 0


async def test_a_second_cycle_of_one_name_is_refused(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    async with sessionmaker() as session:
        taken = (await session.get_one(Cycle, seeded.current_cycle_id)).name
    before = await _count(sessionmaker, Cycle)
    mutation = """mutation($n: String!) { cycleCreate(input: {name: $n, periodStart: "2027-01-01",
      periodEnd: "2027-06-30"}) { REFUSAL } }"""
    assert await refusal(app_client, mutation, {"n": taken.upper()}) == {"code": "DUPLICATE_NAME", "field": "name"}
    assert await _count(sessionmaker, Cycle) == before


async def test_a_rating_between_anchors_and_a_manager_who_is_not_one_are_refused(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        manager = (
            await session.scalars(
                select(RaterAssignment).where(
                    RaterAssignment.cycle_id == cycle, RaterAssignment.role == RaterRole.MANAGER
                )
            )
        ).first()
        assert manager is not None
        stranger = await session.scalar(
            select(Employee.id).where(Employee.id.not_in([manager.ratee_id, manager.rater_id])).order_by(Employee.id)
        )
    assert stranger is not None
    ratings, assignments = await _count(sessionmaker, Rating), await _count(sessionmaker, RaterAssignment)

    submit = """mutation($i: RatingSubmitInput!) { ratingSubmit(input: $i) { REFUSAL } }"""
    half = {
        "cycleId": str(cycle),
        "rateeId": str(manager.ratee_id),
        "raterId": str(manager.rater_id),
        "indicatorVersionId": str(await core_version(sessionmaker, cycle, manager.ratee_id, IndicatorCategory.CORE)),
        "value": 3.5,
    }
    assert await refusal(app_client, submit, {"i": half}) == {"code": "NOT_A_SCALE_POINT", "field": "value"}

    assign = """mutation($i: RaterAssignInput!) { raterAssign(input: $i) { REFUSAL } }"""
    not_the_manager = {"cycleId": str(cycle), "rateeId": str(manager.ratee_id), "raterId": str(stranger)}
    answer = await refusal(app_client, assign, {"i": {**not_the_manager, "role": "MANAGER"}})
    assert answer == {"code": "WRONG_RATER_RELATIONSHIP", "field": "role"}
    assert (await _count(sessionmaker, Rating), await _count(sessionmaker, RaterAssignment)) == (ratings, assignments)


async def test_a_percentage_of_180_is_refused_by_the_import(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    before = await _count(sessionmaker, MetricValue)
    async with sessionmaker() as session:
        employee = await session.scalar(select(Employee.employee_no).order_by(Employee.id))
    csv = f"employee_no,indicator,value\n{employee},VOUCHER_ERROR_RATE,180\n"
    mutation = """mutation($c: ID!, $csv: String!) { metricValuesImport(cycleId: $c, csv: $csv) { REFUSAL } }"""
    answer = await refusal(app_client, mutation, {"c": str(seeded.current_cycle_id), "csv": csv})
    assert answer == {"code": "IMPORT_REJECTED", "field": "csv"}
    assert await _count(sessionmaker, MetricValue) == before


async def test_a_calibrated_grade_the_bands_do_not_give_needs_an_explicit_override(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    await app_client.data(f'mutation {{ cycleScore(cycleId: "{seeded.current_cycle_id}") {{ __typename }} }}')
    async with sessionmaker() as session:
        result = (
            await session.scalars(select(AppraisalResult).where(AppraisalResult.cycle_id == seeded.current_cycle_id))
        ).first()
    assert result is not None
    mutation = """mutation($i: ResultCalibrateInput!) { resultCalibrate(input: $i) {
      REFUSAL ... on ResultCalibrated { result { grade totalScore calibrated } } } }"""
    slip = {"resultId": str(result.id), "totalScore": 95, "grade": "D", "reason": "committee"}
    assert await refusal(app_client, mutation, {"i": slip}) == {"code": "GRADE_DISAGREES_WITH_BANDS", "field": "grade"}
    async with sessionmaker() as session:
        assert (await session.get_one(AppraisalResult, result.id)).calibrated is False
    meant = {**slip, "gradeOverride": True, "reason": "95 on paper; the committee found the work plagiarised"}
    data = await app_client.data(mutation.replace("REFUSAL", "__typename"), {"i": meant})
    assert data["resultCalibrate"]["result"] == {"grade": "D", "totalScore": 95.0, "calibrated": True}
