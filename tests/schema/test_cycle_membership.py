"""Who takes part in a cycle, as rater assignments see it (issue 13 review, F2 and F8): a rater is assigned only
for a ratee who takes part (``NOT_A_PARTICIPANT``, naming the employee number; in bulk by index), and joining
someone already in the cycle changes nothing and writes no transition."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import CycleTransition, Employee, Post, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import GraphQLClient
from tests.schema.test_cycle_leave import JOIN, LEAVE, count
from tests.schema.test_cycle_participants import answer, new_cycle
from tests.schema.test_rater_assign_many import ASSIGN_MANY, item

Sessions = async_sessionmaker[AsyncSession]
ASSIGN = """
mutation($c: ID!, $ratee: ID!, $rater: ID!) {
  raterAssign(input: {cycleId: $c, rateeId: $ratee, raterId: $rater, role: PEER}) {
    __typename ... on MutationError { code field message }
  }
}
"""


async def first_of_family(sessionmaker: Sessions, family: str) -> tuple[int, str]:
    """The lowest-numbered active employee of a post of the family: (id, employee number)."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(Employee.id, Employee.employee_no)
                .join(Post, Post.id == Employee.post_id)
                .where(Post.family == family)
                .order_by(Employee.id)
                .limit(1)
            )
        ).one()
    return row.id, row.employee_no


async def security_people(sessionmaker: Sessions) -> tuple[int, int]:
    """The ids of the two lowest-numbered people in SECURITY posts."""
    async with sessionmaker() as session:
        first, second = (
            await session.scalars(
                select(Employee.id)
                .join(Post, Post.id == Employee.post_id)
                .where(Post.family == "SECURITY")
                .order_by(Employee.id)
                .limit(2)
            )
        ).all()
    return first, second


async def security_cycle(client: GraphQLClient, name: str = "Security only") -> str:
    """An OPEN cycle that pins only the SECURITY posts."""
    cycle = await new_cycle(client, name)
    opened = """mutation($c: ID!) { cycleOpen(cycleId: $c, families: ["SECURITY"]) { __typename } }"""
    assert (await client.data(opened, {"c": cycle}))["cycleOpen"]["__typename"] == "CycleChanged"
    return cycle


async def test_a_ratee_outside_the_cycle_is_refused_by_number(
    app_client: GraphQLClient, sessionmaker: Sessions
) -> None:
    cycle = await security_cycle(app_client)
    insider, _ = await first_of_family(sessionmaker, "SECURITY")
    outsider, number = await first_of_family(sessionmaker, "ADMIN")
    before = await count(sessionmaker, RaterAssignment, RaterAssignment.cycle_id == int(cycle))
    refused = await answer(app_client, ASSIGN, c=cycle, ratee=str(outsider), rater=str(insider))
    assert (refused["code"], refused["field"]) == ("NOT_A_PARTICIPANT", "rateeId"), refused
    assert f"employee {number} " in refused["message"]
    # In bulk: listed by its index among the other items, and nothing is stored.
    given = [item(insider, outsider, RaterRole.PEER), item(outsider, insider, RaterRole.PEER)]
    bulk = (await app_client.data(ASSIGN_MANY, {"c": cycle, "a": given}))["raterAssignMany"]
    assert bulk["__typename"] == "ImportRejectedError"
    assert [(p["line"], p["code"]) for p in bulk["problems"]] == [(1, "NOT_A_PARTICIPANT")]
    assert number in bulk["problems"][0]["message"]
    assert await count(sessionmaker, RaterAssignment, RaterAssignment.cycle_id == int(cycle)) == before
    # The insider can be rated by the outsider: only the ratee must take part.
    allowed = await answer(app_client, ASSIGN, c=cycle, ratee=str(insider), rater=str(outsider))
    assert allowed["__typename"] == "RaterAssigned", allowed


async def test_a_ratee_taken_out_of_the_cycle_is_refused(app_client: GraphQLClient, sessionmaker: Sessions) -> None:
    cycle = await security_cycle(app_client)
    person, number = await first_of_family(sessionmaker, "SECURITY")
    async with sessionmaker() as session:
        other = await session.scalar(
            select(Employee.id)
            .join(Post, Post.id == Employee.post_id)
            .where(Post.family == "SECURITY", Employee.id != person)
        )
    assert (await answer(app_client, LEAVE, c=cycle, people=[str(person)], reason="on leave"))[
        "__typename"
    ] == "CycleLeft"
    refused = await answer(app_client, ASSIGN, c=cycle, ratee=str(person), rater=str(other))
    assert refused["code"] == "NOT_A_PARTICIPANT" and number in refused["message"], refused


