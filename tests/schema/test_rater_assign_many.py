"""raterAssignMany through the API (issue 13, point 3): every relationship with one audit entry, or none and
every bad item listed by its index with the code raterAssign would have answered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, Employee
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import GraphQLClient
from tests.hub.operations.test_assignments import assignments_of, reports

Sessions = async_sessionmaker[AsyncSession]
ASSIGN_MANY = """
mutation($c: ID!, $a: [RaterAssignmentInput!]!) {
  raterAssignMany(input: {cycleId: $c, assignments: $a}) {
    __typename
    ... on RatersAssigned { assignments { role ratee { id } rater { id } } }
    ... on ImportRejectedError { code field problems { line code message } }
  }
}
"""


def item(ratee: int, rater: int, role: RaterRole) -> dict[str, str]:
    return {"rateeId": str(ratee), "raterId": str(rater), "role": role.value}


async def test_many_assignments_are_one_change_with_one_entry(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    (a, boss), (b, _) = await reports(sessionmaker, 2)
    given = [item(boss, a, RaterRole.SUBORDINATE), item(a, b, RaterRole.PEER)]
    answer = (await app_client.data(ASSIGN_MANY, {"c": str(seeded.current_cycle_id), "a": given}))["raterAssignMany"]
    assert answer["__typename"] == "RatersAssigned"
    assert [
        item(int(x["ratee"]["id"]), int(x["rater"]["id"]), RaterRole(x["role"])) for x in answer["assignments"]
    ] == given
    async with sessionmaker() as session:
        (entry,) = (await session.scalars(select(AuditEntry).where(AuditEntry.operation == "raterAssignMany"))).all()
    assert entry.outcome == "ok"
    assert sum(i.startswith("assignment:") for i in entry.ids) == 2 and f"cycle:{seeded.current_cycle_id}" in entry.ids


async def test_a_bad_item_refuses_them_all_and_names_each_by_index(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    (a, boss), (b, _) = await reports(sessionmaker, 2)
    before = await assignments_of(sessionmaker, cycle)
    given = [item(a, b, RaterRole.PEER), item(boss, b, RaterRole.SUBORDINATE), item(a, a, RaterRole.PEER)]
    answer = (await app_client.data(ASSIGN_MANY, {"c": str(cycle), "a": given}))["raterAssignMany"]
    assert answer["__typename"] == "ImportRejectedError"
    assert (answer["code"], answer["field"]) == ("ASSIGNMENTS_REJECTED", "assignments")
    assert [(p["line"], p["code"]) for p in answer["problems"]] == [
        (1, "WRONG_RATER_RELATIONSHIP"),
        (2, "INVALID_INPUT"),
    ]
    assert await assignments_of(sessionmaker, cycle) == before
    async with sessionmaker() as session:
        outcomes = await session.scalars(select(AuditEntry.outcome).where(AuditEntry.operation == "raterAssignMany"))
        assert list(outcomes) == ["ASSIGNMENTS_REJECTED"]


async def test_only_hr_assigns_in_bulk_or_adopts(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    (a, boss), (b, _) = await reports(sessionmaker, 2)
    async with sessionmaker() as session:
        number = await session.scalar(select(Employee.employee_no).where(Employee.id == boss))
    manager = app_client.as_principal("manager", number)
    cycle = seeded.current_cycle_id
    before = await assignments_of(sessionmaker, cycle)
    denied = await manager.execute(ASSIGN_MANY, {"c": str(cycle), "a": [item(a, b, RaterRole.PEER)]})
    adopt = 'mutation { indicatorVersionAdopt(indicatorVersionId: "1", effectiveFrom: "2027-01-01", changeNote: "x") '
    refused = await manager.execute(adopt + "{ __typename } }")
    for body in (denied, refused):
        assert list(body["data"].values()) == [None]
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await assignments_of(sessionmaker, cycle) == before
