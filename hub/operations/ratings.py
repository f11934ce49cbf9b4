"""360-degree ratings: who rates whom in a cycle, submitting a rating, and reading a ratee's ratings.

A rating's value is checked against its indicator's rating scale; a value off the scale is reported
as :class:`~hub.operations.errors.InvalidInput` with ``field="value"`` (the appraisal
``InvalidValue`` is converted, so that a form can point at the field), a value on the scale but between
the points a rater may give (3.5 between the anchors 3 and 4) as ``NotAScalePoint``, also naming
``value``. A broken stored rule (``InvalidRule``) is not the caller's fault and passes through unchanged.

A MANAGER rater must be the ratee's manager and a SUBORDINATE rater must report to the ratee, when the
relationship is assigned and again when the rating is submitted (``WrongRaterRelation``). A rater is assigned
only in a role that the ratee's scheme in the cycle gives weight (``RoleNotWeighed``): scoring would ignore
the ratings of any other. A rating also lies within its version's declared valid range, if it declares one
(``hub.operations.ranges``). Messages name people by employee number, read with the checks' own statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import InvalidValue, NotAScalePoint
from hub.appraisal.rules import RatingScaleRule, parse_rule, validate_rating_point
from hub.db.models import (
    Base,
    Cycle,
    CycleScheme,
    Employee,
    IndicatorVersion,
    PostAssignment,
    RaterAssignment,
    Rating,
    SchemeItem,
)
from hub.domain import MANUAL_SOURCE, CycleState, RaterRole
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import (
    InvalidInput,
    NotARater,
    NotFound,
    OperationError,
    WrongCycleState,
    WrongRaterRelation,
)
from hub.operations.ranges import valid_range
from hub.operations.rater_roles import roles_weighed, weight_error
from hub.operations.upsert import dialect_insert, replacing

MAX_COMMENT_LENGTH = 2000
ASSIGNABLE_STATES = frozenset({CycleState.DRAFT, CycleState.OPEN})
RATINGS = Base.metadata.tables[Rating.__tablename__]
RATING_KEY = ["cycle_id", "ratee_id", "rater_id", "indicator_version_id"]
ASSIGNMENTS = Base.metadata.tables[RaterAssignment.__tablename__]
ASSIGNMENT_KEY = ["cycle_id", "ratee_id", "rater_id"]


@dataclass(frozen=True, slots=True)
class RaterAssignmentRecord:
    """An evaluation relationship: ``rater_id`` rates ``ratee_id`` in ``role`` during the cycle."""

    id: int
    cycle_id: int
    ratee_id: int
    rater_id: int
    role: RaterRole


@dataclass(frozen=True, slots=True)
class RatingRecord:
    """A stored rating, as submitted."""

    id: int
    cycle_id: int
    ratee_id: int
    rater_id: int
    role: RaterRole
    indicator_version_id: int
    value: float
    comment: str | None
    submitted_at: dt.datetime


async def load_cycle(session: AsyncSession, cycle_id: int) -> Cycle:
    """The cycle with ``cycle_id``, or NotFound."""
    cycle = await session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle", cycle_id, field="cycleId")
    return cycle


async def posts_on(session: AsyncSession, day: dt.date, employee_ids: Collection[int] | None = None) -> dict[int, int]:
    """Each employee's post on ``day`` (employee id -> post id); all employees when ids is None.

    The post assignment covering the day wins; without one (e.g. a gap in the history) the
    employee's current post stands in.
    """
    current = select(Employee.id, Employee.post_id)
    covering = (
        select(PostAssignment.employee_id, PostAssignment.post_id)
        .where(
            PostAssignment.start_date <= day,
            or_(PostAssignment.end_date.is_(None), PostAssignment.end_date >= day),
        )
        .order_by(PostAssignment.start_date, PostAssignment.id)
    )
    if employee_ids is not None:
        current = current.where(Employee.id.in_(employee_ids))
        covering = covering.where(PostAssignment.employee_id.in_(employee_ids))
    posts = dict((await session.execute(current)).all())
    # Ordered by start, so an overlap in the history resolves to the latest assignment.
    posts.update((await session.execute(covering)).all())
    return posts


EmployeeId = Annotated[int, IdOf("employee")]


@dataclass(frozen=True, slots=True, kw_only=True)
class RaterAssignInput:
    cycle_id: Annotated[int, IdOf("cycle")]
    ratee_id: EmployeeId
    rater_id: EmployeeId
    role: RaterRole


@dataclass(frozen=True, slots=True, kw_only=True)
class RatingSubmitInput:
    cycle_id: Annotated[int, IdOf("cycle")]
    ratee_id: EmployeeId
    rater_id: EmployeeId
    indicator_version_id: Annotated[int, IdOf("indicatorVersion")]
    value: float = described("A point on the indicator's rating scale, e.g. 1-5.")
    comment: str | None = None


async def assign_rater(
    sessionmaker: async_sessionmaker[AsyncSession], command: RaterAssignInput, caller: Caller
) -> RaterAssignmentRecord:
    """Let the rater rate the ratee in the role; an existing relationship of the pair gets the new role.

    Ratings the rater already submitted keep the role they were given under; a resubmission picks
    up the new one. Two concurrent assignments of one pair both succeed: the later one's role stands.
    """
    async with sessionmaker() as session, session.begin():
        assignment = await assign_in(session, command)
        await audit_change(session, caller.audit, f"assignment:{assignment.id}")
        return assignment


async def assign_in(session: AsyncSession, command: RaterAssignInput) -> RaterAssignmentRecord:
    """:func:`assign_rater`'s checks and write in the caller's transaction, which audits it (an approved
    peer nomination assigns its PEER rater through this, with the same checks)."""
    cycle_id, ratee_id, rater_id, role = command.cycle_id, command.ratee_id, command.rater_id, command.role
    mistake = role_error(role, ratee_id, rater_id)
    if mistake is not None:
        raise mistake
    cycle = await assignable_cycle(session, cycle_id)
    people = await check_relation(session, role, ratee_id, rater_id)
    unweighed = weight_error(
        role, ratee_id, people[ratee_id].employee_no, await weighed_roles(session, cycle, [ratee_id])
    )
    if unweighed is not None:
        raise unweighed
    values = {"cycle_id": cycle_id, "ratee_id": ratee_id, "rater_id": rater_id, "role": role}
    statement = replacing(dialect_insert(session, ASSIGNMENTS).values(values), ASSIGNMENT_KEY, ["role"])
    row = (await session.execute(statement.returning(*ASSIGNMENTS.c))).one()
    return RaterAssignmentRecord(row.id, row.cycle_id, row.ratee_id, row.rater_id, row.role)


def role_error(role: RaterRole, ratee_id: int, rater_id: int) -> InvalidInput | None:
    """What is wrong with the role of a rater and a ratee on their own: a SELF rater is the ratee, no other is."""
    if (role is RaterRole.SELF) == (rater_id == ratee_id):
        return None
    message = (
        "a SELF rater must be the ratee" if role is RaterRole.SELF else f"a {role.value} rater must not be the ratee"
    )
    return InvalidInput(message, field="role")


@dataclass(frozen=True, slots=True)
class Person:
    """What the rater checks read of an employee: their number (messages name people by it) and manager."""

    employee_no: str
    manager_id: int | None


async def people_of(session: AsyncSession, employee_ids: Collection[int]) -> dict[int, Person]:
    """Each existing employee's number and manager, by id; the ids that name nobody are left out."""
    people = select(Employee.id, Employee.employee_no, Employee.manager_id).where(Employee.id.in_(set(employee_ids)))
    return {row.id: Person(row.employee_no, row.manager_id) for row in await session.execute(people)}


