"""What a cycle step did that may not be meant, told in its answer rather than refused.

``cycleOpen`` pins only posts with a scheme version in force on the period's first day: a post of its scope
without one is left out, and so are its people. That is often right (a post HR does not appraise) but easy to
miss, so the opening names each such post with how many people it leaves out. ``cycleCreate`` warns when the
period overlaps another cycle's (two cycles over one quarter can be meant: a pilot beside the main one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, Post
from hub.domain import CycleWarningCode
from hub.operations.participation import participants


@dataclass(frozen=True, slots=True)
class CycleWarning:
    """Something a cycle step did that may not be meant (the step is done)."""

    code: CycleWarningCode
    message: str
    post_id: int | None = None
    """The post left out (POST_WITHOUT_SCHEME)."""
    employees: int | None = None
    """How many active people the post holds on the period's last day, left out with it (POST_WITHOUT_SCHEME)."""
    other_cycle_id: int | None = None
    """The cycle whose period overlaps (PERIOD_OVERLAP)."""


async def posts_without_scheme(
    session: AsyncSession, cycle: Cycle, scope: Collection[int] | None, pinned: Collection[int]
) -> list[CycleWarning]:
    """A warning per post of the scope that was not pinned (it has no scheme in force on the period's first day),
    naming its code and how many people it leaves out. With no scope named (every post), posts nobody holds are
    left unmentioned: they leave no one out."""
    codes = dict((await session.execute(select(Post.id, Post.code))).all())
    left_out = sorted(set(codes if scope is None else scope) - set(pinned))
    people = Counter(person.post_id for person in await participants(session, cycle, left_out))
    return [
        CycleWarning(
            CycleWarningCode.POST_WITHOUT_SCHEME,
            f"post {codes[post_id]} has no scheme in force on {cycle.period_start}: its {people[post_id]} "
            "employee(s) are not in the cycle (publish a scheme version, then cycleJoin the post)",
            post_id=post_id,
            employees=people[post_id],
        )
        for post_id in left_out
        if scope is not None or people[post_id]
    ]


async def overlaps(sessionmaker: async_sessionmaker[AsyncSession], cycle: Cycle) -> list[CycleWarning]:
    """A warning per other cycle whose period shares a day with this one's: read after the creation commits, as
    advice (a cycle created meanwhile is named too)."""
    async with sessionmaker() as session:
        others = await session.execute(
            select(Cycle.id, Cycle.name, Cycle.period_start, Cycle.period_end)
            .where(Cycle.id != cycle.id)
            .where(Cycle.period_start <= cycle.period_end, Cycle.period_end >= cycle.period_start)
            .order_by(Cycle.period_start, Cycle.id)
        )
    return [
        CycleWarning(
            CycleWarningCode.PERIOD_OVERLAP,
            f"the period overlaps cycle {other.id} {other.name!r} ({other.period_start} to {other.period_end})",
            other_cycle_id=other.id,
        )
        for other in others
    ]
