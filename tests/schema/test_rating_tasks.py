"""Rating tasks: a rater's own list, a ratee's raters by role, and a cycle's progress, in the demo's OPEN cycle.

Expectations are counted from the tables by the test's own SQL, never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, Employee, RaterAssignment, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import TEST_SECRET, GraphQLClient

TASKS = """
query($id: ID!, $c: ID!) {
  employee(id: $id) {
    ratingTasks(cycleId: $c) {
      ratee { id employeeNo name } role submitted
      indicators { id rule }
      ratings { value comment indicatorVersion { id } }
    }
  }
}
"""
EXPECTED = """
query($id: ID!, $c: ID!) {
  employee(id: $id) { expectedRaters(cycleId: $c) { role expected submitted pending { id name } } }
}
"""
PROGRESS = "query($c: ID!) { cycle(id: $c) { progress { department { id } role expected submitted } } }"
RATE = """
mutation($input: RatingSubmitInput!) {
  ratingSubmit(input: $input) { __typename ... on MutationError { code message } }
}
"""


@dataclass(frozen=True)
class Pair:
    rater_id: int
    rater_no: str
    ratee_id: int
    ratee_no: str
    role: RaterRole


@pytest.fixture
async def pair(seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]) -> Pair:
    """A PEER pair of the demo's OPEN cycle, its rater's ratings of that ratee cleared."""
    cycle_id = seeded.current_cycle_id
    rater = Employee.__table__.alias("rater")
    ratee = Employee.__table__.alias("ratee")
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(RaterAssignment.rater_id, rater.c.employee_no, RaterAssignment.ratee_id, ratee.c.employee_no)
                .join(rater, rater.c.id == RaterAssignment.rater_id)
                .join(ratee, ratee.c.id == RaterAssignment.ratee_id)
                .where(RaterAssignment.cycle_id == cycle_id, RaterAssignment.role == RaterRole.PEER)
                .order_by(RaterAssignment.id)
                .limit(1)
            )
        ).one()
        pair = Pair(row[0], row[1], row[2], row[3], RaterRole.PEER)
        await session.execute(
            delete(Rating).where(
                Rating.cycle_id == cycle_id, Rating.rater_id == pair.rater_id, Rating.ratee_id == pair.ratee_id
            )
        )
    return pair


async def assignments_of(
    sessionmaker: async_sessionmaker[AsyncSession],
    cycle_id: int,
    *,
    rater_id: int | None = None,
    ratee_id: int | None = None,
    role: RaterRole | None = None,
) -> int:
    conditions = [RaterAssignment.cycle_id == cycle_id]
    if rater_id is not None:
        conditions.append(RaterAssignment.rater_id == rater_id)
    if ratee_id is not None:
        conditions.append(RaterAssignment.ratee_id == ratee_id)
    if role is not None:
        conditions.append(RaterAssignment.role == role)
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(RaterAssignment).where(*conditions)) or 0)


async def manager_of(sessionmaker: async_sessionmaker[AsyncSession], employee_id: int) -> str:
    """The employee number of the employee's manager."""
    async with sessionmaker() as session:
        manager_id = await session.scalar(select(Employee.manager_id).where(Employee.id == employee_id))
        manager_no = await session.scalar(select(Employee.employee_no).where(Employee.id == manager_id))
    assert manager_no is not None
    return manager_no


async def refused(client: GraphQLClient, query: str, variables: dict[str, Any], parent: str, field: str) -> None:
    """The field is refused (null, FORBIDDEN) while its parent is there."""
    body = await client.execute(query, variables)
    assert body["data"][parent][field] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def task_reads(sessionmaker: async_sessionmaker[AsyncSession]) -> list[list[str]]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(AuditEntry.ids).where(AuditEntry.operation == "Employee.ratingTasks").order_by(AuditEntry.id)
        )
        return list(found)


async def tasks_of(client: GraphQLClient, rater_id: int, cycle_id: int) -> list[dict[str, Any]]:
    data = await client.data(TASKS, {"id": str(rater_id), "c": str(cycle_id)})
    tasks: list[dict[str, Any]] = data["employee"]["ratingTasks"]
    return tasks


