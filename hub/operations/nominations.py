"""Peer nomination: a ratee proposes the peers who should rate them, and their manager decides.

The ratee proposes (``peer_nominate``) while the cycle is DRAFT or OPEN, at most ``MAX_NOMINEES`` live
nominations a cycle; a nominee is a colleague, not the ratee, none of their managers (up the chain) and
none of their direct reports: managers and reports rate in roles of their own, and a nominee must never
be someone who reads the ratee's nominations. The ratee's manager (anyone above them in the chain) or
hr_admin decides (``decide_peer_nomination``); an approval assigns the nominee as a PEER rater through
the very operation ``raterAssign`` uses (``hub.operations.ratings.assign_in``), in the same transaction,
so the nomination and its assignment commit together or not at all. Nobody decides their own nomination.
Both are refused (``RoleNotWeighed``) when the ratee's scheme in the cycle gives PEER raters no weight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, PeerNomination, RaterAssignment
from hub.domain import EmployeeStatus, NominationState, RaterRole
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import (
    InvalidInput,
    NominationDecided,
    NotFound,
    NotTheDecider,
    RoleNotWeighed,
    WrongCycleState,
)
from hub.operations.rater_roles import weight_error
from hub.operations.ratings import (
    ASSIGNABLE_STATES,
    EmployeeId,
    RaterAssignInput,
    RaterAssignmentRecord,
    assign_in,
    weighed_roles,
)
from hub.operations.versions import optional_text

MAX_NOMINEES = 8
"""The most peers a ratee may have proposed or approved in one cycle (declined ones do not count)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerNominate:
    cycle_id: Annotated[int, IdOf("cycle")]
    nominee_ids: tuple[EmployeeId, ...] = described(
        f"The colleagues proposed as peer raters, at most {MAX_NOMINEES} a cycle: not yourself, your managers "
        "or your direct reports."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerNominationDecide:
    nomination_id: Annotated[int, IdOf("peerNomination")]
    approve: bool = described("True assigns the nominee as a PEER rater; false declines the nomination.")
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Decider:
    """Who decides a nomination: their own employee row (if any), and whether the policy lets them decide any
    ratee's (hr_admin) rather than only those of their reporting line."""

    employee_id: int | None
    decides_for_anyone: bool


@dataclass(frozen=True, slots=True)
class PeerNominationRecord:
    """A peer nomination as stored."""

    id: int
    cycle_id: int
    ratee_id: int
    nominee_id: int
    state: NominationState
    proposed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class NominationDecision:
    """A decided nomination, and the PEER assignment its approval made (None when declined)."""

    nomination: PeerNominationRecord
    assignment: RaterAssignmentRecord | None


def _record(row: PeerNomination) -> PeerNominationRecord:
    return PeerNominationRecord(
        row.id,
        row.cycle_id,
        row.ratee_id,
        row.nominee_id,
        row.state,
        row.proposed_at,
        row.decided_by,
        row.decided_at,
        row.reason,
    )


async def managers_above(session: AsyncSession, employee_id: int) -> list[int]:
    """The employee's managers, nearest first, up the chain (a loop already stored ends the walk)."""
    chain: list[int] = []
    current: int | None = employee_id
    while current is not None:
        current = await session.scalar(select(Employee.manager_id).where(Employee.id == current))
        if current is None or current in chain or current == employee_id:
            break
        chain.append(current)
    return chain


async def _check_nominees(
    session: AsyncSession, cycle_id: int, ratee_id: int, nominee_ids: Sequence[int]
) -> dict[int, str]:
    """InvalidInput (field ``nomineeIds``) unless each nominee is an active colleague who may rate the ratee as
    a peer: not the ratee, a manager of theirs or a direct report, and not rating them in another role (an
    unknown id is refused the same way, by its position). Returns the nominees' employee numbers, by id."""
    field = "nomineeIds"
    nominees = select(Employee.id, Employee.status, Employee.employee_no).where(Employee.id.in_(set(nominee_ids)))
    found = {row.id: row for row in await session.execute(nominees)}
    managers = set(await managers_above(session, ratee_id))
    reports = set(await session.scalars(select(Employee.id).where(Employee.manager_id == ratee_id)))
    roles = dict(
        (
            await session.execute(
                select(RaterAssignment.rater_id, RaterAssignment.role).where(
                    RaterAssignment.cycle_id == cycle_id,
                    RaterAssignment.ratee_id == ratee_id,
                    RaterAssignment.rater_id.in_(set(nominee_ids)),
                )
            )
        ).all()
    )
    for position, nominee in enumerate(nominee_ids, start=1):
        if nominee == ratee_id:
            raise InvalidInput("you cannot nominate yourself: you rate yourself as SELF", field=field)
        row = found.get(nominee)
        eligible = (
            row is not None
            and row.status is EmployeeStatus.ACTIVE
            and nominee not in managers
            and nominee not in reports
            and roles.get(nominee, RaterRole.PEER) is RaterRole.PEER
        )
        if not eligible:
            # One answer for every reason, and none naming the nominee: the ratee may not learn from a refusal
            # who their managers above the first are, who has left, which ids exist, or who rates them in
            # another (anonymous) role.
            raise InvalidInput(
                f"nominee {position} cannot be your peer rater: name an active colleague outside your reporting "
                "line who does not already rate you in another role",
                field=field,
            )
    return {nominee: row.employee_no for nominee, row in found.items()}


async def nominate_peers(
    sessionmaker: async_sessionmaker[AsyncSession], command: PeerNominate, caller: Caller, ratee_id: int
) -> list[PeerNominationRecord]:
    """Propose peers as raters of ``ratee_id`` (the caller's own employee row) in a DRAFT or OPEN cycle."""
    nominee_ids = list(command.nominee_ids)
    if not nominee_ids:
        raise InvalidInput("name at least one colleague", field="nomineeIds")
    if len(set(nominee_ids)) != len(nominee_ids):
        raise InvalidInput("a colleague is named twice", field="nomineeIds")
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id, shared=True)
        if cycle.state not in ASSIGNABLE_STATES:
            raise WrongCycleState(cycle.state, "peers can be nominated only while it is DRAFT or OPEN")
        # The ratee's row lock (PostgreSQL) queues concurrent nominations of one ratee, so the cap holds.
        ratee_no = await session.scalar(select(Employee.employee_no).where(Employee.id == ratee_id).with_for_update())
        if ratee_no is None:
            raise NotFound("employee", ratee_id)
        unweighed = weight_error(
            RaterRole.PEER,
            ratee_id,
            ratee_no,
            await weighed_roles(session, cycle, [ratee_id]),
            field="nomineeIds",
            outsider_field="cycleId",
        )
        if unweighed is not None:
            raise unweighed
        numbers = await _check_nominees(session, cycle.id, ratee_id, nominee_ids)
        earlier = dict(
            (
                await session.execute(
                    select(PeerNomination.nominee_id, PeerNomination.state).where(
                        PeerNomination.cycle_id == cycle.id, PeerNomination.ratee_id == ratee_id
                    )
                )
            ).all()
        )
        for nominee in nominee_ids:
            if nominee in earlier:
                message = f"employee {numbers[nominee]} was nominated already ({earlier[nominee].value})"
                raise InvalidInput(message, field="nomineeIds")
        live = sum(state is not NominationState.DECLINED for state in earlier.values())
        if live + len(nominee_ids) > MAX_NOMINEES:
            raise InvalidInput(
                f"at most {MAX_NOMINEES} peers a cycle: {live} nominated already, {len(nominee_ids)} more asked",
                field="nomineeIds",
            )
        rows = [
            PeerNomination(cycle_id=cycle.id, ratee_id=ratee_id, nominee_id=nominee, proposed_at=caller.now)
            for nominee in nominee_ids
        ]
        session.add_all(rows)
        await session.flush()
        await audit_change(session, caller.audit, *(f"peer_nomination:{row.id}" for row in rows))
        return [_record(row) for row in rows]


