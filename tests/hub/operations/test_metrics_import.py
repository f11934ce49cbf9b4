"""Importing measured values from CSV: provenance, idempotence, all or nothing with every problem named."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlalchemy import Row, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.models import Cycle, Employee, MetricValue
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState, IndicatorCategory
from hub.operations.commands import Caller
from hub.operations.errors import ImportRejected, RowProblem, WrongCycleState
from hub.operations.metrics import (
    MetricValuesImport,
    MetricValuesImported,
    import_metric_values,
    parse_metric_csv,
    pinned_items,
)
from tests.conftest import TODAY

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)
HEADER = "employee_no,indicator,value,fetched_at"


# An extension indicator in an employee's pinned scheme, as the database has it: employee_id, employee_no,
# code, version_id, system, metric.
Measured = Row[tuple[int, str, str, int, str, str]]


async def _measured(sessionmaker: Sessions, cycle_id: int) -> list[Measured]:
    """Every (employee, extension indicator) pair the cycle's pinned schemes call for: the import's own
    ``pinned_items``, per employee of each post."""
    pinned = pinned_items(cycle_id).subquery()
    async with sessionmaker() as session:
        rows = await session.execute(
            select(
                Employee.id.label("employee_id"),
                Employee.employee_no,
                pinned.c.code,
                pinned.c.version_id,
                pinned.c.source_system.label("system"),
                func.coalesce(pinned.c.source_metric, "").label("metric"),
            )
            .join(pinned, pinned.c.post_id == Employee.post_id)
            .where(pinned.c.category == IndicatorCategory.EXTENSION)
            .order_by(Employee.employee_no, pinned.c.code)
        )
        return list(rows)


async def _stored(sessionmaker: Sessions, cycle_id: int) -> dict[tuple[int, int], MetricValue]:
    async with sessionmaker() as session:
        values = await session.scalars(select(MetricValue).where(MetricValue.cycle_id == cycle_id))
        return {(v.employee_id, v.indicator_version_id): v for v in values}


async def _count(sessionmaker: Sessions) -> int:
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(MetricValue))) or 0


def _lines(measured: list[Measured]) -> list[str]:
    """Good data lines, every other one with an explicit fetched_at."""
    return [
        f"{m.employee_no},{m.code},{10 + i / 4},{'2026-11-15T23:00:00+08:00' if i % 2 else ''}"
        for i, m in enumerate(measured)
    ]


def _csv(lines: list[str]) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


async def test_good_file_imports_with_provenance_and_checksum(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Each row is stored with its version's source, its fetched_at and the sha256 of its line."""
    cycle = seeded.current_cycle_id
    measured = (await _measured(sessionmaker, cycle))[:24]
    lines = _lines(measured)

    report = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(lines)), Caller("test", now=NOW)
    )

    assert report == MetricValuesImported(imported=len(measured), replaced=0)
    stored = await _stored(sessionmaker, cycle)
    assert len(stored) == len(measured)
    for i, (m, line) in enumerate(zip(measured, lines, strict=True)):
        value = stored[(m.employee_id, m.version_id)]
        expected_at = dt.datetime(2026, 11, 15, 15, tzinfo=dt.UTC) if i % 2 else NOW
        assert (value.value, value.system, value.metric, value.stale) == (
            10 + i / 4,
            m.system,
            m.metric,
            False,
        )
        assert value.fetched_at == expected_at
        assert value.checksum == hashlib.sha256(line.encode()).hexdigest()


async def test_importing_the_same_file_twice_stores_no_duplicates(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """The second import replaces every value in place: same row count, replaced == N."""
    cycle = seeded.current_cycle_id
    measured = (await _measured(sessionmaker, cycle))[:24]
    text = _csv(_lines(measured))

    await import_metric_values(sessionmaker, MetricValuesImport(cycle_id=cycle, csv=text), Caller("test", now=NOW))
    count = await _count(sessionmaker)
    again = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=text), Caller("test", now=NOW)
    )

    assert again == MetricValuesImported(imported=len(measured), replaced=len(measured))
    assert await _count(sessionmaker) == count


