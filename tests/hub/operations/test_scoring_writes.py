"""Scoring's bulk writes (issue 16 point 5): COPY on PostgreSQL, executemany on SQLite, a slice of participants at a
time, and nothing half-written when a write fails.

The rows are compared column by column across the two paths on the same PostgreSQL database; the statements are
counted (SQL through SQLAlchemy's cursor events, COPY through asyncpg's own call, which those events do not see).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.engine import create_sessionmaker
from hub.db.models import AppraisalResult, AuditEntry, Cycle, CycleTransition, IndicatorScore
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState
from hub.operations import scoring, scoring_writes
from hub.operations.commands import Caller
from hub.operations.cycles import CycleReopen, reopen_cycle
from hub.operations.scoring import CycleScore, score_cycle
from hub.operations.scoring_inputs import read_inputs
from hub.operations.scoring_rows import RESULT_COLUMNS, SCORE_COLUMNS
from tests.conftest import Backend, opened_engine
from tests.hub.operations.test_collect import FakeSystem, collect_from

Sessions = async_sessionmaker[AsyncSession]
RESULTS = AppraisalResult.__table__
SCORES = IndicatorScore.__table__


async def _written(sessions: Sessions, cycle_id: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The cycle's results (every column scoring writes but the time, in id order) and indicator scores (every
    column, the result named by its employee, in id order)."""
    results_columns = [RESULTS.c[name] for name in RESULT_COLUMNS if name != "computed_at"]
    score_columns = [RESULTS.c.employee_id, *(SCORES.c[name] for name in SCORE_COLUMNS[1:])]
    async with sessions() as session:
        results = (
            await session.execute(select(*results_columns).where(RESULTS.c.cycle_id == cycle_id).order_by(RESULTS.c.id))
        ).all()
        scores = (
            await session.execute(
                select(*score_columns)
                .join(RESULTS, RESULTS.c.id == SCORES.c.result_id)
                .where(RESULTS.c.cycle_id == cycle_id)
                .order_by(SCORES.c.id)
            )
        ).all()
    return [tuple(row) for row in results], [tuple(row) for row in scores]


