"""Runs the Alembic migrations that ship inside the package, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrates the database behind ``engine`` up to ``revision`` inside one transaction."""
    await _migrate(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrates the database behind ``engine`` down to ``revision`` inside one transaction (tests, operators)."""
    await _migrate(engine, "downgrade", revision)


async def _migrate(engine: AsyncEngine, direction: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            await connection.run_sync(run)
        return
    async with engine.connect() as connection:
        # Alembic's batch mode changes a SQLite table by copying it and dropping the original; with foreign keys
        # enforced, SQLite refuses to drop a table that other rows point at, so an existing database could not be
        # migrated. Enforcement can only be switched outside a transaction: off for the migration, every key
        # checked before it commits, on again after.
        await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(run)
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"the migration would leave {len(broken)} row(s) pointing at nothing")
        finally:
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            await connection.commit()