async def test_changed_values_replace_the_stored_ones(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A later file with new values for some keys updates those and inserts the rest."""
    cycle = seeded.current_cycle_id
    first, second = (await _measured(sessionmaker, cycle))[:4], (await _measured(sessionmaker, cycle))[2:6]
    await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(_lines(first))), Caller("test", now=NOW)
    )

    text = _csv([f"{m.employee_no},{m.code},99," for m in second])
    report = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=text), Caller("test", now=NOW)
    )

    assert report == MetricValuesImported(imported=4, replaced=2)
    stored = await _stored(sessionmaker, cycle)
    assert len(stored) == 6
    assert [stored[(m.employee_id, m.version_id)].value for m in second] == [99.0] * 4


async def test_one_bad_row_rejects_the_file_and_names_its_line(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A non-numeric value on line 5 is the one problem reported, and nothing at all is stored."""
    cycle = seeded.current_cycle_id
    lines = _lines((await _measured(sessionmaker, cycle))[:8])
    employee_no, code, _, _ = lines[3].split(",")
    lines[3] = f"{employee_no},{code},twelve,"
    before = await _count(sessionmaker)

    with pytest.raises(ImportRejected) as caught:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(lines)), Caller("test", now=NOW)
        )

    assert caught.value.problems == [RowProblem(5, "value 'twelve' is not a number")]
    assert caught.value.code == "IMPORT_REJECTED"
    assert await _count(sessionmaker) == before


async def test_a_percentage_outside_0_100_and_a_fetched_at_in_the_future_are_refused(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """180 for a percentage, -1 for one, and a value fetched an hour from now are each named; a fetched_at
    within the clock-skew allowance and a percentage of exactly 100 are fine; nothing is written."""
    cycle = seeded.current_cycle_id
    measured = await _measured(sessionmaker, cycle)
    vouchers = [m for m in measured if m.code == "VOUCHER_ERROR_RATE"]
    other = next(m for m in measured if m.code == "REIMBURSEMENT_CYCLE")  # days: 180 is a value
    soon, later = (NOW + dt.timedelta(minutes=minutes) for minutes in (4, 60))
    lines = [
        f"{vouchers[0].employee_no},VOUCHER_ERROR_RATE,180,",  # 2
        f"{vouchers[1].employee_no},VOUCHER_ERROR_RATE,-1,",  # 3
        f"{vouchers[2].employee_no},VOUCHER_ERROR_RATE,100,{soon.isoformat()}",  # 4: fine
        f"{other.employee_no},REIMBURSEMENT_CYCLE,180,{later.isoformat()}",  # 5
    ]
    before = await _count(sessionmaker)
    with pytest.raises(ImportRejected) as caught:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(lines)), Caller("test", now=NOW)
        )
    assert caught.value.problems == [
        RowProblem(2, "the value 180 is outside the valid range 0..100"),
        RowProblem(3, "the value -1 is outside the valid range 0..100"),
        RowProblem(5, f"fetched_at {later.isoformat()!r} is in the future"),
    ]
    assert await _count(sessionmaker) == before
    report = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv([lines[2]])), Caller("test", now=NOW)
    )
    assert report.imported == 1