class Copies:
    """Counts asyncpg's COPY calls and the rows each one sent, by table."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def tables(self) -> list[str]:
        return [table for table, _ in self.calls]


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> Copies:
    seen = Copies()
    real = asyncpg.Connection.copy_records_to_table

    async def counting(self: asyncpg.Connection, table_name: str, *, records: Any, **kwargs: Any) -> str:
        records = list(records)
        seen.calls.append((table_name, len(records)))
        result: str = await real(self, table_name, records=records, **kwargs)
        return result

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", counting)
    return seen


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_copy_and_executemany_write_the_same_rows(
    postgresql_url: str, postgresql_backend: Backend, monkeypatch: pytest.MonkeyPatch, copies: Copies
) -> None:
    """On one PostgreSQL database, the cycle scored by COPY and again by executemany: the same results (ids in the
    employees' order both times) and the same indicator scores, value for value, the JSON inputs included."""
    async with opened_engine(postgresql_url) as engine:
        sessions = create_sessionmaker(engine)
        cycle_id = postgresql_backend.summary.current_cycle_id
        await collect_from(sessions, cycle_id, {name: FakeSystem(name) for name in ("finance", "security", "tickets")})
        await score_cycle(sessions, CycleScore(cycle_id), Caller("test"))
        by_copy = await _written(sessions, cycle_id)
        assert {table for table, _ in copies.calls} == {"appraisal_results", "indicator_scores"}

        await reopen_cycle(sessions, CycleReopen(cycle_id, reason="again, by executemany"), Caller("test"))
        monkeypatch.setattr(scoring_writes, "USE_COPY", False)
        copies.calls.clear()
        await score_cycle(sessions, CycleScore(cycle_id), Caller("test"))
        by_executemany = await _written(sessions, cycle_id)
        assert copies.calls == []

    results, scores = by_copy
    assert len(results) > 100 and len(scores) >= 5 * len(results)
    employees = [int(str(row[1])) for row in results]
    assert employees == sorted(employees), "ids follow the employees' order"
    assert any(row[-1] is not None for row in scores) and any(row[-4] is not None for row in scores)
    assert by_copy == by_executemany


async def test_scoring_reads_and_writes_a_slice_at_a_time(
    sessionmaker: Sessions,
    seeded: SeedSummary,
    statements: list[str],
    copies: Copies,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slices of 50 participants: two reads of measures per slice, whatever the size of the organisation; the rows
    go by COPY on PostgreSQL (per slice of results, and per COPY_CHUNK indicator scores; no INSERT of them) and by
    executemany on SQLite (one per slice here: a slice's rows are fewer than WRITE_CHUNK). The other statements
    are a fixed handful, the same for any number of participants."""
    monkeypatch.setattr(scoring, "SLICE", 50)
    monkeypatch.setattr(scoring_writes, "COPY_CHUNK", 100)
    report = await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    seen = list(statements)
    async with sessionmaker() as session:
        cycle = await session.get_one(Cycle, seeded.current_cycle_id)
        participants = len((await read_inputs(session, cycle)).people)
    (_, _, scores), _, _ = await _counts(sessionmaker, seeded.current_cycle_id)
    slices = math.ceil(participants / 50)
    assert report.scored > 100 and slices > 2 and scores >= 5 * report.scored
    assert sum("FROM metric_values" in s for s in seen) == slices
    assert sum("FROM ratings" in s for s in seen) == slices
    result_inserts = [s for s in seen if s.startswith("INSERT INTO appraisal_results")]
    score_inserts = [s for s in seen if s.startswith("INSERT INTO indicator_scores")]
    if sessionmaker.kw["bind"].dialect.name == "postgresql":
        assert result_inserts == score_inserts == []
        results = [call for call in copies.calls if call[0] == "appraisal_results"]
        assert results == [("appraisal_results", len(chunk)) for chunk in _slices(report.scored, 50)]
        rows = [count for table, count in copies.calls if table == "indicator_scores"]
        assert copies.tables() == ["appraisal_results"] * len(results) + ["indicator_scores"] * len(rows)
        assert sum(rows) == scores and max(rows) == 100
        assert math.ceil(scores / 100) <= len(rows) <= math.ceil(scores / 100) + slices
        assert sum("nextval" in s for s in seen) == 1
    else:
        assert copies.calls == []
        assert len(result_inserts) == len(_slices(report.scored, 50)) and len(score_inserts) == slices
    others = [s for s in seen if not s.startswith("INSERT INTO") or "appraisal_results" not in s]
    fixed = [s for s in others if "FROM metric_values" not in s and "FROM ratings" not in s]
    fixed = [s for s in fixed if not s.startswith("INSERT INTO indicator_scores")]
    # The cycle locked, read and moved to SCORED (3; SQLite touches it first, and reads the results' ids back
    # instead of taking them from the sequence), the pins, scheme items, rater weights and participants (4), the
    # old results deleted (2), and ANALYZE on PostgreSQL.
    assert len(fixed) == 11, fixed


def _slices(total: int, size: int) -> list[range]:
    return [range(start, min(start + size, total)) for start in range(0, total, size)]


async def test_a_failing_copy_leaves_nothing_half_written(
    postgresql_url: str, postgresql_backend: Backend, monkeypatch: pytest.MonkeyPatch, copies: Copies
) -> None:
    """A duplicate indicator score in the last COPY (a unique constraint violated) after earlier COPYs went through:
    no result, no indicator score, no transition, no audit entry of the scoring; the cycle stays OPEN, and the
    next scoring on the same pool succeeds."""
    monkeypatch.setattr(scoring_writes, "COPY_CHUNK", 200)
    real = scoring_writes.CopyWriter.prepare_scores

    def with_a_duplicate(self: scoring_writes.CopyWriter, rows: list[Any]) -> Any:
        prepared = list(real(self, rows))
        return [*prepared, prepared[-1]]

    async with opened_engine(postgresql_url) as engine:
        sessions = create_sessionmaker(engine)
        cycle_id = postgresql_backend.summary.current_cycle_id
        before = await _counts(sessions, cycle_id)
        monkeypatch.setattr(scoring_writes.CopyWriter, "prepare_scores", with_a_duplicate)
        with pytest.raises(asyncpg.UniqueViolationError):
            await score_cycle(sessions, CycleScore(cycle_id), Caller("test"))
        assert len(copies.calls) > 2, "results and some indicator scores were copied before the failure"

        assert before[0] == (CycleState.OPEN, 0, 0)
        assert await _counts(sessions, cycle_id) == before

        monkeypatch.setattr(scoring_writes.CopyWriter, "prepare_scores", real)
        report = await score_cycle(sessions, CycleScore(cycle_id), Caller("test"))
        after = await _counts(sessions, cycle_id)
        (state, results, scores), transitions, audited = after
        assert (state, results) == (CycleState.SCORED, report.scored) and scores >= 5 * results > 0
        assert (transitions, audited) > (before[1], before[2]) and transitions == before[1] + 1


async def _counts(sessions: Sessions, cycle_id: int) -> tuple[tuple[CycleState | None, int, int], int, int]:
    """((the cycle's state, its results, their indicator scores), its transitions, every audit entry)."""
    async with sessions() as session:
        state = await session.scalar(select(Cycle.state).where(Cycle.id == cycle_id))
        results = await session.scalar(select(func.count()).where(RESULTS.c.cycle_id == cycle_id))
        scores = await session.scalar(
            select(func.count())
            .select_from(SCORES)
            .join(RESULTS, RESULTS.c.id == SCORES.c.result_id)
            .where(RESULTS.c.cycle_id == cycle_id)
        )
        transitions = await session.scalar(
            select(func.count()).select_from(CycleTransition).where(CycleTransition.cycle_id == cycle_id)
        )
        audited = await session.scalar(select(func.count()).select_from(AuditEntry))
    return (state, int(results or 0), int(scores or 0)), int(transitions or 0), int(audited or 0)
