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
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.migrate import alembic_config, upgrade
from hub.db.models import Base
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
