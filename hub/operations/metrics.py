"""Importing measured extension-indicator values from CSV, for business systems that have no API.

The file has a header ``employee_no,indicator,value`` and an optional ``fetched_at`` column (ISO 8601
with a timezone; the import's time when left out). ``indicator`` is the indicator's code; the version
stored is the one in the employee's pinned scheme for the cycle. The whole file is checked first and
every problem is reported at once (:class:`~hub.operations.errors.ImportRejected`, the header being
line 1); only a clean file is written, in one transaction, with a constant number of statements
but for one per ``WRITE_CHUNK`` rows (:mod:`hub.operations.batches`).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeAlias

from sqlalchemy import Row, Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Base, CycleScheme, Employee, Indicator, IndicatorVersion, MetricValue, SchemeItem
from hub.domain import MANUAL_SOURCE, CycleState, IndicatorCategory
from hub.operations import csv_files
from hub.operations.audit import audit_change
from hub.operations.batches import execute_in_chunks, partitions
from hub.operations.commands import Caller, IdOf
from hub.operations.cycles import locked_cycle
from hub.operations.errors import ImportRejected, RowProblem, WrongCycleState
from hub.operations.item_definitions import with_item_definitions
from hub.operations.ranges import ValidRange, valid_range
from hub.operations.ratings import posts_on
from hub.operations.rows import MetricValueRow, ReplacingRow

REQUIRED_COLUMNS = ("employee_no", "indicator", "value")
OPTIONAL_COLUMNS = ("fetched_at",)

CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a ``fetched_at`` may lie: the measuring system's clock may run a little ahead."""


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One well-formed row of an import file, not yet checked against the database."""

    line: int
    employee_no: str
    indicator_code: str
    value: float
    fetched_at: dt.datetime
    checksum: str  # sha256 hex of the row's raw text


@dataclass(frozen=True, slots=True)
class ParsedFile:
    rows: list[MetricRow]
    problems: list[RowProblem]


@dataclass(frozen=True, slots=True)
class MetricValuesImported:
    """How many values an import stored, and how many of those replaced a value already there."""

    imported: int
    replaced: int


class _RawLines:
    """Feeds csv.reader line by line and remembers the raw text of the record being read."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.number = 0  # lines handed out so far
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        self.taken.append(line)
        return line

    def record(self) -> tuple[int, str]:
        """The first line number and the raw text (without its line break) of the record just read."""
        first, text = self.number - len(self.taken) + 1, "".join(self.taken)
        self.taken = []
        return first, text.rstrip("\r\n")


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""ASCII decimal notation. Python's float() also reads ``1_0``, ``nan``, ``inf`` and Arabic-Indic or
full-width digits, none of which a measuring system means as a number here."""


def _value(text: str) -> float | str:
    """The value as a finite number in ASCII decimal notation, or what is wrong with it."""
    if not text:
        return "value is empty"
    try:
        value = float(text)
    except ValueError:
        return f"value {text!r} is not a number"
    if not math.isfinite(value):
        return f"value {text!r} is not a finite number"
    if not _DECIMAL.fullmatch(text):
        return f"value {text!r} is not a number"
    if value == 0 and any(digit in "123456789" for digit in text.lower().partition("e")[0]):
        return f"value {text!r} is too small to store: it would be stored as 0"  # 1e-400, say
    return value


def _fetched_at(text: str, now: dt.datetime) -> dt.datetime | str:
    """The timestamp (``now`` when empty), or what is wrong with it (no value is measured in the future)."""
    if not text:
        return now
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        return f"fetched_at {text!r} is not an ISO 8601 timestamp"
    if at.tzinfo is None:
        return f"fetched_at {text!r} has no timezone"
    try:
        # Stored in UTC: a time at the edge of the calendar with an offset has no UTC equivalent.
        at = at.astimezone(dt.UTC)
    except OverflowError:
        return f"fetched_at {text!r} is out of range"
    if at > now + CLOCK_SKEW:
        return f"fetched_at {text!r} is in the future"
    return at


def parse_metric_csv(csv_text: str, *, now: dt.datetime) -> ParsedFile:
    """Read an import file into rows, with every problem that shows without the database."""
    lines = _RawLines(csv_text.removeprefix("\ufeff"))  # spreadsheets like to start with a BOM
    reader = csv.reader(lines, strict=True)
    rows: list[MetricRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        header = [name.strip().lower() for name in next(reader)]
        lines.record()
        header_problems = csv_files.header_problems(header, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
        if header_problems:
            return ParsedFile([], [RowProblem(1, "; ".join(header_problems))])
        for fields in reader:
            line, raw = lines.record()
            if not any(field.strip() for field in fields):
                continue  # blank lines, e.g. at the end of the file
            if (wrong_width := csv_files.width_problem(line, header, fields)) is not None:
                problems.append(wrong_width)
                continue
            cells = dict(zip(header, (field.strip() for field in fields), strict=True))
            employee_no, code = cells["employee_no"], cells["indicator"]
            value, fetched_at = _value(cells["value"]), _fetched_at(cells.get("fetched_at", ""), now)
            checks = ("" if employee_no else "employee_no is empty", "" if code else "indicator is empty")
            messages = [m for m in (*checks, value, fetched_at) if isinstance(m, str) and m]
            if employee_no and code:
                first = seen.setdefault((employee_no, code), line)
                if first != line:
                    messages.append(f"duplicate of line {first} ({employee_no}, {code})")
            if messages:
                problems.append(RowProblem(line, "; ".join(messages)))
                continue
            assert isinstance(value, float) and isinstance(fetched_at, dt.datetime)
            checksum = hashlib.sha256(raw.encode()).hexdigest()
            rows.append(MetricRow(line, employee_no, code, value, fetched_at, checksum))
    except StopIteration:
        return ParsedFile([], [RowProblem(1, f"the file is empty; expected a header {','.join(REQUIRED_COLUMNS)}")])
    except csv.Error as error:
        problems.append(RowProblem(lines.number, f"unreadable CSV: {error}"))
    if not rows and not problems:
        problems.append(RowProblem(1, csv_files.NO_ROWS))
    return ParsedFile(rows, problems)


PinnedItem: TypeAlias = Row[
    int, int, int, str, str | None, str, IndicatorCategory, str | None, float | None, float | None
]
"""An item of a pinned scheme: (post_id, indicator_id, version_id, source_system, source_metric, code, category,
unit, valid_min, valid_max): the indicator, its pinned version, its source and what its values may be."""


def pinned_items(
    cycle_id: int,
) -> Select[int, int, int, str, str | None, str, IndicatorCategory, str | None, float | None, float | None]:
    """Every item of the schemes a cycle pinned, per post: the indicator, its pinned version and source."""
    items = select(
        CycleScheme.post_id,
        IndicatorVersion.indicator_id,
        IndicatorVersion.id.label("version_id"),
        IndicatorVersion.source_system,
        IndicatorVersion.source_metric,
        Indicator.code,
        Indicator.category,
        Indicator.unit,
        IndicatorVersion.valid_min,
        IndicatorVersion.valid_max,
    ).join(SchemeItem, SchemeItem.scheme_version_id == CycleScheme.scheme_version_id)
    return with_item_definitions(items).where(CycleScheme.cycle_id == cycle_id)


@dataclass(frozen=True, slots=True)
class _Pinned:
    version_id: int
    system: str
    metric: str | None
    valid: ValidRange


def item_range(item: PinnedItem) -> ValidRange:
    """The values a pinned item's version accepts (``hub.operations.ranges``)."""
    return valid_range(item.unit, item.valid_min, item.valid_max)


