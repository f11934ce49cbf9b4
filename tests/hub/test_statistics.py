"""The bulk writes leave PostgreSQL fresh planner statistics (ANALYZE): the seed, an organisation import and
scoring, so that the pages' statements are planned for the rows just written."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.engine import create_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import AppraisalResult
from hub.db.statistics import refresh_statistics
from hub.demo.build import build_demo
from hub.operations.org_import import OrganisationImport, import_organisation
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import SEED, TODAY, Backend, StatementCounter, blank_database, opened_engine
from tests.hub.test_import_org import CALLER, NEW_ORGANISATION


async def _analyses(sessionmaker: async_sessionmaker[AsyncSession], table: str) -> int:
    """How many times ``table`` was analysed (by hand: autovacuum's own runs are counted apart)."""
    async with sessionmaker() as session:
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))  # the counters as of now
        count = await session.scalar(
            text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :table"), {"table": table}
        )
    return int(count or 0)


async def test_the_demo_seed_analyses_every_table(tmp_path: Path) -> None:
    """A freshly seeded organisation is planned from its real size, not as the empty tables it was."""
    async with blank_database("postgresql", tmp_path) as url, opened_engine(url) as engine:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        await build_demo(sessionmaker, seed=SEED, employees=60, today=TODAY)
        for table in ("employees", "departments", "appraisal_results", "indicator_scores", "ratings"):
            assert await _analyses(sessionmaker, table) >= 1, table


async def test_scoring_analyses_the_results(postgresql_url: str, postgresql_backend: Backend) -> None:
    """Scoring writes a result and its indicator scores per participant: both tables are analysed after."""
    tables = ("appraisal_results", "indicator_scores")
    async with opened_engine(postgresql_url) as engine:
        sessionmaker = create_sessionmaker(engine)
        before = [await _analyses(sessionmaker, table) for table in tables]
        cycle = postgresql_backend.summary.current_cycle_id
        await score_cycle(sessionmaker, CycleScore(cycle, allow_incomplete=True, reason="statistics test"), CALLER)
        after = [await _analyses(sessionmaker, table) for table in tables]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1]


async def test_an_organisation_import_analyses_the_organisation(postgresql_url: str) -> None:
    """An import stores employees, posts, departments and assignments; a dry run stores nothing, analyses nothing."""
    async with opened_engine(postgresql_url) as engine:
        sessionmaker = create_sessionmaker(engine)
        await import_organisation(sessionmaker, OrganisationImport(csv=NEW_ORGANISATION, dry_run=True), CALLER)
        assert await _analyses(sessionmaker, "employees") == 0
        await import_organisation(sessionmaker, OrganisationImport(csv=NEW_ORGANISATION), CALLER)
        for table in ("employees", "posts", "departments", "post_assignments"):
            assert await _analyses(sessionmaker, table) == 1, table


async def test_sqlite_is_left_alone(sqlite_backend: Backend, tmp_path: Path) -> None:
    """SQLite plans without statistics unless asked to gather them: nothing is sent."""
    url = sqlite_backend.copy(tmp_path)
    async with opened_engine(url) as engine:
        counter = StatementCounter()
        counter.attach(engine)
        await refresh_statistics(create_sessionmaker(engine), AppraisalResult)
        assert counter.statements == []