def number_of(people: Mapping[int, Person], employee_id: int) -> str:
    """The employee's number for a message, or their id when :func:`people_of` found nobody."""
    person = people.get(employee_id)
    return person.employee_no if person is not None else f"with id {employee_id}"


def relation_error(
    role: RaterRole, ratee_id: int, rater_id: int, people: Mapping[int, Person]
) -> OperationError | None:
    """NotFound for an unknown ratee or rater; ``WrongRaterRelation`` unless a MANAGER rater is the ratee's
    manager and a SUBORDINATE rater reports to the ratee (peers and self are checked elsewhere or not at all).
    ``people`` holds both people (:func:`people_of`)."""
    for employee_id, field in ((ratee_id, "rateeId"), (rater_id, "raterId")):
        if employee_id not in people:
            return NotFound("employee", employee_id, field=field)
    manager, report = (rater_id, ratee_id) if role is RaterRole.MANAGER else (ratee_id, rater_id)
    if role in (RaterRole.MANAGER, RaterRole.SUBORDINATE) and people[report].manager_id != manager:
        return WrongRaterRelation(role, people[rater_id].employee_no, people[ratee_id].employee_no)
    return None


async def check_relation(session: AsyncSession, role: RaterRole, ratee_id: int, rater_id: int) -> dict[int, Person]:
    """Raises :func:`relation_error`'s error, if any, reading the two people; returns them."""
    people = await people_of(session, {ratee_id, rater_id})
    error = relation_error(role, ratee_id, rater_id, people)
    if error is not None:
        raise error
    return people


async def weighed_roles(
    session: AsyncSession, cycle: Cycle, ratee_ids: Collection[int]
) -> dict[int, frozenset[RaterRole]]:
    """The rater roles each ratee's scheme in the cycle weighs, by ratee id (:func:`rater_roles.roles_weighed`
    for the ratees' posts on the period's last day, the posts their ratings are checked against)."""
    return await roles_weighed(session, cycle, await posts_on(session, cycle.period_end, ratee_ids))


async def assignable_cycle(session: AsyncSession, cycle_id: int) -> Cycle:
    """The cycle, locked for a rater assignment (shared with other assignments), or WrongCycleState when it is
    past OPEN."""
    cycle = await locked_cycle(session, cycle_id, shared=True)
    if cycle.state not in ASSIGNABLE_STATES:
        raise WrongCycleState(cycle.state, "raters can be assigned only while it is DRAFT or OPEN")
    return cycle


