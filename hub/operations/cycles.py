"""The cycle workflow: create, open (pin schemes, default raters), posts and people join, reopen, close
calibration, publish (posts and people leave an OPEN cycle in :mod:`hub.operations.leaving`).

Every transition is one transaction that locks the cycle (:func:`locked_cycle`), checks the state
machine of ``hub.appraisal.cycle_state`` and writes a workflow audit entry (who, when, from, to, why)
beside the state change, and the access audit entry when given a recorder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import check_transition
from hub.appraisal.errors import IllegalTransition, ReasonRequired
from hub.closedloop.needs import append_training_needs
from hub.db.models import (
    AppraisalResult,
    Cycle,
    CycleLeaver,
    CycleScheme,
    CycleTransition,
    DeletedCycle,
    Employee,
    IndicatorScore,
    Post,
    RaterAssignment,
)
from hub.domain import CycleState
from hub.events.outbox import append_published
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycle_notes import joined_note, note_step, scope_note
from hub.operations.cycle_warnings import CycleWarning, posts_without_scheme
from hub.operations.errors import DuplicateName, InvalidInput, NotFound, PostWithoutScheme, WrongCycleState
from hub.operations.participation import (
    assign_default_raters,
    employed_on,
    participants,
    pin,
    posts_named,
    schemes_in_force,
)
from hub.operations.pins import PinWarning, pin_warnings
from hub.operations.ranking import rerank

CycleId = Annotated[int, IdOf("cycle")]


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleCreateInput:
    name: str
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True, slots=True)
class CycleOpen:
    cycle_id: CycleId
    post_ids: tuple[Annotated[int, IdOf("post")], ...] = described(
        "Limit the cycle to these posts (with families and departmentIds: to the posts any of them names); none "
        "named: every post with a scheme in force.",
        default=(),
    )
    families: tuple[str, ...] = described("Limit the cycle to the posts of these families.", default=())
    department_ids: tuple[Annotated[int, IdOf("department")], ...] = described(
        "Limit the cycle to the posts of these departments and the departments below them.", default=()
    )


@dataclass(frozen=True, slots=True)
class CycleReopen:
    cycle_id: CycleId
    reason: str


@dataclass(frozen=True, slots=True)
class CycleCloseCalibration:
    cycle_id: CycleId
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CyclePublish:
    cycle_id: CycleId


_CYCLE_NAMES_LOCK = 0x7065_7266_6875_6263  # "perfhubc": the advisory lock that makes cycle creations take turns


async def create_cycle(
    sessionmaker: async_sessionmaker[AsyncSession], command: CycleCreateInput, caller: Caller
) -> Cycle:
    """A new cycle in DRAFT, under a name no other cycle has (case aside: "2027 H1" and "2027 h1" are
    one name to the people choosing a cycle from a list).

    Two creations of one name at once: one wins, the other is refused. Creations take turns, on
    PostgreSQL behind a transaction-scoped advisory lock, on SQLite behind the write lock the insert
    takes; each looks for the name only once it holds its turn, so it sees whatever the other committed.
    """
    name, period_start, period_end = command.name.strip(), command.period_start, command.period_end
    if not name or len(name) > 200:
        raise InvalidInput("a cycle needs a name of 1 to 200 characters", field="name")
    if period_end < period_start:
        raise InvalidInput("the period ends before it starts", field="periodEnd")
    async with sessionmaker() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CYCLE_NAMES_LOCK})
        cycle = Cycle(name=name, period_start=period_start, period_end=period_end, state=CycleState.DRAFT)
        session.add(cycle)
        await session.flush()  # the insert holds the write lock (SQLite) until the transaction ends
        await check_name_free(session, name, cycle.id)
        deleted = await session.scalar(select(func.max(DeletedCycle.id)))
        if deleted is not None and cycle.id <= deleted:
            cycle.id = deleted + 1  # a deleted cycle's id names no other cycle (see DeletedCycle)
            await session.flush()
        session.add(CycleTransition(cycle_id=cycle.id, from_state=None, to_state=CycleState.DRAFT, actor=caller.actor))
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle


async def check_name_free(session: AsyncSession, name: str, cycle_id: int) -> None:
    """``DuplicateName`` when a cycle other than ``cycle_id`` has ``name``, whatever its case. Compared in
    Python: SQLite's lower() knows ASCII only, and an organisation has dozens of cycles, not millions."""
    wanted = name.casefold()
    for other_id, other in await session.execute(select(Cycle.id, Cycle.name).where(Cycle.id != cycle_id)):
        if other.strip().casefold() == wanted:
            raise DuplicateName(other_id, other)


