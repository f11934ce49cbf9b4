"""Rater assignments in bulk (issue 13, point 3): all of them in one transaction, or none with every bad item
listed by its index."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from hub.operations.assignments import MAX_ASSIGNMENTS, RaterAssignManyInput, RaterAssignmentInput, assign_raters
from hub.operations.commands import Caller
from hub.operations.errors import AssignmentsRejected, InvalidInput, RowProblem, WrongCycleState

Sessions = async_sessionmaker[AsyncSession]


async def reports(sessionmaker: Sessions, count: int) -> list[tuple[int, int]]:
    """``count`` (employee, manager) pairs of the organisation."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Employee.id, Employee.manager_id)
            .where(Employee.manager_id.is_not(None), Employee.manager_id != Employee.id)
            .order_by(Employee.id)
            .limit(count)
        )
        return [(employee, manager) for employee, manager in rows if manager is not None]


async def assignments_of(sessionmaker: Sessions, cycle_id: int) -> set[tuple[int, int, RaterRole]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(RaterAssignment.ratee_id, RaterAssignment.rater_id, RaterAssignment.role).where(
                RaterAssignment.cycle_id == cycle_id
            )
        )
        return {(ratee, rater, role) for ratee, rater, role in rows}


def bulk(cycle_id: int, *items: tuple[int, int, RaterRole]) -> RaterAssignManyInput:
    return RaterAssignManyInput(
        cycle_id=cycle_id,
        assignments=tuple(RaterAssignmentInput(ratee_id=a, rater_id=b, role=role) for a, b, role in items),
    )


async def test_every_assignment_is_stored_and_answered_in_the_given_order(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    pairs = await reports(sessionmaker, 6)
    (a, boss_a), (b, _), (c, _) = pairs[:3]
    # A report rating their manager, two colleagues rating each other, and an existing pair given a new role.
    items = [(boss_a, a, RaterRole.SUBORDINATE), (b, c, RaterRole.PEER), (c, b, RaterRole.PEER), (a, a, RaterRole.SELF)]
    before = await assignments_of(sessionmaker, cycle)
    records = await assign_raters(sessionmaker, bulk(cycle, *items), Caller("hr"))
    assert [(r.ratee_id, r.rater_id, r.role) for r in records] == items
    after = await assignments_of(sessionmaker, cycle)
    assert set(items) <= after
    assert len(after - before) == len({item for item in items if item not in before})


async def test_every_bad_item_is_listed_by_its_index_and_nothing_is_stored(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    (a, boss_a), (b, boss_b) = (await reports(sessionmaker, 40))[::39]
    assert boss_a != boss_b and boss_b != a
    before = await assignments_of(sessionmaker, cycle)
    items = [
        (a, b, RaterRole.PEER),  # fine alone
        (a, boss_b, RaterRole.MANAGER),  # not a's manager
        (a, b, RaterRole.SELF),  # a SELF rater who is someone else
        (a, 999_999, RaterRole.PEER),  # nobody
        (a, b, RaterRole.PEER),  # listed at 0 already
        (b, boss_b, RaterRole.MANAGER),  # fine alone
    ]
    with pytest.raises(AssignmentsRejected) as refused:
        await assign_raters(sessionmaker, bulk(cycle, *items), Caller("hr"))
    problems = refused.value.problems
    assert [(p.line, p.code) for p in problems] == [
        (1, "WRONG_RATER_RELATIONSHIP"),
        (2, "INVALID_INPUT"),
        (3, "NOT_FOUND"),
        (4, "INVALID_INPUT"),
    ]
    assert "index 0" in problems[3].message
    assert refused.value.field == "assignments" and refused.value.message.startswith("assignments[1]: ")
    assert await assignments_of(sessionmaker, cycle) == before


async def test_no_assignment_or_too_many_is_bad_input(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    (a, boss), *_ = await reports(sessionmaker, 1)
    too_many = [(a, boss, RaterRole.MANAGER)] * (MAX_ASSIGNMENTS + 1)
    for items in ([], too_many):
        with pytest.raises(InvalidInput) as refused:
            await assign_raters(sessionmaker, bulk(seeded.current_cycle_id, *items), Caller("hr"))
        assert refused.value.field == "assignments" and not isinstance(refused.value, AssignmentsRejected)


async def test_a_published_cycle_takes_no_assignment(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    (a, boss), *_ = await reports(sessionmaker, 1)
    before = await assignments_of(sessionmaker, seeded.past_cycle_id)
    with pytest.raises(WrongCycleState):
        await assign_raters(sessionmaker, bulk(seeded.past_cycle_id, (a, boss, RaterRole.MANAGER)), Caller("hr"))
    assert await assignments_of(sessionmaker, seeded.past_cycle_id) == before


def test_a_rejection_reads_like_an_import_rejection() -> None:
    rejected = AssignmentsRejected([RowProblem(3, "bad", "NOT_FOUND"), RowProblem(7, "worse")])
    assert rejected.kind.name == "IMPORT_REJECTED" and rejected.code == "ASSIGNMENTS_REJECTED"
    assert rejected.message == "assignments[3]: bad (and 1 more); nothing was assigned"


async def test_the_largest_call_is_taken_in_one_transaction(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """5,000 peer relationships: written in slices, answered in the given order, all in the cycle afterwards."""
    async with sessionmaker() as session:
        people = list(await session.scalars(select(Employee.id).order_by(Employee.id)))
    pairs = [(ratee, rater) for rater in people for ratee in people if ratee != rater][:MAX_ASSIGNMENTS]
    items = [(ratee, rater, RaterRole.PEER) for ratee, rater in reversed(pairs)]
    records = await assign_raters(sessionmaker, bulk(seeded.current_cycle_id, *items), Caller("hr"))
    assert [(r.ratee_id, r.rater_id, r.role) for r in records] == items
    assert len({record.id for record in records}) == MAX_ASSIGNMENTS
    assert set(items) <= await assignments_of(sessionmaker, seeded.current_cycle_id)
