"""The whole demo: the organisation, then its past cycle scored, calibrated and published by the engine."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.demo.organisation import SeedSummary, seed_demo
from hub.operations.cycles import close_calibration, publish_cycle
from hub.operations.scoring import score_cycle
from hub.progress import SILENT, Progress

DEMO_ACTOR = "seed"


async def build_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    seed: int,
    employees: int,
    today: dt.date,
    progress: Progress = SILENT,
) -> SeedSummary:
    """Seeds the organisation and drives the past cycle to PUBLISHED; the current one stays OPEN."""
    summary = await seed_demo(sessionmaker, seed=seed, employees=employees, today=today, progress=progress)
    await score_cycle(sessionmaker, summary.past_cycle_id, actor=DEMO_ACTOR, progress=progress)
    await close_calibration(sessionmaker, summary.past_cycle_id, actor=DEMO_ACTOR)
    await publish_cycle(sessionmaker, summary.past_cycle_id, actor=DEMO_ACTOR)
    return summary