async def locked_cycle(session: AsyncSession, cycle_id: int, *, shared: bool = False) -> Cycle:
    """The cycle, locked until the transaction ends and read once the lock is held.

    Every write that depends on a cycle's state takes this lock before it checks the state, so that a
    state change cannot slip in between the check and the commit: a rating or an import either
    commits before scoring takes the lock (and is scored) or waits and finds the cycle SCORED.

    On PostgreSQL the row lock is ``FOR UPDATE`` for the state transitions and the bulk writers of
    metric values, which run alone; ``shared`` (``FOR SHARE``) is for writers that may run side by
    side with each other (ratings, rater assignments, calibrations) but never beside a transition.
    SQLite has no row locks, and its driver begins a transaction only at the first write, so that
    reads before it see whatever is committed at the time: a write that changes nothing, made first,
    takes the database's write lock (waiting up to busy_timeout for the writer that holds it) and
    everything read afterwards stays true until this transaction commits. Take the lock as the
    transaction's first statement: a SQLite transaction that has read before it writes may find its
    snapshot outdated when the lock comes, and fail instead of waiting.
    """
    if session.get_bind().dialect.name == "sqlite":
        touch = update(Cycle).where(Cycle.id == cycle_id).values(state=Cycle.state)
        await session.execute(touch.execution_options(synchronize_session=False))
        statement = select(Cycle).where(Cycle.id == cycle_id)
    else:
        statement = select(Cycle).where(Cycle.id == cycle_id).with_for_update(read=shared)
    # populate_existing: a cycle this session read before the lock must show the state as locked.
    found = await session.execute(statement.execution_options(populate_existing=True))
    cycle = found.scalar_one_or_none()
    if cycle is None:
        raise NotFound("cycle", cycle_id, field="cycleId")
    return cycle


def record_transition(
    session: AsyncSession,
    cycle: Cycle,
    target: CycleState,
    *,
    actor: str,
    reason: str | None,
    note: str | None = None,
) -> CycleTransition:
    """Checks the move against the state machine, then changes the state and writes the audit entry (with a note of
    what the step changed beyond the state, where there is one)."""
    try:
        check_transition(cycle.state, target, reason)
    except ReasonRequired as error:
        error.field = "reason"
        raise
    except IllegalTransition as error:
        error.field = "cycleId"  # the cycle named is in the wrong state for this step
        raise
    transition = CycleTransition(
        cycle_id=cycle.id, from_state=cycle.state, to_state=target, actor=actor, reason=reason, note=note
    )
    session.add(transition)
    cycle.state = target
    return transition


@dataclass(frozen=True, slots=True)
class OpenedCycle:
    """An opened cycle, and what it pinned, or left out, that may not be meant (not a refusal: the cycle is open)."""

    cycle: Cycle
    warnings: list[PinWarning]
    left_out: list[CycleWarning]
    """The posts of the scope without a scheme in force, whose people are not in the cycle."""