async def test_a_rater_sees_their_tasks_and_their_own_ratings_while_the_cycle_is_open(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], pair: Pair
) -> None:
    cycle = seeded.current_cycle_id
    rater = app_client.as_principal("employee", pair.rater_no)

    tasks = await tasks_of(rater, pair.rater_id, cycle)
    assert len(tasks) == await assignments_of(sessionmaker, cycle, rater_id=pair.rater_id)
    task = next(t for t in tasks if t["ratee"]["id"] == str(pair.ratee_id))
    # A peer is outside an employee's row scope; the task still says whom to rate.
    assert task["ratee"]["employeeNo"] == pair.ratee_no and task["ratee"]["name"]
    assert task["role"] == "PEER" and task["submitted"] is False and task["ratings"] == []
    assert task["indicators"], "a people-rated scheme has indicators to rate"
    assert all(indicator["rule"]["kind"] == "rating" for indicator in task["indicators"])

    first, *rest = task["indicators"]
    variables = {
        "cycleId": str(cycle),
        "rateeId": str(pair.ratee_id),
        "raterId": str(pair.rater_id),
        "indicatorVersionId": first["id"],
        "value": float(first["rule"]["max"]),
        "comment": "mine",
    }
    assert (await rater.data(RATE, {"input": variables}))["ratingSubmit"]["__typename"] == "RatingSubmitted"
    task = next(t for t in await tasks_of(rater, pair.rater_id, cycle) if t["ratee"]["id"] == str(pair.ratee_id))
    assert task["ratings"] == [
        {"value": float(first["rule"]["max"]), "comment": "mine", "indicatorVersion": {"id": first["id"]}}
    ]
    assert task["submitted"] is (not rest)

    for indicator in rest:
        rating = {**variables, "indicatorVersionId": indicator["id"], "value": float(indicator["rule"]["min"])}
        assert (await rater.data(RATE, {"input": rating}))["ratingSubmit"]["__typename"] == "RatingSubmitted"
    task = next(t for t in await tasks_of(rater, pair.rater_id, cycle) if t["ratee"]["id"] == str(pair.ratee_id))
    assert task["submitted"] is True and len(task["ratings"]) == len(task["indicators"])


async def test_nobody_but_hr_reads_someone_elses_tasks_not_even_their_manager(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], pair: Pair
) -> None:
    cycle = seeded.current_cycle_id
    manager_no = await manager_of(sessionmaker, pair.rater_id)
    # The manager reaches the rater's row, but a task lists the rater's anonymous ratings: refused.
    manager = app_client.as_principal("manager", manager_no)
    await refused(manager, TASKS, {"id": str(pair.rater_id), "c": str(cycle)}, "employee", "ratingTasks")
    # The ratee (an employee) does not reach the rater's row at all.
    ratee = app_client.as_principal("employee", pair.ratee_no)
    assert (await ratee.data(TASKS, {"id": str(pair.rater_id), "c": str(cycle)}))["employee"] is None
    # hr_admin reads every rater's tasks, and each such read is audited (a task lists anonymous ratings);
    # the rater's own reads are not.
    await tasks_of(app_client.as_principal("employee", pair.rater_no), pair.rater_id, cycle)
    assert await task_reads(sessionmaker) == []
    assert len(await tasks_of(app_client, pair.rater_id, cycle)) == await assignments_of(
        sessionmaker, cycle, rater_id=pair.rater_id
    )
    assert await task_reads(sessionmaker) == [[f"cycle:{cycle}", f"employee:{pair.rater_id}"]]
    # An unknown cycle has no tasks.
    assert await tasks_of(app_client, pair.rater_id, 999_999) == []