async def decide_peer_nomination(
    sessionmaker: async_sessionmaker[AsyncSession], command: PeerNominationDecide, caller: Caller, decider: Decider
) -> NominationDecision:
    """Approve (assigning the PEER rater) or decline a proposed nomination, as the ratee's manager or hr_admin."""
    reason = optional_text(command.reason, "reason", 10_000)
    async with sessionmaker() as session, session.begin():
        cycle_id = await session.scalar(
            select(PeerNomination.cycle_id).where(PeerNomination.id == command.nomination_id)
        )
        if cycle_id is None:
            raise NotFound("peerNomination", command.nomination_id, field="nominationId")
        cycle = await locked_cycle(session, cycle_id, shared=True)
        nomination = await session.scalar(
            select(PeerNomination).where(PeerNomination.id == command.nomination_id).with_for_update()
        )
        assert nomination is not None  # nominations are never deleted
        await _check_decider(session, nomination.ratee_id, decider)
        if cycle.state not in ASSIGNABLE_STATES:
            raise WrongCycleState(cycle.state, "nominations are decided only while it is DRAFT or OPEN")
        if nomination.state is not NominationState.PROPOSED:
            raise NominationDecided(
                f"the nomination was {nomination.state.value.lower()} already", field="nominationId"
            )
        assignment = None
        if command.approve:
            # Checked again: the organisation may have changed since the proposal (a new manager, a leaver).
            await _check_nominees(session, cycle.id, nomination.ratee_id, [nomination.nominee_id])
            command_ = RaterAssignInput(
                cycle_id=cycle.id, ratee_id=nomination.ratee_id, rater_id=nomination.nominee_id, role=RaterRole.PEER
            )
            try:
                assignment = await assign_in(session, command_)
            except RoleNotWeighed as error:
                error.field = "nominationId"  # the decision's input has no role: the nomination is at fault
                raise
        nomination.state = NominationState.APPROVED if command.approve else NominationState.DECLINED
        nomination.decided_by, nomination.decided_at, nomination.reason = caller.actor, caller.now, reason
        await session.flush()
        touched = [f"peer_nomination:{nomination.id}"]
        if assignment is not None:
            touched.append(f"assignment:{assignment.id}")
        await audit_change(session, caller.audit, *touched)
        return NominationDecision(_record(nomination), assignment)


async def _check_decider(session: AsyncSession, ratee_id: int, decider: Decider) -> None:
    """NotTheDecider unless the decider manages the ratee (at any depth) or may decide anyone's (hr_admin);
    nobody decides a nomination of their own."""
    if decider.employee_id == ratee_id:
        raise NotTheDecider("you cannot decide your own nomination", field="nominationId")
    if decider.decides_for_anyone:
        return
    if decider.employee_id is None or decider.employee_id not in await managers_above(session, ratee_id):
        raise NotTheDecider("only the ratee's managers (or hr_admin) decide their nominations", field="nominationId")
