"""Posts and people leave an OPEN cycle: a post included by mistake, someone who should not be appraised in it
(``cycleLeave``), and a leaver of the organisation (``employeeDeactivate``, the CSV import, SCIM).

Leaving withdraws what the cycle still expects of them: their rater assignments as a ratee, so nobody is asked to
rate them and the cycle's progress stops counting them. Ratings already submitted about them stay in the
``ratings`` table (the history of what was said) but are not scored: scoring reads the participants, and they are
no longer among them. A post leaves by losing its pin (``cycle_schemes``); a person whose post stays leaves by a
``cycle_leavers`` row, which ``participation.participants_statement`` reads; both can come back with
``cycleJoin``. A leaver of the organisation is INACTIVE, which takes them out of every cycle whose period ends
after their last day (they still take part in those they work through, even when their notice is recorded ahead
of it), so their deactivation only withdraws, in each such OPEN cycle, their assignments as a ratee and those as
a rater they had not rated yet (they can no longer rate); the ratings they gave stay and count.

A mover transferred out of a cycle's posts leaves it the same way (``employeeTransfer``, the CSV import, SCIM):
a cycle's participants are the people of its pinned posts on the period's last day, and the ratee's scheme and
ratings are those of that post, so a transfer that takes effect by then to a post the cycle does not pin withdraws
their assignments as a ratee in that OPEN cycle (noted in its transitions); their tasks as a rater stay, as they
still work here. A move to another pinned post keeps them: they are rated and scored on the new post's scheme,
which is what their tasks already show. A transfer after the period's last day changes nothing in the cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, CycleLeaver, CycleScheme, Employee, Post, RaterAssignment, Rating
from hub.domain import CycleState
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycle_notes import employee_numbers, note_step, people_note, post_codes
from hub.operations.cycles import locked_cycle, locked_open_cycle
from hub.operations.errors import InvalidInput, NotFound
from hub.operations.participation import participants

LEAVER_ACTOR = "hub: a leaver's deactivation"
"""Who the transition note of a deactivation's withdrawal names (the access audit keeps who deactivated)."""
MOVER_ACTOR = "hub: a transfer out of the cycle's posts"
"""Who the transition note of a transfer's withdrawal names (the access audit keeps who transferred)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleLeave:
    cycle_id: Annotated[int, IdOf("cycle")]
    post_ids: tuple[Annotated[int, IdOf("post")], ...] = described(
        "Posts that leave the OPEN cycle (included by mistake): unpinned, their people no longer rated or scored "
        "in it.",
        default=(),
    )
    employee_ids: tuple[Annotated[int, IdOf("employee")], ...] = described(
        "People who leave the OPEN cycle while their post stays in it: no longer rated or scored in it.",
        default=(),
    )
    reason: str = described("Why they leave: kept in the cycle's transitions.")


@dataclass(frozen=True, slots=True)
class CycleLeft:
    """A cycle after posts or people left it, and how many rater assignments were withdrawn."""

    cycle: Cycle
    withdrawn: int


async def leave_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleLeave, caller: Caller) -> CycleLeft:
    """Posts and people leave an OPEN cycle; their rater assignments as ratees are withdrawn. All or nothing."""
    reason = command.reason.strip()
    if not reason:
        raise InvalidInput("say why they leave the cycle", field="reason")
    if not (command.post_ids or command.employee_ids):
        raise InvalidInput("name the posts or the people who leave", field="postIds")
    async with sessionmaker() as session, session.begin():
        cycle, pinned = await locked_open_cycle(session, command.cycle_id, "leave")
        leaving_posts = await _pinned_posts(session, command.post_ids, pinned)
        people = {p.employee_id: p for p in await participants(session, cycle, sorted(pinned))}
        await _check_participants(session, command.employee_ids, people)
        ratees = set(command.employee_ids) | {p.employee_id for p in people.values() if p.post_id in leaving_posts}
        if leaving_posts:
            unpin = delete(CycleScheme).where(CycleScheme.cycle_id == cycle.id, CycleScheme.post_id.in_(leaving_posts))
            await session.execute(unpin)
        if command.employee_ids:
            session.add_all(
                CycleLeaver(cycle_id=cycle.id, employee_id=employee_id, reason=reason, actor=caller.actor)
                for employee_id in sorted(set(command.employee_ids))
            )
        withdrawn = await _withdraw(session, cycle.id, ratees)
        note = await people_note(session, "left", sorted(leaving_posts), command.employee_ids)
        _note_left(session, cycle, caller.actor, note, withdrawn, reason)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return CycleLeft(cycle, withdrawn)


def _note_left(
    session: AsyncSession, cycle: Cycle, actor: str, who: str, withdrawn: int, reason: str | None = None
) -> None:
    """The cycle's note of a leave, a leaver or a mover: who went, and how many rater assignments went with them."""
    note_step(session, cycle, actor, f"{who}; {withdrawn} rater assignment(s) withdrawn", reason)