async def open_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleOpen, caller: Caller) -> OpenedCycle:
    """DRAFT -> OPEN: pins each post (or each post the limit names) to the scheme in force on the period's first
    day, assigns self and manager raters from the org tree; warns of pinned indicator versions not in force for the
    whole period (:mod:`hub.operations.pins`) and of the posts of the scope it left out, having no scheme in force
    (:mod:`hub.operations.cycle_warnings`). The transition's note states the scope."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        transition = record_transition(session, cycle, CycleState.OPEN, actor=caller.actor, reason=None)
        limit = await posts_named(session, command.post_ids, command.families, command.department_ids)
        pins = await schemes_in_force(session, cycle.period_start, limit)
        named = (command.post_ids, command.families, command.department_ids)
        transition.note = await scope_note(session, *named, pinned=len(pins))
        if not pins:
            where = "no post" if limit is None else "no post the limit names"
            raise InvalidInput(f"{where} has a scheme in force on the period's first day", field="cycleId")
        await pin(session, cycle, pins)
        warnings = await pin_warnings(session, cycle)
        left_out = await posts_without_scheme(session, cycle, limit, [post_id for post_id, _ in pins])
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return OpenedCycle(cycle, warnings, left_out)


async def discard_results(session: AsyncSession, cycle_id: int) -> None:
    result_ids = select(AppraisalResult.id).where(AppraisalResult.cycle_id == cycle_id)
    await session.execute(delete(IndicatorScore).where(IndicatorScore.result_id.in_(result_ids)))
    await session.execute(delete(AppraisalResult).where(AppraisalResult.cycle_id == cycle_id))


async def reopen_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleReopen, caller: Caller) -> Cycle:
    """SCORED -> OPEN with a reason: late data or corrected ratings come in; the unpublished scores go."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.OPEN, actor=caller.actor, reason=command.reason)
        await discard_results(session, cycle.id)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle


