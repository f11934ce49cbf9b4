"""Rater assignments in bulk: many evaluation relationships of one cycle in one call, all of them or none.

Each item is checked as :func:`hub.operations.ratings.assign_rater` checks one (the SELF rule, both people
exist, a MANAGER rater is the ratee's manager and a SUBORDINATE rater reports to the ratee, the ratee's scheme
weighs the role), plus one check
of its own: a pair listed twice is ambiguous. Every bad item is reported at once, by its index in the list
(:class:`~hub.operations.errors.AssignmentsRejected`), and nothing is written; otherwise every item is
written in one transaction with one audit entry naming them all. As with one assignment, a pair already
assigned in the cycle takes the new role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain import RaterRole
from hub.operations.audit import audit_change
from hub.operations.batches import chunks
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import AssignmentsRejected, InvalidInput, OperationError, RowProblem
from hub.operations.rater_roles import weight_error
from hub.operations.ratings import (
    ASSIGNMENT_KEY,
    ASSIGNMENTS,
    EmployeeId,
    Person,
    RaterAssignmentRecord,
    assignable_cycle,
    people_of,
    relation_error,
    role_error,
    weighed_roles,
)
from hub.operations.upsert import dialect_insert, replacing


@dataclass(frozen=True, slots=True, kw_only=True)
class RaterAssignmentInput:
    """One evaluation relationship of a bulk assignment."""

    ratee_id: EmployeeId
    rater_id: EmployeeId
    role: RaterRole


MAX_ASSIGNMENTS = 5000
"""The most assignments one call takes: a large organisation's cycle in a few calls, a statement's worth each."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RaterAssignManyInput:
    """Evaluation relationships of one cycle, assigned all together or not at all."""

    cycle_id: Annotated[int, IdOf("cycle")]
    assignments: tuple[RaterAssignmentInput, ...] = described(
        f"1 to {MAX_ASSIGNMENTS:,} relationships; each ratee and rater pair once."
    )


def _problems(
    items: tuple[RaterAssignmentInput, ...], people: dict[int, Person], weighed: dict[int, frozenset[RaterRole]]
) -> list[RowProblem]:
    """Every bad item, by its index, with the code a single assignment of it would have been refused with."""
    problems: list[RowProblem] = []
    first_of: dict[tuple[int, int], int] = {}
    for index, item in enumerate(items):
        pair = (item.ratee_id, item.rater_id)
        error: OperationError | None = role_error(item.role, *pair) or relation_error(item.role, *pair, people)
        if error is None:
            error = weight_error(item.role, item.ratee_id, people[item.ratee_id].employee_no, weighed)
        if error is None and pair in first_of:
            error = InvalidInput(f"the same ratee and rater are listed at index {first_of[pair]} already")
        first_of.setdefault(pair, index)
        if error is not None:
            problems.append(RowProblem(index, error.message, error.code))
    return problems


async def assign_raters(
    sessionmaker: async_sessionmaker[AsyncSession], command: RaterAssignManyInput, caller: Caller
) -> list[RaterAssignmentRecord]:
    """Assign every relationship of the list in the cycle, or none (``AssignmentsRejected`` listing each bad
    item); answers them in the list's order."""
    items = command.assignments
    if not 1 <= len(items) <= MAX_ASSIGNMENTS:
        raise InvalidInput(f"give 1 to {MAX_ASSIGNMENTS:,} assignments, not {len(items):,}", field="assignments")
    async with sessionmaker() as session, session.begin():
        cycle = await assignable_cycle(session, command.cycle_id)
        people = await people_of(session, {person for item in items for person in (item.ratee_id, item.rater_id)})
        weighed = await weighed_roles(session, cycle, {item.ratee_id for item in items if item.ratee_id in people})
        problems = _problems(items, people, weighed)
        if problems:
            raise AssignmentsRejected(problems)
        values = [
            {"cycle_id": command.cycle_id, "ratee_id": item.ratee_id, "rater_id": item.rater_id, "role": item.role}
            for item in items
        ]
        stored: dict[tuple[int, int], RaterAssignmentRecord] = {}
        for chunk in chunks(values):
            statement = replacing(dialect_insert(session, ASSIGNMENTS).values(list(chunk)), ASSIGNMENT_KEY, ["role"])
            for row in await session.execute(statement.returning(*ASSIGNMENTS.c)):
                stored[row.ratee_id, row.rater_id] = RaterAssignmentRecord(
                    row.id, row.cycle_id, row.ratee_id, row.rater_id, row.role
                )
        # RETURNING promises no order: the answer follows the list.
        records = [stored[item.ratee_id, item.rater_id] for item in items]
        await audit_change(
            session, caller.audit, f"cycle:{command.cycle_id}", *(f"assignment:{record.id}" for record in records)
        )
        return records
