"""Bulk inserts for the demo seed: rows written in chunks, counted per table, progress reported."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import TypeVar

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Base, Employee
from hub.progress import Progress

CHUNK_SIZE = 5_000
_T = TypeVar("_T")


def _chunks(rows: Iterable[_T]) -> Iterator[list[_T]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_SIZE)):
        yield chunk


class SeedWriter:
    """Bulk inserts in chunks inside the caller's transaction, counting rows per table."""

    def __init__(self, session: AsyncSession, progress: Progress) -> None:
        self._session = session
        self._progress = progress
        progress.begin("seeding demo", None, "rows")
        self.counts: Counter[str] = Counter()

    def _done(self, table: Table, rows: int) -> None:
        self.counts[table.name] += rows
        self._progress.advance(rows, table.name)

    async def ids(self, model: type[Base], rows: Sequence[Mapping[str, object]], key: str | None = None) -> list[int]:
        """Insert rows and return their ids in the rows' order; big tables name a unique ``key``."""
        table = Base.metadata.tables[model.__tablename__]
        # SQLite cannot batch an ordered RETURNING (SQLAlchemy then sends one statement per row), so
        # a big table returns its natural key beside the id and the order is restored here.
        if key is None:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        else:
            statement = insert(table).returning(table.c.id, table.c[key])
        ids: list[int] = []
        for chunk in _chunks(rows):
            result = await self._session.execute(statement, chunk)
            if key is None:
                ids.extend(result.scalars())
            else:
                by_key = {k: i for i, k in result}
                ids.extend(by_key[row[key]] for row in chunk)
            self._done(table, len(chunk))
        return ids

    async def rows(self, model: type[Base], rows: Iterable[Mapping[str, object]]) -> None:
        table = Base.metadata.tables[model.__tablename__]
        for chunk in _chunks(rows):
            await self._session.execute(insert(table), chunk)
            self._done(table, len(chunk))

    async def set_managers(self, pairs: Iterable[dict[str, int]]) -> None:
        table = Base.metadata.tables[Employee.__tablename__]
        statement = update(table).where(table.c.id == bindparam("b_id")).values(manager_id=bindparam("b_mgr"))
        for chunk in _chunks(pairs):
            await self._session.execute(statement, chunk)
            self._progress.advance(len(chunk), table.name)

    def close(self) -> None:
        self._progress.end()