async def _match(
    session: AsyncSession, cycle_id: int, period_end: dt.date, rows: list[MetricRow]
) -> tuple[list[MetricValueRow], list[RowProblem]]:
    """Resolve rows to metric_values columns with a constant number of queries, or report why not."""
    employees: dict[str, int] = {}
    async for found in partitions(session, select(Employee.employee_no, Employee.id)):
        employees.update(found)
    indicators = {
        code: (indicator_id, category)
        for code, indicator_id, category in (
            await session.execute(select(Indicator.code, Indicator.id, Indicator.category))
        )
    }
    post_of = await posts_on(session, period_end)
    pinned = {
        (item.post_id, item.indicator_id): _Pinned(
            item.version_id, item.source_system, item.source_metric, item_range(item)
        )
        for item in await session.execute(pinned_items(cycle_id))
    }

    def resolve(row: MetricRow) -> MetricValueRow | str:
        employee_id = employees.get(row.employee_no)
        indicator = indicators.get(row.indicator_code)
        messages = [] if employee_id is not None else [f"unknown employee_no {row.employee_no!r}"]
        if indicator is None:
            messages.append(f"unknown indicator {row.indicator_code!r}")
        elif indicator[1] is IndicatorCategory.CORE:
            messages.append(f"{row.indicator_code} is a CORE indicator; ratings are not imported")
        if messages or employee_id is None or indicator is None:
            return "; ".join(messages)
        version = pinned.get((post_of[employee_id], indicator[0]))
        if version is None:
            return f"{row.indicator_code} is not in the scheme of {row.employee_no}'s post for this cycle"
        if version.system == MANUAL_SOURCE or version.metric is None:
            return f"{row.indicator_code} is rated by people (MANUAL); ratings are not imported"
        problem = version.valid.problem(row.value)
        if problem is not None:
            return problem
        return {
            "cycle_id": cycle_id,
            "employee_id": employee_id,
            "indicator_version_id": version.version_id,
            "value": row.value,
            "system": version.system,
            "metric": version.metric,
            "fetched_at": row.fetched_at,
            "checksum": row.checksum,
            "stale": False,
        }

    # Pure from here on, a lookup or three per row of the file: in a worker thread, like the parsing.
    return await asyncio.to_thread(_resolve_all, rows, resolve)