async def _refuse_unknown(session: AsyncSession, model: type[Post] | type[Employee], ids: Sequence[int]) -> None:
    known = set(await session.scalars(select(model.id).where(model.id.in_(ids))))
    entity, field = ("post", "postIds") if model is Post else ("employee", "employeeIds")
    for key in ids:
        if key not in known:
            raise NotFound(entity, key, field=field)


async def _pinned_posts(session: AsyncSession, post_ids: Sequence[int], pinned: set[int]) -> set[int]:
    """The posts named, each known and in the cycle."""
    await _refuse_unknown(session, Post, post_ids)
    outside = [post_id for post_id in post_ids if post_id not in pinned]
    if outside:
        raise InvalidInput(
            f"post(s) {', '.join(await post_codes(session, outside))} are not in the cycle", field="postIds"
        )
    return set(post_ids)


async def _check_participants(session: AsyncSession, employee_ids: Sequence[int], people: Collection[int]) -> None:
    """Each person named is known and takes part in the cycle."""
    await _refuse_unknown(session, Employee, employee_ids)
    outside = [employee_id for employee_id in employee_ids if employee_id not in people]
    if outside:
        numbers = ", ".join(await employee_numbers(session, outside))
        raise InvalidInput(
            f"employee(s) {numbers} take no part in the cycle (not active in one of its posts on the period's last "
            "day, or taken out already)",
            field="employeeIds",
        )


async def _withdraw(session: AsyncSession, cycle_id: int, ratees: set[int]) -> int:
    """Deletes the cycle's rater assignments of these ratees; returns how many."""
    if not ratees:
        return 0
    found = await session.execute(
        delete(RaterAssignment).where(RaterAssignment.cycle_id == cycle_id, RaterAssignment.ratee_id.in_(ratees))
    )
    return int(getattr(found, "rowcount", 0) or 0)


async def _open_cycles(
    session: AsyncSession, employee_id: int, *, as_rater: bool, ending_after: dt.date | None = None
) -> list[Cycle]:
    """The OPEN cycles in which the employee is a ratee (or, ``as_rater``, a rater too), each share-locked, and
    with ``ending_after`` only those whose period ends after that day: called inside an organisation change's
    transaction, after the organisation's lock (a rating's order too)."""
    involved = RaterAssignment.ratee_id == employee_id
    if as_rater:
        involved = involved | (RaterAssignment.rater_id == employee_id)
    open_involved = (
        select(Cycle.id)
        .where(Cycle.state == CycleState.OPEN)
        .where(exists().where(RaterAssignment.cycle_id == Cycle.id, involved))
        .order_by(Cycle.id)
    )
    if ending_after is not None:
        open_involved = open_involved.where(Cycle.period_end > ending_after)
    cycle_ids = await session.scalars(open_involved)
    locked = [await locked_cycle(session, cycle_id, shared=True) for cycle_id in list(cycle_ids)]
    return [cycle for cycle in locked if cycle.state is CycleState.OPEN]


async def withdraw_leaver(session: AsyncSession, employee_id: int, employee_no: str, left_on: dt.date) -> None:
    """A leaver of the organisation, in each OPEN cycle whose period ends after their last day: their assignments
    as a ratee, and as a rater those they had not rated yet, are withdrawn, and the cycle's transitions note it; a
    cycle they work through keeps them (``participation.employed_on``). Called inside the deactivation's
    transaction, after the organisation's lock (each cycle's shared lock follows it, as a rating's does)."""
    for cycle in await _open_cycles(session, employee_id, as_rater=True, ending_after=left_on):
        rated = exists().where(
            Rating.cycle_id == cycle.id,
            Rating.rater_id == RaterAssignment.rater_id,
            Rating.ratee_id == RaterAssignment.ratee_id,
        )
        as_ratee = RaterAssignment.ratee_id == employee_id
        found = await session.execute(
            delete(RaterAssignment)
            .where(RaterAssignment.cycle_id == cycle.id)
            .where(as_ratee | ((RaterAssignment.rater_id == employee_id) & ~rated))
            .execution_options(synchronize_session=False)
        )
        withdrawn = int(getattr(found, "rowcount", 0) or 0)
        if withdrawn:
            note = f"left the organisation: employee {employee_no}, last day {left_on}"
            _note_left(session, cycle, LEAVER_ACTOR, note, withdrawn)


async def withdraw_mover(session: AsyncSession, employee_id: int, employee_no: str, moved_on: object) -> None:
    """A mover, in each OPEN cycle whose pinned posts they no longer hold on the period's last day: their
    assignments as a ratee are withdrawn and the cycle's transitions note it (see the module's docstring)."""
    for cycle in await _open_cycles(session, employee_id, as_rater=False):
        pinned = await session.scalars(select(CycleScheme.post_id).where(CycleScheme.cycle_id == cycle.id))
        if employee_id in {p.employee_id for p in await participants(session, cycle, list(pinned))}:
            continue
        withdrawn = await _withdraw(session, cycle.id, {employee_id})
        note = f"moved out of the cycle's posts: employee {employee_no}, from {moved_on}"
        _note_left(session, cycle, MOVER_ACTOR, note, withdrawn)
