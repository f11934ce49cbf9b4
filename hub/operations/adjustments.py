"""What calibration and correction share: the checks of a hand change, the grade it gives, the history row.

A hand change of a result (``AdjustmentKind``) always carries a reason and an actor, gives a grade the
bands agree with unless the override is explicit, and appends a ``result_adjustments`` row (before,
after, reason, who, when) in the transaction that changes the result: the history cannot miss a change
that committed, nor hold one that did not.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import GradeBands
from hub.db.models import AppraisalResult, ResultAdjustment
from hub.domain import AdjustmentKind, Grade
from hub.operations.errors import GradeDisagrees, InvalidInput, NotFound

MAX_REASON_LENGTH = 2000
MAX_ACTOR_LENGTH = 200

RESULTS = AppraisalResult.__table__
StoredResult = Row[Any]  # untyped columns: a Core Table carries no column types to spell
"""A result read with every column of ``appraisal_results`` (``select(RESULTS)``), by attribute."""


def checked_reason_and_actor(reason: str, actor: str, *, what: str) -> tuple[str, str]:
    """The stripped reason and actor of a hand change (``what``: "a calibration", "a correction")."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(f"{what} needs a reason", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"a reason may have at most {MAX_REASON_LENGTH} characters", field="reason")
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInput(f"an actor needs 1 to {MAX_ACTOR_LENGTH} characters", field="actor")
    return reason, actor


def check_total(total_score: float | None) -> None:
    if total_score is not None and not (math.isfinite(total_score) and 0.0 <= total_score <= 100.0):
        raise InvalidInput(f"a total score must lie in 0..100, got {total_score!r}", field="totalScore")


GRADE_OVERRIDE = "The grade deliberately differs from what the grade bands give the total; the reason says why."
"""What a hand change's ``grade_override`` means (both inputs describe it so)."""


def check_override(grade: Grade | None, grade_override: bool) -> None:
    if grade_override and grade is None:
        raise InvalidInput("a grade override needs the grade it gives", field="grade")


def grade_for(bands: GradeBands, total: float, grade: Grade | None, grade_override: bool) -> Grade:
    """The grade a hand change stores: the bands' for the total, or the one given if the bands agree or the
    override is explicit (``GradeDisagrees`` otherwise: a 95 graded D reads as a slip, not a decision)."""
    banded = bands.grade(total)
    if grade is not None and grade != banded and not grade_override:
        raise GradeDisagrees(total, banded, grade)
    return banded if grade is None else grade


async def cycle_of_result(sessionmaker: async_sessionmaker[AsyncSession], result_id: int) -> int:
    """The cycle a result belongs to, read before the changing transaction: locking that cycle must be the
    transaction's first statement (see ``locked_cycle``), and the result is read again under the lock."""
    async with sessionmaker() as session:
        cycle_id = await session.scalar(select(AppraisalResult.cycle_id).where(AppraisalResult.id == result_id))
    if cycle_id is None:
        raise NotFound("result", result_id, field="resultId")
    return cycle_id


async def locked_result(session: AsyncSession, result_id: int, cycle_id: int) -> StoredResult:
    """The result as it stands, read under the caller's cycle lock and locked against a concurrent hand
    change (PostgreSQL; SQLite's writer lock already serialises them), so its "before" is the one replaced."""
    statement = select(RESULTS).where(RESULTS.c.id == result_id, RESULTS.c.cycle_id == cycle_id).with_for_update()
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFound("result", result_id, field="resultId")
    return row


async def change_result(
    session: AsyncSession,
    kind: AdjustmentKind,
    before: StoredResult,
    *,
    total: float,
    grade: Grade,
    reason: str,
    actor: str,
    at: dt.datetime,
    **columns: object,
) -> int:
    """Sets the result's total and grade (and ``columns``) and appends the history row of the change from
    ``before``; the row's id."""
    values = {"total_score": total, "grade": grade, **columns}
    await session.execute(update(AppraisalResult).where(AppraisalResult.id == before.id).values(values))
    appended = await session.execute(
        insert(ResultAdjustment)
        .values(
            result_id=before.id,
            kind=kind,
            total_before=before.total_score,
            grade_before=before.grade,
            total_after=total,
            grade_after=grade,
            reason=reason,
            actor=actor,
            at=at,
        )
        .returning(ResultAdjustment.id)
    )
    return appended.scalar_one()