def _resolve_all(
    rows: list[MetricRow], resolve: Callable[[MetricRow], MetricValueRow | str]
) -> tuple[list[MetricValueRow], list[RowProblem]]:
    values: list[MetricValueRow] = []
    problems: list[RowProblem] = []
    for row in rows:
        resolved = resolve(row)
        if isinstance(resolved, str):
            problems.append(RowProblem(row.line, resolved))
        else:
            values.append(resolved)
    return values, problems


@dataclass(frozen=True, slots=True)
class MetricValuesImport:
    cycle_id: Annotated[int, IdOf("cycle")]
    csv: str
    """The file's text: ``employee_no,indicator,value[,fetched_at]``, a header line first."""


async def import_metric_values(
    sessionmaker: async_sessionmaker[AsyncSession], command: MetricValuesImport, caller: Caller
) -> MetricValuesImported:
    """Store an OPEN cycle's measured values from a CSV file: all rows or, on any problem, none.

    The cycle's exclusive lock keeps scoring from starting until the values are in (or makes the
    import wait and find the cycle SCORED), and makes imports and collections of one cycle take
    turns: each sees what the one before stored, and reports it as replaced.
    """
    # Parsing and checking a file is pure Python, a row at a time (about a second for 100,000 rows):
    # in a worker thread, so that the event loop keeps serving other requests meanwhile.
    cycle_id = command.cycle_id
    parsed = await asyncio.to_thread(parse_metric_csv, command.csv, now=caller.now)
    async with sessionmaker() as session, session.begin():
        cycle = await locked_cycle(session, cycle_id)
        if cycle.state is not CycleState.OPEN:
            raise WrongCycleState(cycle.state, "metric values are imported only while it is OPEN")
        values, problems = await _match(session, cycle_id, cycle.period_end, parsed.rows)
        problems = sorted([*parsed.problems, *problems], key=lambda problem: problem.line)
        if problems:
            raise ImportRejected(problems)
        existing: dict[tuple[int, int], int] = {}
        stored = select(MetricValue.id, MetricValue.employee_id, MetricValue.indicator_version_id).where(
            MetricValue.cycle_id == cycle_id
        )
        async for found in partitions(session, stored):
            existing.update(((employee_id, version_id), value_id) for value_id, employee_id, version_id in found)
        new: list[MetricValueRow] = []
        replacing: list[ReplacingRow] = []
        for value in values:
            value_id = existing.get((value["employee_id"], value["indicator_version_id"]))
            if value_id is None:
                new.append(value)
            else:
                replacing.append({**value, "b_id": value_id})
        await write_metric_values(session, new, replacing)
        await audit_change(session, caller.audit)
        return MetricValuesImported(imported=len(values), replaced=len(replacing))


async def write_metric_values(
    session: AsyncSession, new: Sequence[MetricValueRow], replacing: Sequence[ReplacingRow]
) -> None:
    """Inserts the new values and updates the replaced ones in place, in the session's transaction.

    Core statements: the ORM's bulk paths cost seconds per 100,000 rows in bookkeeping alone.
    """
    table = Base.metadata.tables[MetricValue.__tablename__]
    if new:
        await execute_in_chunks(session, insert(table), new)
    if replacing:
        await execute_in_chunks(session, update(table).where(table.c.id == bindparam("b_id")), replacing)
