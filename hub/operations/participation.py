"""Who takes part in a cycle: the posts it pins when it opens (all, or those a limit names), and the posts and
people that join it while it is OPEN.

A cycle's participants are the active employees of its pinned posts on the period's last day
(``cycles.participants``) but those taken out of it by ``cycleLeave`` (``cycle_leavers``), so taking part is
a matter of pins: a cycle limited to some posts pins only them, a
post that joins later is pinned then (to the scheme in force on the period's first day, as at opening), and a
person hired into a pinned post after opening only lacks the default raters (self and manager) that opening
assigns, which joining them adds.

A leaver takes part in the cycles whose period they work to the end: their status turns INACTIVE when their
deactivation is recorded (which may be ahead of their last day, ``leftOn``), but a cycle counts them while
``leftOn`` is on or after the period's last day (:func:`employed_on`); the cycles they leave before that end
withdraw them (``hub.operations.leaving``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import TypeAlias

from sqlalchemy import ColumnElement, Row, Select, and_, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    Base,
    Cycle,
    CycleLeaver,
    CycleScheme,
    Department,
    Employee,
    Post,
    PostAssignment,
    RaterAssignment,
    SchemeVersion,
)
from hub.domain import EmployeeStatus, RaterRole
from hub.operations.errors import InvalidInput, NotFound
from hub.operations.upsert import dialect_insert

Participant: TypeAlias = Row[int, int, int, int | None]
"""A participant's (employee_id, post_id, department_id, manager_id)."""


def employed_on(day: dt.date) -> ColumnElement[bool]:
    """The employee still works here on ``day``: ACTIVE, or a leaver whose last day is that day or later."""
    return or_(Employee.status == EmployeeStatus.ACTIVE, Employee.left_on >= day)


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
        .where(employed_on(cycle.period_end))  # a leaver gone before the period's end takes part in no cycle
        .where(~exists().where(CycleLeaver.cycle_id == cycle.id, CycleLeaver.employee_id == Employee.id))
        .order_by(PostAssignment.employee_id, PostAssignment.start_date)
    )


async def participants(session: AsyncSession, cycle: Cycle, post_ids: Sequence[int]) -> list[Participant]:
    rows = (await session.execute(participants_statement(cycle, post_ids))).all()
    # Overlapping assignments: the latest start wins (rows are ordered by start date).
    return list({row.employee_id: row for row in rows}.values())


async def schemes_in_force(
    session: AsyncSession, day: object, post_ids: Collection[int] | None = None
) -> list[tuple[int, int]]:
    """(post id, scheme version id) of the scheme version in force on ``day`` for each post that has one."""
    in_force = (
        select(SchemeVersion.post_id, func.max(SchemeVersion.version).label("version"))
        .where(SchemeVersion.effective_from <= day)
        .where(or_(SchemeVersion.effective_to.is_(None), SchemeVersion.effective_to >= day))
        .group_by(SchemeVersion.post_id)
        .subquery()
    )
    statement = select(SchemeVersion.post_id, SchemeVersion.id).join(
        in_force, and_(in_force.c.post_id == SchemeVersion.post_id, in_force.c.version == SchemeVersion.version)
    )
    if post_ids is not None:
        statement = statement.where(SchemeVersion.post_id.in_(post_ids))
    return [
        (post_id, scheme_id) for post_id, scheme_id in await session.execute(statement.order_by(SchemeVersion.post_id))
    ]


async def posts_named(
    session: AsyncSession, post_ids: Sequence[int], families: Sequence[str], department_ids: Sequence[int]
) -> set[int] | None:
    """The posts a cycle is limited to: those named, of the families named, or in the departments named (their
    subtrees included); None when nothing is named (every post). An unknown name is refused, never ignored."""
    if not (post_ids or families or department_ids):
        return None
    posts = (await session.execute(select(Post.id, Post.family, Post.department_id))).all()
    known_posts = {post.id for post in posts}
    for post_id in post_ids:
        if post_id not in known_posts:
            raise NotFound("post", post_id, field="postIds")
    known_families = {post.family for post in posts}
    for family in families:
        if family not in known_families:
            raise InvalidInput(f"no post is of the family {family!r}", field="families")
    parents = {key: parent for key, parent in await session.execute(select(Department.id, Department.parent_id))}
    for department_id in department_ids:
        if department_id not in parents:
            raise NotFound("department", department_id, field="departmentIds")
    named_departments = set(department_ids)

    def within(department_id: int | None) -> bool:
        seen: set[int] = set()
        while department_id is not None and department_id not in seen:  # a stored loop ends the walk
            if department_id in named_departments:
                return True
            seen.add(department_id)
            department_id = parents.get(department_id)
        return False

    return {
        post.id
        for post in posts
        if post.id in set(post_ids) or post.family in set(families) or within(post.department_id)
    }


async def assign_default_raters(session: AsyncSession, cycle_id: int, people: Sequence[Participant]) -> None:
    """Each participant rates themselves and is rated by their manager; a relationship assigned by hand stands."""
    assignments = [
        {"cycle_id": cycle_id, "ratee_id": p.employee_id, "rater_id": p.employee_id, "role": RaterRole.SELF}
        for p in people
    ]
    assignments += [
        {"cycle_id": cycle_id, "ratee_id": p.employee_id, "rater_id": p.manager_id, "role": RaterRole.MANAGER}
        for p in people
        if p.manager_id is not None and p.manager_id != p.employee_id
    ]
    if assignments:
        table = Base.metadata.tables[RaterAssignment.__tablename__]
        defaults = dialect_insert(session, table).on_conflict_do_nothing(
            index_elements=["cycle_id", "ratee_id", "rater_id"]
        )
        await session.execute(defaults, assignments)


async def pin(session: AsyncSession, cycle: Cycle, pins: Sequence[tuple[int, int]]) -> list[Participant]:
    """Pins the posts to their scheme versions and assigns the default raters of their people; returns them."""
    await session.execute(
        insert(CycleScheme),
        [{"cycle_id": cycle.id, "post_id": post_id, "scheme_version_id": sv} for post_id, sv in pins],
    )
    people = await participants(session, cycle, [post_id for post_id, _ in pins])
    await assign_default_raters(session, cycle.id, people)
    return people