async def test_every_problem_is_reported_in_one_go(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Unknown employees and codes, foreign and CORE indicators, bad values, times and rows: all named."""
    cycle = seeded.current_cycle_id
    measured = await _measured(sessionmaker, cycle)
    good = measured[0]
    foreign = next(
        m.code for m in measured if m.code not in {x.code for x in measured if x.employee_id == good.employee_id}
    )
    no = good.employee_no
    lines = [
        f"{no},{good.code},1.5,",  # 2: good
        f"E999999,{good.code},1,",  # 3
        f"{no},NO_SUCH_INDICATOR,1,",  # 4
        f"{no},{foreign},1,",  # 5
        f"{no},TEAMWORK,4,",  # 6
        f"{measured[2].employee_no},{measured[2].code},abc,",  # 7
        f"{measured[3].employee_no},{measured[3].code},nan,",  # 8
        f"{measured[4].employee_no},{measured[4].code},1,yesterday",  # 9
        f"{measured[5].employee_no},{measured[5].code},1,2026-11-16T10:00:00",  # 10
        f"{no},{good.code},2,",  # 11: duplicate of line 2
        f"{no},{good.code}",  # 12: too few fields
    ]
    before = await _count(sessionmaker)

    with pytest.raises(ImportRejected) as caught:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(lines)), Caller("test", now=NOW)
        )

    messages = {p.line: p.message for p in caught.value.problems}
    assert sorted(messages) == list(range(3, 13))
    assert "unknown employee_no 'E999999'" in messages[3]
    assert "unknown indicator 'NO_SUCH_INDICATOR'" in messages[4]
    assert "not in the scheme" in messages[5]
    assert "CORE" in messages[6]
    assert "not a number" in messages[7]
    assert "not a finite number" in messages[8]
    assert "not an ISO 8601 timestamp" in messages[9]
    assert "no timezone" in messages[10]
    assert "duplicate of line 2" in messages[11]
    assert "expected 4 fields" in messages[12]
    assert await _count(sessionmaker) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("employee_no,value\nE000001,3\n", "missing column(s) indicator"),
        ("employee_no,indicator,value,fetchedat\n", "unknown column(s) 'fetchedat'"),
        (f"{HEADER}\n", "the file has a header but no rows"),
    ],
    ids=["empty", "missing-column", "misspelt-column", "header-only"],
)
async def test_a_file_without_usable_columns_or_rows_is_rejected(
    sessionmaker: Sessions, seeded: SeedSummary, text: str, message: str
) -> None:
    """An empty file, a missing or misspelt column, or no rows at all is a problem on line 1."""
    with pytest.raises(ImportRejected) as caught:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=seeded.current_cycle_id, csv=text), Caller("test", now=NOW)
        )

    assert [p.line for p in caught.value.problems] == [1]
    assert message in caught.value.problems[0].message


async def test_only_an_open_cycle_takes_imports(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A SCORED cycle refuses an import with WrongCycleState and stores nothing."""
    cycle = seeded.current_cycle_id
    text = _csv(_lines((await _measured(sessionmaker, cycle))[:2]))
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Cycle).where(Cycle.id == cycle).values(state=CycleState.SCORED))
    before = await _count(sessionmaker)

    with pytest.raises(WrongCycleState):
        await import_metric_values(sessionmaker, MetricValuesImport(cycle_id=cycle, csv=text), Caller("test", now=NOW))

    assert await _count(sessionmaker) == before


async def test_statement_count_does_not_grow_with_rows(
    sessionmaker: Sessions, engine: AsyncEngine, seeded: SeedSummary
) -> None:
    """A 2-row file and a file of every other measured pair take the same number of SQL statements."""
    cycle = seeded.current_cycle_id
    measured = await _measured(sessionmaker, cycle)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(_lines(measured[:2]))), Caller("test", now=NOW)
        )
        small = len(statements)
        statements.clear()
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(_lines(measured[2:]))), Caller("test", now=NOW)
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    assert len(measured) > 200
    assert len(statements) == small


def test_parse_keeps_the_raw_line_for_the_checksum() -> None:
    """The checksum covers the line as written (quotes, spaces), without its CRLF, after a BOM is dropped."""
    line = 'E000001, "DOCUMENT_TURNAROUND" ,2.5,2026-11-15T00:00:00Z'
    parsed = parse_metric_csv(f"\ufeff{HEADER}\r\n{line}\r\n\r\n", now=NOW)

    assert parsed.problems == []
    [row] = parsed.rows
    assert (row.line, row.employee_no, row.value) == (2, "E000001", 2.5)
    assert row.fetched_at == dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    assert row.checksum == hashlib.sha256(line.encode()).hexdigest()


def test_parse_numbers_a_record_by_its_first_line() -> None:
    """A quoted field spanning two lines does not shift the line numbers of the rows after it."""
    text = 'employee_no,indicator,value\n"E0\n01",X,1\nE002,X,oops\n'

    parsed = parse_metric_csv(text, now=NOW)

    assert [r.line for r in parsed.rows] == [2]
    assert parsed.problems == [RowProblem(4, "value 'oops' is not a number")]


def test_parse_defaults_fetched_at_without_the_column() -> None:
    """Without a fetched_at column every row is stamped with the import's time."""
    parsed = parse_metric_csv("employee_no,indicator,value\nE1,X,1\nE2,X,-3e2\n", now=NOW)

    assert [(r.value, r.fetched_at) for r in parsed.rows] == [(1.0, NOW), (-300.0, NOW)]


def test_parse_handles_a_large_file() -> None:
    """100,000 rows parse into 100,000 rows (the import is meant for whole systems' exports)."""
    text = "employee_no,indicator,value\n" + "".join(f"E{i:06d},X,{i}\n" for i in range(100_000))

    parsed = parse_metric_csv(text, now=NOW)

    assert (len(parsed.rows), parsed.problems) == (100_000, [])
