"""Rater assignments in bulk: many evaluation relationships of one cycle in one call, all of them or none; and
removing one (``raterUnassign``, :func:`unassign_rater`).

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

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain import RaterRole
from hub.operations.audit import audit_change
from hub.operations.batches import chunks
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import (
    AssignmentsRejected,
    InvalidInput,
    NotFound,
    OperationError,
    RaterRequired,
    RatingsSubmitted,
    RowProblem,
    WrongCycleState,
)
from hub.operations.rater_roles import weight_error
from hub.operations.ratings import (
    ASSIGNABLE_STATES,
    ASSIGNMENT_KEY,
    ASSIGNMENTS,
    RATINGS,
    EmployeeId,
    Person,
    RaterAssignmentRecord,
    RatingRecord,
    assignable_cycle,
    people_of,
    relation_error,
    role_error,
    weighed_roles,
)
from hub.operations.upsert import dialect_insert, replacing
from hub.operations.versions import optional_text


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


MAX_DISCARD_REASON_LENGTH = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class RaterUnassignInput:
    """An evaluation relationship to remove from a DRAFT or OPEN cycle."""

    cycle_id: Annotated[int, IdOf("cycle")]
    ratee_id: EmployeeId
    rater_id: EmployeeId
    discard_ratings: bool = described(
        "True deletes the ratings the rater has already submitted for the ratee with the assignment (give a "
        "reason); false refuses while there are any (RATINGS_SUBMITTED).",
        default=False,
    )
    reason: str | None = described("Why the ratings are discarded: required with discardRatings.", default=None)


@dataclass(frozen=True, slots=True)
class Unassignment:
    """A removed evaluation relationship as it was, and the ratings removed with it, as they were."""

    assignment: RaterAssignmentRecord
    discarded: list[RatingRecord]


def _discarded(rating: RatingRecord) -> str:
    """A discarded rating's before-values, for the audit entry (the rating's row is gone)."""
    return (
        f"rating:{rating.id} was {rating.value:g} on indicatorVersion:{rating.indicator_version_id} "
        f"as {rating.role.value}, submitted {rating.submitted_at.isoformat()}"
    )


async def unassign_rater(
    sessionmaker: async_sessionmaker[AsyncSession], command: RaterUnassignInput, caller: Caller
) -> Unassignment:
    """Remove an evaluation relationship from a DRAFT or OPEN cycle, and with ``discard_ratings`` (and a reason)
    the ratings its rater already submitted for the ratee; the audit entry keeps those ratings' values.

    A SELF assignment is part of taking part and is never removed; a MANAGER one only once another MANAGER
    rater (the ratee's new manager, assigned with raterAssign) replaces it. Both are ``RaterRequired``.
    """
    reason = optional_text(command.reason, "reason", MAX_DISCARD_REASON_LENGTH)
    if command.discard_ratings and reason is None:
        raise InvalidInput("discarding submitted ratings needs a reason", field="reason")
    cycle_id, ratee_id, rater_id = command.cycle_id, command.ratee_id, command.rater_id
    async with sessionmaker() as session, session.begin():
        # Exclusive, unlike an assignment's lock: a rating submitted meanwhile would outlive its assignment.
        cycle = await locked_cycle(session, cycle_id)
        if cycle.state not in ASSIGNABLE_STATES:
            raise WrongCycleState(cycle.state, "raters can be unassigned only while it is DRAFT or OPEN")
        people = await people_of(session, {ratee_id, rater_id})
        for employee_id, field in ((ratee_id, "rateeId"), (rater_id, "raterId")):
            if employee_id not in people:
                raise NotFound("employee", employee_id, field=field)
        ratee_no, rater_no = people[ratee_id].employee_no, people[rater_id].employee_no
        pair = (ASSIGNMENTS.c.cycle_id == cycle_id, ASSIGNMENTS.c.ratee_id == ratee_id)
        roles = dict((await session.execute(select(ASSIGNMENTS.c.rater_id, ASSIGNMENTS.c.role).where(*pair))).all())
        role = roles.get(rater_id)
        if role is None:
            message = f"employee {rater_no} is not a rater of employee {ratee_no} in this cycle"
            raise NotFound("rater assignment", rater_id, field="raterId", message=message)
        _check_removable(role, rater_no, ratee_no, sum(other is RaterRole.MANAGER for other in roles.values()))
        rated = (RATINGS.c.cycle_id == cycle_id, RATINGS.c.ratee_id == ratee_id, RATINGS.c.rater_id == rater_id)
        discarded = [
            RatingRecord(**row._mapping)
            for row in await session.execute(select(*RATINGS.c).where(*rated).order_by(RATINGS.c.id))
        ]
        if discarded and not command.discard_ratings:
            raise RatingsSubmitted(rater_no, ratee_no, len(discarded))
        await session.execute(delete(RATINGS).where(*rated))
        removed = (
            await session.execute(
                delete(ASSIGNMENTS).where(*pair, ASSIGNMENTS.c.rater_id == rater_id).returning(*ASSIGNMENTS.c)
            )
        ).one()
        record = RaterAssignmentRecord(removed.id, removed.cycle_id, removed.ratee_id, removed.rater_id, removed.role)
        audited = [f"cycle:{cycle_id}", f"assignment:{record.id}"]
        if discarded:
            audited += [f"reason:{reason}", *(f"rating:{rating.id}" for rating in discarded)]
            audited += [_discarded(rating) for rating in discarded]
        await audit_change(session, caller.audit, *audited)
        return Unassignment(record, discarded)


def _check_removable(role: RaterRole, rater_no: str, ratee_no: str, managers: int) -> None:
    """``RaterRequired`` for a SELF assignment, and for the ratee's only MANAGER one."""
    if role is RaterRole.SELF:
        raise RaterRequired(
            f"employee {ratee_no} rates themselves as part of taking part in the cycle: SELF is not removed",
            field="raterId",
        )
    if role is RaterRole.MANAGER and managers < 2:
        raise RaterRequired(
            f"employee {rater_no} is the only MANAGER rater of employee {ratee_no}: assign the new manager with "
            "raterAssign first, then remove this one",
            field="raterId",
        )
