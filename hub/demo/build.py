"""The whole demo: the organisation, then its past cycle scored, calibrated and published by the engine."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.statistics import refresh_statistics
from hub.demo.closed_loop import configure_closed_loop
from hub.demo.organisation import SeedSummary, seed_demo
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
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
    cycle_id, caller = summary.past_cycle_id, Caller(DEMO_ACTOR)
    await score_cycle(sessionmaker, CycleScore(cycle_id), caller, progress=progress)
    await close_calibration(sessionmaker, CycleCloseCalibration(cycle_id), caller)
    await configure_closed_loop(sessionmaker, caller)
    await publish_cycle(sessionmaker, CyclePublish(cycle_id), caller)
    await refresh_statistics(sessionmaker)  # every table the seed filled
    return summary
