"""Scoring's bulk writes: PostgreSQL's COPY for the results and their indicator scores; executemany on SQLite.

On PostgreSQL the rows go to the server with asyncpg's ``copy_records_to_table`` on the session's own connection,
inside the session's transaction (what scoring writes besides, the transition and the audit entry, commits or rolls
back with them). The results' ids are taken from their table's sequence beforehand, in one statement, so that the
indicator scores need no read-back. A value the column's SQLAlchemy type changes before binding (an enum to its
name, a JSON document to its text) is changed by the same type's bind processor, so the two paths store the same
rows. SQLite has no COPY: it keeps the executemany of a Core insert, and reads the ids back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, cast

import asyncpg
from sqlalchemy import JSON, Enum, Table, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import AppraisalResult, Base, IndicatorScore
from hub.operations.batches import chunks, execute_in_chunks
from hub.operations.scoring_rows import RESULT_COLUMNS, SCORE_COLUMNS, ResultTuple, ScoreTuple

COPY_CHUNK = 5_000
"""Rows per COPY: asyncpg encodes them on the event loop's thread, some milliseconds a chunk."""

RESULTS: Table = Base.metadata.tables[AppraisalResult.__tablename__]
SCORES: Table = Base.metadata.tables[IndicatorScore.__tablename__]

Row = tuple[object, ...]


class ScoringWriter(Protocol):
    """Writes a cycle's results, then their indicator scores, in the session's transaction."""

    def prepare_results(self, rows: list[ResultTuple]) -> Sequence[object]:
        """The rows as the writer sends them (pure: runs in a worker thread)."""

    async def write_results(self, prepared: Sequence[object]) -> None: ...

    async def result_ids(self) -> dict[int, int]:
        """employee id -> the id of their result, once every result is written."""

    def prepare_scores(self, rows: list[ScoreTuple]) -> Sequence[object]:
        """The rows as the writer sends them (pure: runs in a worker thread)."""

    async def write_scores(self, prepared: Sequence[object]) -> None: ...


def _converter(table: Table, columns: Sequence[str], dialect: Dialect) -> Callable[[Row], Row]:
    """Applies the bind processors of the columns whose type changes the value (enums, JSON) to a row."""
    converted: list[tuple[int, Callable[[object], object]]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        processor = column_type._cached_bind_processor(dialect) if isinstance(column_type, Enum | JSON) else None
        if processor is not None:
            converted.append((index, cast(Callable[[object], object], processor)))

    def convert(row: Row) -> Row:
        values = list(row)
        for index, processor in converted:
            values[index] = processor(values[index])
        return tuple(values)

    return convert


class CopyWriter:
    """PostgreSQL: ids from the sequence, rows by COPY."""

    def __init__(self, driver: asyncpg.Connection, dialect: Dialect, ids: dict[int, int]) -> None:
        self._driver = driver
        self._ids = ids
        self._results = _converter(RESULTS, RESULT_COLUMNS, dialect)
        self._scores = _converter(SCORES, SCORE_COLUMNS, dialect)

    @classmethod
    async def open(cls, session: AsyncSession, employee_ids: Sequence[int]) -> CopyWriter:
        """A writer on the session's connection, with an id taken from the results' sequence for each employee
        (in ascending order, as an executemany in the employees' order would have numbered them)."""
        sequence = func.pg_get_serial_sequence(RESULTS.name, "id")
        numbers = select(func.nextval(sequence)).select_from(func.generate_series(1, len(employee_ids)))
        taken = sorted((await session.execute(numbers)).scalars()) if employee_ids else []
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, asyncpg.Connection), "COPY is written on PostgreSQL through asyncpg"
        return cls(driver, connection.dialect, dict(zip(employee_ids, taken, strict=True)))

    def prepare_results(self, rows: list[ResultTuple]) -> Sequence[object]:
        ids, convert = self._ids, self._results
        return [(ids[row[1]], *convert(row)) for row in rows]

    async def write_results(self, prepared: Sequence[object]) -> None:
        await self._copy(RESULTS, ("id", *RESULT_COLUMNS), prepared)

    async def result_ids(self) -> dict[int, int]:
        return self._ids

    def prepare_scores(self, rows: list[ScoreTuple]) -> Sequence[object]:
        convert = self._scores
        return [convert(row) for row in rows]

    async def write_scores(self, prepared: Sequence[object]) -> None:
        await self._copy(SCORES, SCORE_COLUMNS, prepared)

    async def _copy(self, table: Table, columns: Sequence[str], rows: Sequence[object]) -> None:
        for chunk in chunks(rows, COPY_CHUNK):
            await self._driver.copy_records_to_table(table.name, records=chunk, columns=list(columns))


class ExecutemanyWriter:
    """SQLite: a Core insert's executemany in chunks, the ids read back."""

    def __init__(self, session: AsyncSession, cycle_id: int) -> None:
        self._session = session
        self._cycle_id = cycle_id

    def prepare_results(self, rows: list[ResultTuple]) -> Sequence[object]:
        return _dicts(RESULT_COLUMNS, rows)

    async def write_results(self, prepared: Sequence[object]) -> None:
        await execute_in_chunks(self._session, RESULTS.insert(), _mappings(prepared))

    async def result_ids(self) -> dict[int, int]:
        ids = select(RESULTS.c.employee_id, RESULTS.c.id).where(RESULTS.c.cycle_id == self._cycle_id)
        return {employee_id: result_id for employee_id, result_id in await self._session.execute(ids)}

    def prepare_scores(self, rows: list[ScoreTuple]) -> Sequence[object]:
        return _dicts(SCORE_COLUMNS, rows)

    async def write_scores(self, prepared: Sequence[object]) -> None:
        await execute_in_chunks(self._session, SCORES.insert(), _mappings(prepared))


def _dicts(columns: Sequence[str], rows: Sequence[Row]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _mappings(prepared: Sequence[object]) -> Sequence[Mapping[str, object]]:
    return cast(Sequence[Mapping[str, object]], prepared)  # what _dicts made


async def open_writer(session: AsyncSession, cycle_id: int, employee_ids: Sequence[int]) -> ScoringWriter:
    """COPY on PostgreSQL (asyncpg), executemany elsewhere; ``employee_ids``: whose results will be written, in the
    order they will be."""
    if session.get_bind().dialect.name == "postgresql" and USE_COPY:
        return await CopyWriter.open(session, employee_ids)
    return ExecutemanyWriter(session, cycle_id)


USE_COPY = True
"""False makes PostgreSQL take the executemany path too: the tests compare what the two paths write."""