async def test_joining_someone_already_in_the_cycle_changes_nothing(
    app_client: GraphQLClient, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        person = await session.scalar(
            select(RaterAssignment.ratee_id)
            .where(RaterAssignment.cycle_id == cycle, RaterAssignment.ratee_id == RaterAssignment.rater_id)
            .order_by(RaterAssignment.ratee_id)
            .limit(1)
        )
    steps = CycleTransition.cycle_id == cycle
    before = (await count(sessionmaker, CycleTransition, steps), await count(sessionmaker, RaterAssignment))
    for _ in range(2):
        joined = await answer(app_client, JOIN, c=str(cycle), people=[str(person)])
        assert joined["__typename"] == "CycleChanged", joined
    assert (await count(sessionmaker, CycleTransition, steps), await count(sessionmaker, RaterAssignment)) == before
    # Someone taken out and joined again is a change: one "joined" transition.
    assert (await answer(app_client, LEAVE, c=str(cycle), people=[str(person)], reason="x"))[
        "__typename"
    ] == "CycleLeft"
    left = await count(sessionmaker, CycleTransition, steps)
    assert (await answer(app_client, JOIN, c=str(cycle), people=[str(person)]))["__typename"] == "CycleChanged"
    assert (await answer(app_client, JOIN, c=str(cycle), people=[str(person)]))["__typename"] == "CycleChanged"
    assert await count(sessionmaker, CycleTransition, steps) == left + 1


TRANSFER = """
mutation($e: ID!, $post: ID!, $day: Date!) {
  employeeTransfer(input: {employeeId: $e, postId: $post, effectiveDate: $day}) {
    __typename ... on MutationError { code message }
  }
}
"""
NOTES = """query($c: ID!) { cycle(id: $c) { transitions { note } } }"""


async def test_a_transfer_out_of_the_cycles_posts_withdraws_the_movers_tasks(
    app_client: GraphQLClient, sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = await security_cycle(app_client)  # 2026-10-01 .. 2026-12-31, SECURITY posts only
    mover, late_mover = await security_people(sessionmaker)
    async with sessionmaker() as session:
        number = await session.scalar(select(Employee.employee_no).where(Employee.id == mover))
        admin_post = await session.scalar(select(Post.id).where(Post.family == "ADMIN").order_by(Post.id).limit(1))
    as_ratee = RaterAssignment.ratee_id == mover

    def in_cycle(cycle_id: int) -> ColumnElement[bool]:
        return RaterAssignment.cycle_id == cycle_id

    expected = await count(sessionmaker, RaterAssignment, as_ratee, in_cycle(int(cycle)))
    elsewhere = await count(sessionmaker, RaterAssignment, as_ratee, ~in_cycle(int(cycle)))
    assert expected >= 1  # opening gave them their SELF task at least
    # A move after the period's last day: still in a SECURITY post then, so nothing changes.
    notes = len((await app_client.data(NOTES, {"c": cycle}))["cycle"]["transitions"])
    late = await answer(app_client, TRANSFER, e=str(late_mover), post=str(admin_post), day="2027-01-15")
    assert late["__typename"] == "EmployeeChanged", late
    assert len((await app_client.data(NOTES, {"c": cycle}))["cycle"]["transitions"]) == notes
    assert await count(sessionmaker, RaterAssignment, RaterAssignment.ratee_id == late_mover, in_cycle(int(cycle)))
    # A move within the period to a post the cycle does not pin: out of the cycle, noted.
    moved = await answer(app_client, TRANSFER, e=str(mover), post=str(admin_post), day="2026-11-15")
    assert moved["__typename"] == "EmployeeChanged", moved
    assert await count(sessionmaker, RaterAssignment, as_ratee, in_cycle(int(cycle))) == 0
    last = (await app_client.data(NOTES, {"c": cycle}))["cycle"]["transitions"][-1]["note"]
    withdrawn = f"{expected} rater assignment(s) withdrawn"
    assert last == f"moved out of the cycle's posts: employee {number}, from 2026-11-15; {withdrawn}"
    # Cycles that pin the new post too (the seeded ones pin every post) keep them.
    assert await count(sessionmaker, RaterAssignment, as_ratee, ~in_cycle(int(cycle))) == elsewhere
    # And nobody can be given a task for them in the cycle they left.
    refused = await answer(app_client, ASSIGN, c=cycle, ratee=str(mover), rater=str(late_mover))
    assert refused["code"] == "NOT_A_PARTICIPANT", refused


DEACTIVATE = """
mutation($e: ID!, $day: Date!) {
  employeeDeactivate(input: {employeeId: $e, leftOn: $day}) { __typename ... on MutationError { code message } }
}
"""


async def test_a_leaver_takes_part_in_the_cycles_they_work_through(
    app_client: GraphQLClient, sessionmaker: Sessions
) -> None:
    cycle = await security_cycle(app_client)  # 2026-10-01 .. 2026-12-31, SECURITY posts only
    stays, goes = await security_people(sessionmaker)
    in_cycle = RaterAssignment.cycle_id == int(cycle)
    kept = await count(sessionmaker, RaterAssignment, in_cycle, RaterAssignment.ratee_id == stays)
    assert kept >= 1
    notes = len((await app_client.data(NOTES, {"c": cycle}))["cycle"]["transitions"])
    # Notice given, last day after the period: still a participant, nothing withdrawn, nothing noted.
    notice = await answer(app_client, DEACTIVATE, e=str(stays), day="2027-01-15")
    assert notice["__typename"] == "EmployeeChanged", notice
    assert await count(sessionmaker, RaterAssignment, in_cycle, RaterAssignment.ratee_id == stays) == kept
    assert len((await app_client.data(NOTES, {"c": cycle}))["cycle"]["transitions"]) == notes
    joined = await answer(app_client, JOIN, c=cycle, people=[str(stays)])  # already in: a no-op, not a refusal
    assert joined["__typename"] == "CycleChanged", joined
    # Last day within the period: out of it, as before.
    gone = await answer(app_client, DEACTIVATE, e=str(goes), day="2026-11-20")
    assert gone["__typename"] == "EmployeeChanged", gone
    assert await count(sessionmaker, RaterAssignment, in_cycle, RaterAssignment.ratee_id == goes) == 0
    refused = await answer(app_client, JOIN, c=cycle, people=[str(goes)])
    assert refused["code"] == "INVALID_INPUT" and "leaves before the period's last day" in refused["message"]
    # A new cycle of the same period opened now counts the one who works through it, not the one gone.
    second = await security_cycle(app_client, "Security again")
    ratees = set(await _ratees(sessionmaker, int(second)))
    assert stays in ratees and goes not in ratees


async def _ratees(sessionmaker: Sessions, cycle: int) -> list[int]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(RaterAssignment.ratee_id).where(RaterAssignment.cycle_id == cycle)))
