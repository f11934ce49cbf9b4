"""Big reads and writes in slices, so that an operation on a whole cycle never holds up the event loop.

SQLAlchemy does real work on the event loop's thread around every statement: before an executemany it
binds every row's parameters (some microseconds a row, a JSON column more), and it makes a Row object of
every row it reads. For 100,000 rows that is seconds in which the hub answers nobody else. Sliced, with
the driver's await between two slices, other requests are served every few milliseconds; the statements
are the same, there are only more of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TypeVar, TypeVarTuple

from sqlalchemy import Executable, Row, Select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.progress import SILENT, Progress

WRITE_CHUNK = 1000
"""Rows per executemany: some milliseconds of binding on the loop's thread, not tens of them."""
READ_CHUNK = 2000
"""Rows per partition of a big read."""

T = TypeVar("T")
Columns = TypeVarTuple("Columns")


def chunks(rows: Sequence[T], size: int = WRITE_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def execute_in_chunks(
    session: AsyncSession,
    statement: Executable,
    rows: Sequence[Mapping[str, object]],
    size: int = WRITE_CHUNK,
    *,
    progress: Progress = SILENT,
) -> None:
    """``session.execute(statement, rows)``, ``size`` rows at a time (in the session's transaction),
    each chunk's rows counted on ``progress``."""
    for chunk in chunks(rows, size):
        await session.execute(statement, chunk)
        progress.advance(len(chunk))


async def partitions(
    session: AsyncSession, statement: Select[*Columns], size: int = READ_CHUNK
) -> AsyncIterator[Sequence[Row[*Columns]]]:
    """The rows of a big read, ``size`` at a time: each partition is fetched by an await of its own."""
    result = await session.stream(statement)
    async for partition in result.partitions(size):
        yield partition
