"""The Alembic migrations against the models, on SQLite and, when configured, PostgreSQL.

Upgraded to head, they build exactly what the models declare (Alembic's autogenerate comparison finds
nothing to do); every revision's downgrade runs, down to a database with nothing but Alembic's own
table, and the upgrade runs again after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.migrate import alembic_config, downgrade, upgrade
from hub.db.models import AppraisalResult, Base, Employee, IndicatorScore, ResultAdjustment
from hub.demo.organisation import SeedSummary
from hub.domain import AdjustmentKind
from hub.operations.calibration import ResultCalibrateInput, calibrate_result
from hub.operations.commands import Caller
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import blank_database, opened_engine


@pytest.fixture(params=["sqlite", "postgresql"])
async def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database that no migration has touched."""
    async with blank_database(request.param, tmp_path) as url, opened_engine(url) as engine:
        yield engine


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _downgrade_to_base(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "base")


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_head_builds_what_the_models_declare(blank_engine: AsyncEngine) -> None:
    await upgrade(blank_engine)
    async with blank_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(_tables) == set(Base.metadata.tables) | {"alembic_version"}


async def test_every_revision_downgrades_and_head_comes_back(blank_engine: AsyncEngine) -> None:
    await upgrade(blank_engine)
    async with blank_engine.begin() as connection:
        await connection.run_sync(_downgrade_to_base)
    async with blank_engine.connect() as connection:
        assert await connection.run_sync(_tables) == {"alembic_version"}
    await upgrade(blank_engine)
    async with blank_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_a_calibration_made_before_0007_becomes_its_first_adjustment(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Upgrading a database with a calibrated result gives it one CALIBRATION row: from the engine's values to
    its own, with its reason and actor; results never calibrated get none."""
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    async with sessionmaker() as session:
        result_id = await session.scalar(
            select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.current_cycle_id).limit(1)
        )
    assert result_id is not None
    command_ = ResultCalibrateInput(result_id=result_id, reason="committee", total_score=97.0)
    await calibrate_result(sessionmaker, command_, Caller("hr"))
    await downgrade(engine, "0006")
    await upgrade(engine)

    async with sessionmaker() as session:
        rows = (await session.execute(select(ResultAdjustment.__table__))).all()
        computed = (
            await session.execute(
                select(AppraisalResult.computed_total, AppraisalResult.computed_grade).where(
                    AppraisalResult.id == result_id
                )
            )
        ).one()
    assert [
        (row.result_id, row.kind, row.total_before, row.grade_before, row.total_after, row.reason, row.actor)
        for row in rows
    ] == [(result_id, AdjustmentKind.CALIBRATION, *computed, 97.0, "committee", "hr")]


async def test_a_database_in_use_goes_down_to_the_first_release_and_up_again(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """The demo organisation with its published cycle, taken down to 0005 (the schema of 0.1.0's last session)
    and up to head, as a hub upgraded in place does: every row stays, every foreign key holds. On SQLite, table
    rebuilds of tables that other rows point at need the keys unenforced while they run (``hub.db.migrate``)."""

    async def counts() -> tuple[int, int, int]:
        async with sessionmaker() as session:
            return (
                len((await session.scalars(select(Employee.id))).all()),
                len((await session.scalars(select(AppraisalResult.id))).all()),
                len((await session.scalars(select(IndicatorScore.id))).all()),
            )

    before = await counts()
    assert before[1] > 0
    await downgrade(engine, "0005")
    await upgrade(engine)
    assert await counts() == before
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
