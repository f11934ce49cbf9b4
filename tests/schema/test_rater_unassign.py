"""raterUnassign: an evaluation relationship removed from a DRAFT or OPEN cycle, its submitted ratings only when
discarded on purpose with a reason (the audit entry keeps their values); SELF and a lone MANAGER stay; every
refusal is typed and leaves assignments, ratings and the audit's ok entries as they were."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, Employee, RaterAssignment, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import GraphQLClient
from tests.hub.operations.test_assignments import assignments_of, reports

Sessions = async_sessionmaker[AsyncSession]
UNASSIGN = """
mutation($c: ID!, $ratee: ID!, $rater: ID!, $discard: Boolean!, $reason: String) {
  raterUnassign(input: {cycleId: $c, rateeId: $ratee, raterId: $rater, discardRatings: $discard, reason: $reason}) {
    __typename
    ... on RaterUnassigned { assignment { role ratee { id } rater { id } } discardedRatings { role value } }
    ... on MutationError { code field message }
  }
}
"""
ASSIGN = """
mutation($c: ID!, $ratee: ID!, $rater: ID!, $role: RaterRole!) {
  raterAssign(input: {cycleId: $c, rateeId: $ratee, raterId: $rater, role: $role}) { __typename }
}
"""


async def unassign(
    client: GraphQLClient, cycle: int, ratee: int, rater: int, *, discard: bool = False, reason: str | None = None
) -> dict[str, Any]:
    variables = {"c": str(cycle), "ratee": str(ratee), "rater": str(rater), "discard": discard, "reason": reason}
    answer: dict[str, Any] = (await client.data(UNASSIGN, variables))["raterUnassign"]
    return answer


async def assign(client: GraphQLClient, cycle: int, ratee: int, rater: int, role: RaterRole) -> None:
    variables = {"c": str(cycle), "ratee": str(ratee), "rater": str(rater), "role": role.value}
    assert (await client.data(ASSIGN, variables))["raterAssign"]["__typename"] == "RaterAssigned"


async def ratings_of(sessionmaker: Sessions, cycle: int) -> set[tuple[int, int, int, float]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Rating.ratee_id, Rating.rater_id, Rating.indicator_version_id, Rating.value).where(
                Rating.cycle_id == cycle
            )
        )
        return {(a, b, c, d) for a, b, c, d in rows}


async def first_pair(sessionmaker: Sessions, statement: Select[int, int]) -> tuple[int, int]:
    """The (ratee, rater) of the statement's first row: the demo has one of each kind the tests ask for."""
    async with sessionmaker() as session:
        row = (await session.execute(statement.limit(1))).first()
    assert row is not None, statement
    return row[0], row[1]


def pairs_in(cycle: int, role: RaterRole) -> Select[int, int]:
    return (
        select(RaterAssignment.ratee_id, RaterAssignment.rater_id)
        .where(RaterAssignment.cycle_id == cycle, RaterAssignment.role == role)
        .order_by(RaterAssignment.id)
    )


async def entries(sessionmaker: Sessions) -> list[AuditEntry]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.operation == "raterUnassign")))