async def close_calibration(
    sessionmaker: async_sessionmaker[AsyncSession], command: CycleCloseCalibration, caller: Caller
) -> Cycle:
    """SCORED -> CALIBRATED: ranks and percentiles are recomputed from the calibrated totals."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.CALIBRATED, actor=caller.actor, reason=command.reason)
        await rerank(session, cycle.id, caller.bands)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle


async def publish_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CyclePublish, caller: Caller) -> Cycle:
    """CALIBRATED -> PUBLISHED: the results are final and visible; nothing changes them afterwards.

    The result events go into the outbox in the same transaction: published means announced.
    """
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.PUBLISHED, actor=caller.actor, reason=None)
        await append_published(session, cycle.id)
        await append_training_needs(session, cycle.id, caller.bands.c)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle


@dataclass(frozen=True, slots=True)
class CycleDelete:
    cycle_id: CycleId


async def delete_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleDelete, caller: Caller) -> int:
    """Deletes a DRAFT cycle (created by mistake, or twice): nothing was pinned, rated or scored in it yet.

    Its workflow history and the raters assigned to it go with it; the access audit keeps the deletion, and
    ``deleted_cycles`` its id, name and who deleted it (the id is never given to another cycle).
    Every later state is refused: an opened cycle has ratings, scores or published results to keep.
    """
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        if cycle.state is not CycleState.DRAFT:
            raise WrongCycleState(cycle.state, "only a DRAFT cycle can be deleted")
        for dependant in (RaterAssignment, CycleTransition):
            await session.execute(delete(dependant).where(dependant.cycle_id == cycle.id))
        session.add(DeletedCycle(id=cycle.id, name=cycle.name, deleted_by=caller.actor))
        await session.delete(cycle)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle.id


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleJoin:
    cycle_id: CycleId
    post_ids: tuple[Annotated[int, IdOf("post")], ...] = described(
        "Posts that join the OPEN cycle: pinned to the scheme in force on the period's first day, their people "
        "given their default raters (self, manager).",
        default=(),
    )
    employee_ids: tuple[Annotated[int, IdOf("employee")], ...] = described(
        "People who join the OPEN cycle (hired or moved into one of its posts after it opened): given their "
        "default raters. Their post must be in the cycle, or join with them.",
        default=(),
    )


async def locked_open_cycle(session: AsyncSession, cycle_id: int, step: str) -> tuple[Cycle, set[int]]:
    """The cycle, locked, when it is OPEN (posts and people ``step`` it only then), and the posts it pins."""
    cycle = await locked_cycle(session, cycle_id)
    if cycle.state is not CycleState.OPEN:
        raise WrongCycleState(cycle.state, f"posts and people {step} a cycle while it is OPEN")
    return cycle, set(await session.scalars(select(CycleScheme.post_id).where(CycleScheme.cycle_id == cycle.id)))


async def join_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleJoin, caller: Caller) -> Cycle:
    """Posts and people join an OPEN cycle; those already in it are left as they are. All or nothing.

    Joining someone already in the cycle (a participant with their SELF assignment) is a no-op: when nobody
    new joins, no transition and no audit entry are written, so the cycle answered is unchanged."""
    if not (command.post_ids or command.employee_ids):
        raise InvalidInput("name the posts or the people who join", field="postIds")
    async with sessionmaker() as session, session.begin():
        cycle, pinned = await locked_open_cycle(session, command.cycle_id, "join")
        joining = set(command.post_ids) - pinned
        known = set(await session.scalars(select(Post.id).where(Post.id.in_(joining))))
        for post_id in command.post_ids:
            if post_id in joining and post_id not in known:
                raise NotFound("post", post_id, field="postIds")
        pins = await schemes_in_force(session, cycle.period_start, joining)
        without = sorted(joining - {post_id for post_id, _ in pins})
        if without:
            codes = await session.scalars(select(Post.code).where(Post.id.in_(without)).order_by(Post.code))
            raise PostWithoutScheme(list(codes), cycle.period_start)
        newcomers: list[int] = []
        if command.employee_ids:
            newcomers = await _not_in_yet(session, cycle, command.employee_ids, pinned)
        if pins:
            await pin(session, cycle, pins)
        if newcomers:
            await session.execute(
                delete(CycleLeaver).where(CycleLeaver.cycle_id == cycle.id, CycleLeaver.employee_id.in_(newcomers))
            )  # someone taken out by cycleLeave comes back
            await _join_people(session, cycle, newcomers, pinned | joining)
        if joining or newcomers:
            note_step(session, cycle, caller.actor, await joined_note(session, sorted(joining), newcomers))
            await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return cycle


async def _not_in_yet(session: AsyncSession, cycle: Cycle, employee_ids: Sequence[int], pinned: set[int]) -> list[int]:
    """The people named who do not take part yet: not participants of the pinned posts, or without the SELF
    assignment that joining (or opening) gives; in the order named, each once."""
    present = {p.employee_id for p in await participants(session, cycle, sorted(pinned))}
    rating_themselves = set(
        await session.scalars(
            select(RaterAssignment.ratee_id).where(
                RaterAssignment.cycle_id == cycle.id,
                RaterAssignment.ratee_id == RaterAssignment.rater_id,
                RaterAssignment.ratee_id.in_(employee_ids),
            )
        )
    )
    already = present & rating_themselves
    return [employee_id for employee_id in dict.fromkeys(employee_ids) if employee_id not in already]


async def _join_people(session: AsyncSession, cycle: Cycle, employee_ids: Sequence[int], posts: set[int]) -> None:
    found = await session.execute(
        select(Employee.id, Employee.employee_no, employed_on(cycle.period_end)).where(Employee.id.in_(employee_ids))
    )
    people = {employee_id: (number, employed) for employee_id, number, employed in found}
    for employee_id in employee_ids:
        if employee_id not in people:
            raise NotFound("employee", employee_id, field="employeeIds")
        number, employed = people[employee_id]
        if not employed:
            raise InvalidInput(
                f"employee {number} leaves before the period's last day: they join no cycle they do not work through",
                field="employeeIds",
            )
    found_people = {p.employee_id: p for p in await participants(session, cycle, sorted(posts))}
    for employee_id in employee_ids:
        if employee_id not in found_people:
            raise InvalidInput(
                f"employee {people[employee_id][0]} holds no post of the cycle on the period's last day: "
                "let their post join",
                field="employeeIds",
            )
    await assign_default_raters(session, cycle.id, [found_people[employee_id] for employee_id in employee_ids])
