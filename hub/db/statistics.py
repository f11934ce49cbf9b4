"""Fresh planner statistics after the bulk writes (PostgreSQL's ``ANALYZE``).

PostgreSQL plans from statistics its autovacuum daemon refreshes some time after a table changed a lot; until
then a table seeded, imported or scored a moment ago is planned as the empty table it was, and the results
query of the portal page ran as a full scan (25 ms instead of 0.15 ms, issue 16). The operations that write in
bulk (the demo seed, an organisation import, scoring) refresh the statistics of what they wrote as they
finish. SQLite needs nothing: its planner works from the indexes' shape unless asked to ``ANALYZE``.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.models import Base

log = logging.getLogger("perfhub")


async def refresh_statistics(sessionmaker: async_sessionmaker[AsyncSession], *written: type[Base]) -> None:
    """``ANALYZE`` the tables of ``written`` (every table when none is named), on PostgreSQL only.

    After the writes' commit, in a connection of its own (``ANALYZE`` in a transaction that rolls back would
    forget what it learnt). A failure costs only the plans' quality until autovacuum catches up, so it is
    logged, never raised: what was written stays written and reported as such.
    """
    engine = sessionmaker.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        return
    tables = ", ".join(str(model.__tablename__) for model in written)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"ANALYZE {tables}".strip()))
    except (SQLAlchemyError, OSError) as error:
        log.warning("planner statistics not refreshed (%s): %s", tables or "every table", error)