async def test_a_ratees_raters_by_role_name_anonymous_raters_to_hr_only(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], pair: Pair
) -> None:
    cycle = seeded.current_cycle_id
    manager_no = await manager_of(sessionmaker, pair.ratee_id)
    variables = {"id": str(pair.ratee_id), "c": str(cycle)}

    as_hr = {
        group["role"]: group for group in (await app_client.data(EXPECTED, variables))["employee"]["expectedRaters"]
    }
    assert sum(group["expected"] for group in as_hr.values()) == await assignments_of(
        sessionmaker, cycle, ratee_id=pair.ratee_id
    )
    for role, group in as_hr.items():
        assert group["expected"] == await assignments_of(
            sessionmaker, cycle, ratee_id=pair.ratee_id, role=RaterRole(role)
        )
    peers = as_hr["PEER"]
    # The pair's ratings were cleared: the rater is pending, and HR is told who.
    assert str(pair.rater_id) in {person["id"] for person in peers["pending"]}
    assert peers["submitted"] == peers["expected"] - len(peers["pending"])

    manager = app_client.as_principal("manager", manager_no)
    as_manager = {g["role"]: g for g in (await manager.data(EXPECTED, variables))["employee"]["expectedRaters"]}
    assert as_manager["PEER"] == {"role": "PEER", "expected": peers["expected"], "submitted": None, "pending": None}
    if "SELF" in as_hr:  # a named role: the manager chases it
        assert as_manager["SELF"] == as_hr["SELF"]

    # The ratee themselves may not read who rates them.
    await refused(app_client.as_principal("employee", pair.ratee_no), EXPECTED, variables, "employee", "expectedRaters")


async def test_cycle_progress_counts_every_pair_for_hr_and_a_managers_people_for_them(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], pair: Pair
) -> None:
    cycle = seeded.current_cycle_id
    rows = (await app_client.data(PROGRESS, {"c": str(cycle)}))["cycle"]["progress"]
    assert sum(row["expected"] for row in rows) == await assignments_of(sessionmaker, cycle)
    assert all(row["submitted"] is not None and row["submitted"] <= row["expected"] for row in rows)
    assert any(row["submitted"] < row["expected"] for row in rows if row["role"] == "PEER")

    manager_no = await manager_of(sessionmaker, pair.ratee_id)
    async with sessionmaker() as session:
        # The manager's reporting line, at any depth.
        people: set[int] = set()
        frontier = set(await session.scalars(select(Employee.id).where(Employee.employee_no == manager_no)))
        while frontier:
            frontier = set(await session.scalars(select(Employee.id).where(Employee.manager_id.in_(frontier)))) - people
            people |= frontier
        theirs = await session.scalar(
            select(func.count())
            .select_from(RaterAssignment)
            .where(RaterAssignment.cycle_id == cycle, RaterAssignment.ratee_id.in_(people))
        )
    manager = app_client.as_principal("manager", manager_no)
    mine = (await manager.data(PROGRESS, {"c": str(cycle)}))["cycle"]["progress"]
    assert sum(row["expected"] for row in mine) == theirs
    assert all(row["submitted"] is None for row in mine if row["role"] in ("PEER", "SUBORDINATE"))

    await refused(app_client.as_principal("employee", pair.rater_no), PROGRESS, {"c": str(cycle)}, "cycle", "progress")


async def test_a_raters_tasks_cost_the_same_statements_however_many_they_are(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        raters = await session.scalars(select(RaterAssignment.rater_id).where(RaterAssignment.cycle_id == cycle))
        counts = sorted(Counter(raters).items(), key=lambda item: (item[1], item[0]))
    fewest, most = counts[0], counts[-1]
    assert most[1] > fewest[1]
    spent = []
    for rater_id, expected in (fewest, most):
        app_client.sql.reset()
        assert len(await tasks_of(app_client, rater_id, cycle)) == expected
        spent.append(app_client.sql.count)
    assert spent[0] == spent[1]


async def test_a_managers_other_roles_never_widen_their_rating_progress(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession], pair: Pair
) -> None:
    """A token holding manager and training (or payroll) reaches every employee, but rating progress follows the
    manager's people only: the wider roles have no part in chasing raters."""
    cycle = seeded.current_cycle_id
    manager_no = await manager_of(sessionmaker, pair.ratee_id)
    alone = (await app_client.as_principal("manager", manager_no).data(PROGRESS, {"c": str(cycle)}))["cycle"]
    settings = app_client.settings
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "manager-and-training",
        "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
        "roles": ["manager", "training"],
        "employee_no": manager_no,
    }
    widened = app_client.with_token(jwt.encode(claims, TEST_SECRET, algorithm="HS256"))
    assert (await widened.data(PROGRESS, {"c": str(cycle)}))["cycle"] == alone
