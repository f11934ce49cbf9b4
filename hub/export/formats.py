"""CSV and Parquet, written a record batch at a time onto the response: memory stays one batch whatever the size.

Both formats take the same Arrow record batches. Parquet goes through pyarrow's ``ParquetWriter``, one row group
per batch, onto a sink that the response drains after every batch; its footer (the schema, with each field's
unit and description as metadata) comes with the last bytes. CSV goes through pyarrow's C writer: a header row
whose names carry their units, ``total_score (points 0-100)``, and no comment line, which BI tools would read
as data.
"""

from __future__ import annotations

import enum
import io
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, TypeAlias, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from typing_extensions import Buffer

from hub.appraisal.shown import shown_cents
from hub.export.columns import Column

if TYPE_CHECKING:
    Array: TypeAlias = pa.Array[pa.Scalar[pa.DataType]]
    """A column of a record batch (pyarrow's stubs type arrays by their scalars; pyarrow itself does not)."""
else:
    Array = pa.Array


class Format(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is Format.CSV else "application/vnd.apache.parquet"


_NEAR_HALF = 1e-6
"""How close to half a cent a value must be for the exact (decimal) rounding; elsewhere float arithmetic gives
the same cents, since the shortest repr of a value lies within 1e-12 of it."""


def two_decimals(values: Array) -> pa.DoubleArray:
    """Rounded half-up to two decimals as the API shows scores (``hub.appraisal.shown``), a column at a time.

    Vectorised for the values clearly off a half cent; those near one (2.675) take the API's own decimal
    rule, so each value is exactly the one the API would answer."""
    scores = cast(pa.DoubleArray, values)
    hundredths = pc.multiply(scores, pa.scalar(100.0))
    rounded: pa.DoubleArray = pc.divide(pc.floor(pc.add(hundredths, pa.scalar(0.5))), pa.scalar(100.0))
    offset = pc.abs(pc.subtract(pc.subtract(hundredths, pc.floor(hundredths)), pa.scalar(0.5)))
    near = pc.less(offset, pa.scalar(_NEAR_HALF))
    if not pc.any(near).as_py():
        return rounded
    exact = [None if value is None else float(shown_cents(value)) for value in scores.filter(near).to_pylist()]
    replaced: pa.DoubleArray = pc.replace_with_mask(rounded, near, pa.array(exact, pa.float64()))
    return replaced


def record_batch(columns: Sequence[Column], values: Sequence[Array]) -> pa.RecordBatch:
    """A batch of the export's columns, the rounded ones rounded as the API shows them."""
    shown = [two_decimals(array) if column.rounded else array for column, array in zip(columns, values, strict=True)]
    return pa.RecordBatch.from_arrays(shown, schema=schema(columns))


def schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([column.field() for column in columns])


class _Drain(io.RawIOBase):
    """A write-only file that keeps what was written until the response takes it (``take``)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: Buffer) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


async def encode(
    batches: AsyncGenerator[pa.RecordBatch, None], columns: Sequence[Column], format_: Format
) -> AsyncGenerator[bytes, None]:
    """The export's bytes in ``format_``, a batch at a time (the header first, even when no row follows)."""
    drain = _Drain()
    sink = pa.PythonFile(drain, mode="w")
    arrow_schema = schema(columns)
    if format_ is Format.PARQUET:
        writer: pq.ParquetWriter | pa_csv.CSVWriter = pq.ParquetWriter(sink, arrow_schema, compression="snappy")
    else:
        headed = pa.schema([pa.field(column.header, column.type) for column in columns])
        writer = pa_csv.CSVWriter(sink, headed)  # type: ignore[arg-type]  # the stubs leave out NativeFile
        arrow_schema = headed
    try:
        # Closed when the response stops reading too: the reader's session, cursor or COPY go back at once, not
        # whenever the collector finalises a suspended generator.
        async with aclosing(batches):
            async for batch in batches:
                writer.write_batch(batch if format_ is Format.PARQUET else batch.rename_columns(arrow_schema.names))
                written = drain.take()
                if written:
                    yield written
    finally:
        writer.close()  # on a failure too: the writer's buffers go, and the bytes it writes are dropped
    yield drain.take()  # the rest: the CSV header of an empty export, the Parquet footer
