"""Record batches read with PostgreSQL's ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``, parsed by pyarrow's C reader.

The fast path of an export whose rows need no decision in Python (``resolvers.export`` says which): the server
writes its CSV text, asyncpg hands it over as it comes, and pyarrow parses about ``CHUNK_BYTES`` at a time into
a record batch of the export's columns and types. No row becomes a Python object, which is where the cursor's
path spent most of its time beyond the database's own (BENCHMARKS.md, the export section).

The copy runs in a task that puts what asyncpg gives into a small bounded queue: while the response has not
taken a batch, the queue stays full, asyncpg stops reading from the socket, and the server waits, so memory
stays a few chunks whatever the export's size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import IO, cast

import asyncpg
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from hub.export.columns import Column
from hub.export.formats import record_batch

CHUNK_BYTES = 1 << 20
"""CSV text parsed into one record batch (a Parquet row group): about 5,000 results."""
_QUEUED = 8
"""Pieces of COPY's output waiting for the parser (asyncpg's pieces are a socket read each, 64 KiB at most).
Parsing and writing stay on the event loop: in a thread they were no faster on this shared machine, and
pyarrow's allocator then kept a heap per thread (the served hub's peak memory grew twice as much)."""


def _options(columns: Sequence[Column]) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    read = pa_csv.ReadOptions(
        column_names=[column.name for column in columns], use_threads=False, block_size=4 * CHUNK_BYTES
    )
    # COPY's CSV writes NULL as an empty unquoted field and an empty text as "" (kept as the empty text), a
    # boolean as t or f, and quotes a text holding a newline.
    parse = pa_csv.ParseOptions(newlines_in_values=True)
    convert = pa_csv.ConvertOptions(
        column_types={column.name: column.type for column in columns},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=["t"],
        false_values=["f"],
    )
    return read, parse, convert


def row_end(text: bytes) -> int:
    """Where the last complete CSV row of ``text`` (which starts at a row's start) ends, after its newline; 0 when
    none does. A newline ends a row where it is outside quotes: an even number of quote marks before it (a quote
    inside a quoted text is written twice)."""
    end = text.rfind(b"\n")
    while end >= 0 and text.count(b'"', 0, end) % 2:
        end = text.rfind(b"\n", 0, end)
    return end + 1


def parse(text: bytes, columns: Sequence[Column]) -> pa.RecordBatch:
    """Whole CSV rows of COPY's output as one record batch of ``columns`` (rounded as the API shows them)."""
    read, parse_options, convert = _options(columns)
    source = cast(IO[bytes], pa.BufferReader(text))  # the stubs leave out NativeFile, which pyarrow reads best
    table = pa_csv.read_csv(source, read_options=read, parse_options=parse_options, convert_options=convert)
    return record_batch(columns, [table.column(index).combine_chunks() for index in range(len(columns))])


async def copy_batches(
    driver: asyncpg.Connection, query: str, arguments: Sequence[object], columns: Sequence[Column]
) -> AsyncGenerator[pa.RecordBatch, None]:
    """The rows of ``query`` (positional ``$n`` parameters: ``arguments``), selecting ``columns`` in order, as
    record batches, read with COPY on ``driver`` (in whatever transaction it is in)."""
    pieces: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUED)
    failed: list[BaseException] = []

    async def take(piece: bytes) -> None:
        await pieces.put(piece)

    async def copy() -> None:
        try:
            await driver.copy_from_query(query, *arguments, output=take, format="csv")
        except Exception as error:  # handed to the reader, which raises it where the response reads
            failed.append(error)
        await pieces.put(None)

    task = asyncio.create_task(copy())
    try:
        held: list[bytes] = []
        size = 0
        while (piece := await pieces.get()) is not None:
            held.append(piece)
            size += len(piece)
            if size < CHUNK_BYTES:
                continue
            text = b"".join(held)
            end = row_end(text)
            held, size = [text[end:]], len(text) - end
            if end:
                yield parse(text[:end], columns)
        if failed:
            raise failed[0]
        rest = b"".join(held)
        if rest:
            yield parse(rest, columns)
        await task
    finally:
        if not task.done():  # the response stopped reading: the copy is cancelled, asyncpg ends it on the server
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def copy_statement(
    sessionmaker: async_sessionmaker[AsyncSession],
    statement: Select[*tuple[object, ...]],
    columns: Sequence[Column],
) -> AsyncGenerator[pa.RecordBatch, None]:
    """The rows of a PostgreSQL ``statement`` that selects ``columns`` in order, as record batches read with COPY
    on a session's connection (SQLAlchemy compiles the statement; asyncpg has the server quote its parameters)."""
    async with sessionmaker() as session:
        driver, query, arguments = await driver_statement(await session.connection(), statement)
        async with contextlib.aclosing(copy_batches(driver, query, arguments, columns)) as batches:
            async for batch in batches:
                yield batch


async def driver_statement(
    connection: AsyncConnection, statement: Select[*tuple[object, ...]]
) -> tuple[asyncpg.Connection, str, list[object]]:
    """``statement`` as asyncpg runs it on ``connection``'s own driver connection: its text with ``$n`` parameters
    and their values. The values skip SQLAlchemy's bind processing, which is right for what an export binds (ints,
    floats, dates, strings, and enums whose names are their values: ``hub.domain``), not for every type."""
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    arguments = [compiled.params[name] for name in compiled.positiontup or ()]
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, asyncpg.Connection), "COPY and cursors are read on PostgreSQL through asyncpg"
    return driver, compiled.string, arguments
