"""The cycle workflow: create, open (pin schemes, default raters), reopen, close calibration, publish.

Every transition is one transaction that locks the cycle (:func:`locked_cycle`), checks the state
machine of ``hub.appraisal.cycle_state`` and writes a workflow audit entry (who, when, from, to, why)
beside the state change, and the access audit entry when given a recorder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeAlias

from sqlalchemy import Row, Select, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import GradeBands, Placement, assign_grades_and_ranks, check_transition
from hub.appraisal.errors import IllegalTransition, ReasonRequired
from hub.db.models import (
    AppraisalResult,
    Base,
    Cycle,
    CycleScheme,
    CycleTransition,
    DeletedCycle,
    Employee,
    IndicatorScore,
    PostAssignment,
    RaterAssignment,
    SchemeVersion,
)
from hub.domain import CycleState, RaterRole
from hub.events.outbox import append_published
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf
from hub.operations.errors import DuplicateName, InvalidInput, NotFound, WrongCycleState
from hub.operations.pins import PinWarning, pin_warnings
from hub.operations.upsert import dialect_insert

CycleId = Annotated[int, IdOf("cycle")]


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleCreateInput:
    name: str
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True, slots=True)
class CycleOpen:
    cycle_id: CycleId


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
    session: AsyncSession, cycle: Cycle, target: CycleState, *, actor: str, reason: str | None
) -> None:
    """Checks the move against the state machine, then changes the state and writes the audit entry."""
    try:
        check_transition(cycle.state, target, reason)
    except ReasonRequired as error:
        error.field = "reason"
        raise
    except IllegalTransition as error:
        error.field = "cycleId"  # the cycle named is in the wrong state for this step
        raise
    session.add(CycleTransition(cycle_id=cycle.id, from_state=cycle.state, to_state=target, actor=actor, reason=reason))
    cycle.state = target


Participant: TypeAlias = Row[int, int, int, int | None]
"""A participant's (employee_id, post_id, department_id, manager_id)."""


def participants_statement(cycle: Cycle, post_ids: Sequence[int]) -> Select[int, int, int, int | None]:
    """(employee id, post id, department id, manager id) of everyone in a post on the period's last day."""
    covering = and_(
        PostAssignment.start_date <= cycle.period_end,
        or_(PostAssignment.end_date.is_(None), PostAssignment.end_date >= cycle.period_end),
    )
    return (
        select(PostAssignment.employee_id, PostAssignment.post_id, Employee.department_id, Employee.manager_id)
        .join(Employee, Employee.id == PostAssignment.employee_id)
        .where(covering, PostAssignment.post_id.in_(post_ids))
        .order_by(PostAssignment.employee_id, PostAssignment.start_date)
    )


async def participants(session: AsyncSession, cycle: Cycle, post_ids: Sequence[int]) -> list[Participant]:
    rows = (await session.execute(participants_statement(cycle, post_ids))).all()
    # Overlapping assignments: the latest start wins (rows are ordered by start date).
    return list({row.employee_id: row for row in rows}.values())


@dataclass(frozen=True, slots=True)
class OpenedCycle:
    """An opened cycle, and what it pinned that may not be meant (not a refusal: the cycle is open)."""

    cycle: Cycle
    warnings: list[PinWarning]


async def open_cycle(sessionmaker: async_sessionmaker[AsyncSession], command: CycleOpen, caller: Caller) -> OpenedCycle:
    """DRAFT -> OPEN: pins each post to the scheme in force on the period's first day, assigns self
    and manager raters from the org tree; warns of pinned indicator versions not in force for the whole
    period (:mod:`hub.operations.pins`)."""
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, command.cycle_id)
        record_transition(session, cycle, CycleState.OPEN, actor=caller.actor, reason=None)
        in_force = (
            select(SchemeVersion.post_id, func.max(SchemeVersion.version).label("version"))
            .where(SchemeVersion.effective_from <= cycle.period_start)
            .where(or_(SchemeVersion.effective_to.is_(None), SchemeVersion.effective_to >= cycle.period_start))
            .group_by(SchemeVersion.post_id)
            .subquery()
        )
        pins = (
            await session.execute(
                select(SchemeVersion.post_id, SchemeVersion.id).join(
                    in_force,
                    and_(
                        in_force.c.post_id == SchemeVersion.post_id,
                        in_force.c.version == SchemeVersion.version,
                    ),
                )
            )
        ).all()
        if not pins:
            raise InvalidInput("no post has a scheme in force on the period's first day", field="cycleId")
        await session.execute(
            insert(CycleScheme),
            [{"cycle_id": cycle.id, "post_id": post_id, "scheme_version_id": sv} for post_id, sv in pins],
        )
        people = await participants(session, cycle, [post_id for post_id, _ in pins])
        assignments = [
            {
                "cycle_id": cycle.id,
                "ratee_id": p.employee_id,
                "rater_id": p.employee_id,
                "role": RaterRole.SELF,
            }
            for p in people
        ]
        assignments += [
            {
                "cycle_id": cycle.id,
                "ratee_id": p.employee_id,
                "rater_id": p.manager_id,
                "role": RaterRole.MANAGER,
            }
            for p in people
            if p.manager_id is not None and p.manager_id != p.employee_id
        ]
        if assignments:
            # A relationship assigned by hand while the cycle was a DRAFT stands; the default adds nothing.
            table = Base.metadata.tables[RaterAssignment.__tablename__]
            defaults = dialect_insert(session, table).on_conflict_do_nothing(
                index_elements=["cycle_id", "ratee_id", "rater_id"]
            )
            await session.execute(defaults, assignments)
        warnings = await pin_warnings(session, cycle)
        await audit_change(session, caller.audit, f"cycle:{cycle.id}")
    return OpenedCycle(cycle, warnings)


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


async def rerank(session: AsyncSession, cycle_id: int, bands: GradeBands) -> None:
    """Recomputes ranks and percentiles from the current (possibly calibrated) totals."""
    rows = (
        await session.execute(
            select(
                AppraisalResult.id,
                AppraisalResult.post_id,
                AppraisalResult.department_id,
                AppraisalResult.total_score,
            ).where(AppraisalResult.cycle_id == cycle_id)
        )
    ).all()
    standings = assign_grades_and_ranks(
        (Placement(row.id, row.post_id, row.department_id, row.total_score) for row in rows), bands
    )
    if not standings:
        return
    await session.execute(
        update(AppraisalResult),
        [
            {
                "id": result_id,
                "rank_in_post": standing.rank_in_post,
                "percentile_in_post": standing.percentile_in_post,
                "rank_in_department": standing.rank_in_department,
                "percentile_in_department": standing.percentile_in_department,
            }
            for result_id, standing in standings.items()
        ],
    )


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
