"""The notes a cycle's transitions carry: what a step changed beyond the state.

An opening notes the scope it was given and how many posts it pinned; a join or a leave while the cycle is OPEN
is a step of its own (from OPEN to OPEN) noting who came in or went out, so that ``Cycle.transitions`` tells who
took part and why the people in it changed. Posts and people are named by code and employee number.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Cycle, CycleTransition, Department, Employee, Post
from hub.domain import CycleState


def note_step(session: AsyncSession, cycle: Cycle, actor: str, note: str, reason: str | None = None) -> None:
    """Records a step of an OPEN cycle that changes who takes part, not the state."""
    session.add(
        CycleTransition(
            cycle_id=cycle.id,
            from_state=CycleState.OPEN,
            to_state=CycleState.OPEN,
            actor=actor,
            reason=reason,
            note=note,
        )
    )


async def post_codes(session: AsyncSession, post_ids: Collection[int]) -> list[str]:
    return list(await session.scalars(select(Post.code).where(Post.id.in_(post_ids)).order_by(Post.code)))


async def employee_numbers(session: AsyncSession, employee_ids: Collection[int]) -> list[str]:
    numbers = select(Employee.employee_no).where(Employee.id.in_(employee_ids)).order_by(Employee.employee_no)
    return list(await session.scalars(numbers))


async def scope_note(
    session: AsyncSession,
    post_ids: Collection[int],
    families: Collection[str],
    department_ids: Collection[int],
    pinned: int,
) -> str:
    """The scope an opening was given, by codes and families, and how many posts it pinned."""
    named = []
    if post_ids:
        named.append("posts " + ", ".join(await post_codes(session, post_ids)))
    if families:
        named.append("families " + ", ".join(sorted(families)))
    if department_ids:
        departments = select(Department.code).where(Department.id.in_(department_ids)).order_by(Department.code)
        named.append("departments " + ", ".join(await session.scalars(departments)) + " and those below them")
    scope = "; ".join(named) if named else "every post with a scheme in force"
    return f"opened for {scope}: {pinned} post(s) pinned"


async def people_note(
    session: AsyncSession, verb: str, post_ids: Collection[int], employee_ids: Collection[int]
) -> str:
    """``joined: posts A, B; employees E1`` (or ``left``)."""
    named = []
    if post_ids:
        named.append("posts " + ", ".join(await post_codes(session, post_ids)))
    if employee_ids:
        named.append("employees " + ", ".join(await employee_numbers(session, employee_ids)))
    return f"{verb}: " + ("; ".join(named) or "nobody new")


async def joined_note(session: AsyncSession, post_ids: Collection[int], employee_ids: Collection[int]) -> str:
    return await people_note(session, "joined", post_ids, employee_ids)