async def test_a_relationship_without_ratings_is_removed_and_audited(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    (a, _), (b, _) = await reports(sessionmaker, 2)
    await assign(app_client, cycle, a, b, RaterRole.PEER)
    before = await assignments_of(sessionmaker, cycle)

    removed = await unassign(app_client, cycle, a, b)

    assert removed == {
        "__typename": "RaterUnassigned",
        "assignment": {"role": "PEER", "ratee": {"id": str(a)}, "rater": {"id": str(b)}},
        "discardedRatings": [],
    }
    assert await assignments_of(sessionmaker, cycle) == before - {(a, b, RaterRole.PEER)}
    (entry,) = await entries(sessionmaker)
    assert entry.outcome == "ok" and f"cycle:{cycle}" in entry.ids
    assert sum(i.startswith("assignment:") for i in entry.ids) == 1


async def test_submitted_ratings_are_discarded_only_on_purpose_and_with_a_reason(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    rated = select(Rating.ratee_id, Rating.rater_id).where(Rating.cycle_id == cycle, Rating.role == RaterRole.PEER)
    ratee, rater = await first_pair(sessionmaker, rated)
    assignments, ratings = await assignments_of(sessionmaker, cycle), await ratings_of(sessionmaker, cycle)
    theirs = {r for r in ratings if r[:2] == (ratee, rater)}

    refused = await unassign(app_client, cycle, ratee, rater)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "StateError",
        "RATINGS_SUBMITTED",
        "discardRatings",
    )
    assert f"submitted {len(theirs)} rating(s)" in refused["message"]
    no_reason = await unassign(app_client, cycle, ratee, rater, discard=True, reason="  ")
    assert (no_reason["__typename"], no_reason["field"]) == ("InvalidInputError", "reason")
    # Nothing half-written: the assignment and every rating are still there, and no ok entry was written.
    assert await assignments_of(sessionmaker, cycle) == assignments
    assert await ratings_of(sessionmaker, cycle) == ratings
    assert [e.outcome for e in await entries(sessionmaker)] == ["RATINGS_SUBMITTED", "INVALID_INPUT"]

    removed = await unassign(app_client, cycle, ratee, rater, discard=True, reason="rated the wrong colleague")
    assert removed["__typename"] == "RaterUnassigned", removed
    assert sorted(r["value"] for r in removed["discardedRatings"]) == sorted(r[3] for r in theirs)
    assert await ratings_of(sessionmaker, cycle) == ratings - theirs
    assert await assignments_of(sessionmaker, cycle) == assignments - {(ratee, rater, RaterRole.PEER)}
    entry = (await entries(sessionmaker))[-1]
    assert entry.outcome == "ok" and "reason:rated the wrong colleague" in entry.ids
    before_values = [i for i in entry.ids if " was " in i]
    assert len(before_values) == len(theirs)
    assert all(f" was {r[3]:g} on indicatorVersion:{r[2]} as PEER" in " ".join(before_values) for r in theirs)


async def test_self_stays_and_a_manager_goes_only_once_replaced(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    ratee, manager = await first_pair(sessionmaker, pairs_in(cycle, RaterRole.MANAGER))
    assignments = await assignments_of(sessionmaker, cycle)
    for rater in (ratee, manager):
        refused = await unassign(app_client, cycle, ratee, rater, discard=True, reason="mistake")
        assert (refused["__typename"], refused["code"], refused["field"]) == ("StateError", "RATER_REQUIRED", "raterId")
    assert await assignments_of(sessionmaker, cycle) == assignments

    # The ratee moves to a new manager, who is assigned: the former one can then be removed.
    (new_manager, _), *_ = [pair for pair in await reports(sessionmaker, 10) if pair[0] not in (ratee, manager)]
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Employee).where(Employee.id == ratee).values(manager_id=new_manager))
    await assign(app_client, cycle, ratee, new_manager, RaterRole.MANAGER)
    removed = await unassign(app_client, cycle, ratee, manager, discard=True, reason="moved to another team")
    assert removed["__typename"] == "RaterUnassigned", removed
    assert removed["assignment"]["role"] == "MANAGER"


async def test_what_is_not_there_or_past_open_is_a_typed_refusal(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    (a, _), (b, _) = await reports(sessionmaker, 2)
    async with sessionmaker() as session:
        numbers = dict((await session.execute(select(Employee.id, Employee.employee_no))).all())
    assignments = await assignments_of(sessionmaker, cycle)
    missing = await unassign(app_client, cycle, a, b)
    assert (missing["__typename"], missing["field"]) == ("NotFoundError", "raterId")
    assert missing["message"] == f"employee {numbers[b]} is not a rater of employee {numbers[a]} in this cycle"
    nobody = await unassign(app_client, cycle, 10**9, b)
    assert (nobody["__typename"], nobody["field"]) == ("NotFoundError", "rateeId")
    past = seeded.past_cycle_id
    pair = await first_pair(sessionmaker, pairs_in(past, RaterRole.PEER))
    published = await unassign(app_client, past, *pair)
    assert (published["__typename"], published["code"]) == ("StateError", "WRONG_CYCLE_STATE")
    assert await assignments_of(sessionmaker, cycle) == assignments
    manager = app_client.as_principal("manager", numbers[a])
    denied = await manager.execute(UNASSIGN, {"c": str(cycle), "ratee": str(a), "rater": str(b), "discard": False})
    assert denied["data"] == {"raterUnassign": None}
    assert [error["extensions"]["code"] for error in denied["errors"]] == ["FORBIDDEN"]
