"""Rating tasks for a principal: a rater's own task list, a ratee's raters by role, a cycle's progress.

Three readings of the same facts (``resolvers.loaders.tasks``). What each principal may be told is the access
policy's (``hub.policy``: ``RATING_TASKS``, ``EXPECTED_RATERS``, ``RATING_PROGRESS``,
``names_anonymous_raters``, ``counts_anonymous_submissions``).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import policy
from hub.db.models import Cycle, Employee, RaterAssignment
from hub.domain import CycleState, RaterRole
from hub.operations import audit as audit_log
from resolvers.context import Context
from resolvers.errors import parse_id
from resolvers.loaders.tasks import (
    Pair,
    RatersOfRole,
    RatingProgress,
    RatingTask,
    counted,
    pairs_where,
    people_by_id,
    people_rated_items,
    rated_counts,
)
from resolvers.records import CycleRow, EmployeeRow


async def rating_tasks(context: Context, rater: EmployeeRow, cycle_id: str) -> list[RatingTask]:
    """The rater's tasks in the cycle (none for an unknown cycle id). A task lists its rater's ratings, so a
    read of someone else's tasks (hr_admin's) is audited like a read of their ratings."""
    cycle_key = parse_id(cycle_id)
    if cycle_key is None:
        return []
    tasks = await context.loaders.rating_tasks_by_rater_cycle.load((rater.id, cycle_key))
    if rater.employee_no != context.principal.employee_number:
        await context.audit("Employee.ratingTasks", [f"cycle:{cycle_key}", f"employee:{rater.id}"], audit_log.OK)
    return tasks


async def _cycle(session: AsyncSession, cycle_id: str) -> Cycle | None:
    cycle_key = parse_id(cycle_id)
    return None if cycle_key is None else await session.get(Cycle, cycle_key)


async def expected_raters(context: Context, ratee_id: int, cycle_id: str) -> list[RatersOfRole] | None:
    """The ratee's raters in the cycle by role (null for an unknown cycle)."""
    principal = context.principal
    async with context.sessionmaker() as session:
        cycle = await _cycle(session, cycle_id)
        if cycle is None:
            return None
        pairs = await pairs_where(session, RaterAssignment.cycle_id == cycle.id, RaterAssignment.ratee_id == ratee_id)
        items = await people_rated_items(session, pairs)
        rated = await rated_counts(session, cycle.id, [ratee_id])
        pending_ids = [pair.rater_id for pair in pairs if not counted(pair, items, rated)]
        found_people = await people_by_id(session, pending_ids)
    by_role: defaultdict[RaterRole, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_role[pair.role].append(pair)
    groups = []
    for role in RaterRole:
        if role not in by_role:
            continue
        anonymous = role in policy.ANONYMOUS_RATER_ROLES
        countable = not anonymous or policy.counts_anonymous_submissions(principal, cycle_open=_open(cycle))
        named = not anonymous or policy.names_anonymous_raters(principal)
        done = [pair for pair in by_role[role] if counted(pair, items, rated)]
        groups.append(
            RatersOfRole(
                role=role,
                expected=len(by_role[role]),
                submitted=len(done) if countable else None,
                pending=tuple(found_people[p.rater_id] for p in by_role[role] if p not in done) if named else None,
            )
        )
    return groups


def _open(cycle: Cycle | CycleRow) -> bool:
    """Whether the cycle takes ratings, or will: a count of submissions would then time each new one."""
    return cycle.state in {CycleState.DRAFT, CycleState.OPEN}


async def cycle_progress(context: Context, cycle: CycleRow) -> list[RatingProgress]:
    """The cycle's rating progress per department (of the ratee) and role: over every ratee for hr_admin, over
    a manager's people (not the manager) for a manager."""
    ratee_departments = select(Employee.id, Employee.department_id)
    if not policy.follows_every_ratee(context.principal):
        # A manager's people, not the manager: their own raters are not theirs to chase.
        ratee_departments = ratee_departments.where(context.scope.managed_column())
    in_scope = ratee_departments.subquery()
    async with context.sessionmaker() as session:
        pairs = await pairs_where(
            session,
            RaterAssignment.cycle_id == cycle.id,
            RaterAssignment.ratee_id.in_(select(in_scope.c.id)),
        )
        ratees = select(in_scope.c.id, in_scope.c.department_id).where(
            in_scope.c.id.in_({pair.ratee_id for pair in pairs})
        )
        department_of: dict[int, int] = {ratee: department for ratee, department in await session.execute(ratees)}
        items = await people_rated_items(session, pairs)
        rated = await rated_counts(session, cycle.id, department_of)
    expected: defaultdict[tuple[int, RaterRole], int] = defaultdict(int)
    submitted: defaultdict[tuple[int, RaterRole], int] = defaultdict(int)
    for pair in pairs:
        key = (department_of[pair.ratee_id], pair.role)
        expected[key] += 1
        submitted[key] += counted(pair, items, rated)
    may_count_anonymous = policy.counts_anonymous_submissions(context.principal, cycle_open=_open(cycle))
    return [
        RatingProgress(
            department_id=department_id,
            role=role,
            expected=count,
            submitted=submitted[(department_id, role)]
            if may_count_anonymous or role not in policy.ANONYMOUS_RATER_ROLES
            else None,
        )
        for (department_id, role), count in sorted(expected.items(), key=lambda item: (item[0][0], item[0][1].value))
    ]
