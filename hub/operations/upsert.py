"""INSERT ... ON CONFLICT for the session's database (PostgreSQL or SQLite; both speak it).

An upsert is one atomic statement: two transactions writing the same key for the first time give one
insert and one update (PostgreSQL makes the second wait for the first to commit, then updates), where
a read followed by an insert lets both see nothing and one fail on the unique constraint.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Upsert = postgresql.Insert | sqlite.Insert


def dialect_insert(session: AsyncSession, table: Table) -> Upsert:
    """An INSERT for ``table`` that has ``on_conflict_do_update`` and ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def replacing(statement: Upsert, key: list[str], columns: list[str]) -> Upsert:
    """``statement`` made an upsert on the unique ``key``: a row already there takes the new ``columns``."""
    return statement.on_conflict_do_update(
        index_elements=key, set_={column: statement.excluded[column] for column in columns}
    )
