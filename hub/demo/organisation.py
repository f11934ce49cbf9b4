"""Seeds the demo organisation: the white paper's administration & logistics department, end to end.

``seed_demo`` writes departments, the 12 posts, employees with managers and post history, versioned
indicators and schemes, a past cycle full of 360 ratings and business-system metrics, and a current
cycle part-way through its ratings, in one transaction. Same seed and same ``today``, same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Department
from hub.demo.catalogue import POSTS
from hub.demo.seeder import Seeder
from hub.demo.writer import SeedWriter
from hub.progress import SILENT, Progress

MIN_EMPLOYEES = len(POSTS) + 1  # one per post, plus the department's head


class DatabaseNotEmpty(RuntimeError):
    """Raised when the database already has an organisation: the demo never mixes into real data."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """How many rows the seed wrote, and the two cycles it opened."""

    departments: int
    posts: int
    employees: int
    post_assignments: int
    indicators: int
    indicator_versions: int
    scheme_versions: int
    cycles: int
    rater_assignments: int
    ratings: int
    metric_values: int
    past_cycle_id: int
    current_cycle_id: int


async def seed_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    seed: int = 7,
    employees: int = 120,
    today: dt.date,
    progress: Progress = SILENT,
) -> SeedSummary:
    """Seed an empty database with the demo organisation and two open cycles, all or nothing."""
    if employees < MIN_EMPLOYEES:
        raise ValueError(f"the demo needs at least {MIN_EMPLOYEES} employees (one per post and a head)")
    async with sessionmaker() as session, session.begin():
        if (await session.execute(select(Department.id).limit(1))).first() is not None:
            raise DatabaseNotEmpty("the database already has departments; seed_demo only seeds an empty one")
        writer = SeedWriter(session, progress)
        try:
            past_id, current_id = await Seeder(writer, seed, employees, today).run()
        finally:
            writer.close()
    n = writer.counts
    return SeedSummary(
        departments=n["departments"],
        posts=n["posts"],
        employees=n["employees"],
        post_assignments=n["post_assignments"],
        indicators=n["indicators"],
        indicator_versions=n["indicator_versions"],
        scheme_versions=n["scheme_versions"],
        cycles=n["cycles"],
        rater_assignments=n["rater_assignments"],
        ratings=n["ratings"],
        metric_values=n["metric_values"],
        past_cycle_id=past_id,
        current_cycle_id=current_id,
    )