async def _rating_scale(
    session: AsyncSession, cycle: Cycle, ratee_id: int, indicator_version_id: int
) -> RatingScaleRule:
    """The rating scale of a people-rated indicator version in the ratee's pinned scheme, or InvalidInput."""
    post_id = (await posts_on(session, cycle.period_end, [ratee_id])).get(ratee_id)
    if post_id is None:
        raise NotFound("employee", ratee_id, field="rateeId")
    version = await session.scalar(
        select(IndicatorVersion)
        .join(SchemeItem, SchemeItem.indicator_version_id == IndicatorVersion.id)
        .join(
            CycleScheme,
            and_(
                CycleScheme.scheme_version_id == SchemeItem.scheme_version_id,
                CycleScheme.cycle_id == cycle.id,
                CycleScheme.post_id == post_id,
            ),
        )
        .where(IndicatorVersion.id == indicator_version_id)
    )
    field = "indicatorVersionId"
    if version is None and await session.get(IndicatorVersion, indicator_version_id) is None:
        raise NotFound("indicatorVersion", indicator_version_id, field=field)
    if version is None:
        raise InvalidInput(
            f"indicator version {indicator_version_id} is not in the ratee's scheme for this cycle",
            field=field,
        )
    if version.source_system != MANUAL_SOURCE:
        raise InvalidInput(
            f"indicator version {indicator_version_id} is measured by {version.source_system}, not rated",
            field=field,
        )
    rule = parse_rule(version.rule)
    if not isinstance(rule, RatingScaleRule):
        raise InvalidInput(f"indicator version {indicator_version_id} has no rating scale", field=field)
    return rule


async def check_in_range(session: AsyncSession, indicator_version_id: int, value: float) -> None:
    """InvalidInput (field ``value``) when the version declares a valid range and the rating lies outside it."""
    bounds = (
        await session.execute(
            select(IndicatorVersion.valid_min, IndicatorVersion.valid_max).where(
                IndicatorVersion.id == indicator_version_id
            )
        )
    ).one()
    problem = valid_range(None, bounds.valid_min, bounds.valid_max).problem(value)
    if problem is not None:
        raise InvalidInput(problem, field="value")


async def submit_rating(
    sessionmaker: async_sessionmaker[AsyncSession], command: RatingSubmitInput, caller: Caller
) -> RatingRecord:
    """Store a rater's rating of one indicator for a ratee; a resubmission replaces the earlier one.

    The cycle stays OPEN until this commits (it holds the cycle's lock), so an accepted rating is
    always among the inputs of the cycle's scoring. Two concurrent first submissions of one rating
    both succeed, one inserting and one replacing it.
    """
    cycle_id, ratee_id, rater_id = command.cycle_id, command.ratee_id, command.rater_id
    indicator_version_id, value, comment = command.indicator_version_id, command.value, command.comment
    if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidInput(f"a comment may have at most {MAX_COMMENT_LENGTH} characters", field="comment")
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id, shared=True)
        if cycle.state is not CycleState.OPEN:
            raise WrongCycleState(cycle.state, "ratings are accepted only while it is OPEN")
        role = await session.scalar(
            select(RaterAssignment.role).where(
                RaterAssignment.cycle_id == cycle_id,
                RaterAssignment.ratee_id == ratee_id,
                RaterAssignment.rater_id == rater_id,
            )
        )
        if role is None:
            people = await people_of(session, {ratee_id, rater_id})
            message = f"employee {number_of(people, rater_id)} is not a rater of employee {number_of(people, ratee_id)}"
            raise NotARater(f"{message} in this cycle", field="raterId")
        # Checked again: the organisation may have changed since the assignment (a transfer, a new manager).
        await check_relation(session, role, ratee_id, rater_id)
        scale = await _rating_scale(session, cycle, ratee_id, indicator_version_id)
        try:
            validate_rating_point(scale, value)
        except NotAScalePoint as error:
            error.field = "value"
            raise
        except InvalidValue as error:
            raise InvalidInput(error.message, field="value") from error
        await check_in_range(session, indicator_version_id, value)
        key = {"cycle_id": cycle_id, "ratee_id": ratee_id, "rater_id": rater_id}
        values = {**key, "indicator_version_id": indicator_version_id, "role": role, "value": value}
        statement = replacing(
            dialect_insert(session, RATINGS).values(**values, comment=comment, submitted_at=caller.now),
            RATING_KEY,
            ["role", "value", "comment", "submitted_at"],
        )
        row = (await session.execute(statement.returning(*RATINGS.c))).one()
        await audit_change(session, caller.audit, f"rating:{row.id}")
        return RatingRecord(
            row.id,
            row.cycle_id,
            row.ratee_id,
            row.rater_id,
            row.role,
            row.indicator_version_id,
            row.value,
            row.comment,
            row.submitted_at,
        )
