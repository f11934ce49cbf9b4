"""Correcting a published result: the one way a result changes after publication, announced on the stream.

A published result is what payroll and training acted on, so it never changes silently: ``resultCorrect``
(hr_admin) takes a new total, a reason and optionally a grade, re-ranks the cycle, appends the history
row (``AdjustmentKind.CORRECTION``) and a ``result.revised`` event to the outbox, all in one transaction.
Before publication a result is calibrated instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.shown import shown_cents
from hub.domain import AdjustmentKind, CycleState, Grade
from hub.events.outbox import append_revised
from hub.operations import adjustments
from hub.operations.adjustments import (
    GRADE_OVERRIDE,
    RESULTS,
    StoredResult,
    check_override,
    cycle_of_result,
    grade_for,
    locked_result,
)
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import InvalidInput, WrongCycleState
from hub.operations.ranking import rerank


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultCorrectInput:
    result_id: Annotated[int, IdOf("result")]
    total_score: float = described("The corrected total, 0..100.")
    reason: str = described("Why the published result was wrong; kept in the result's adjustments.")
    grade: Grade | None = described(
        "When omitted, the grade the bands give the corrected total; when given, it must be that grade, unless "
        "gradeOverride says otherwise.",
        default=None,
    )
    grade_override: bool = described(GRADE_OVERRIDE, default=False)


@dataclass(frozen=True, slots=True)
class CorrectionOutcome:
    """The corrected result, read back with every column of ``appraisal_results`` (ranks re-computed)."""

    result: StoredResult


async def correct_result(
    sessionmaker: async_sessionmaker[AsyncSession], command: ResultCorrectInput, caller: Caller
) -> CorrectionOutcome:
    """Corrects a result of a PUBLISHED cycle; any other state is ``WrongCycleState`` (calibrate instead).

    The computed values and the calibration fields stay: the correction is in the result's adjustments and
    on the stream. Ranks and percentiles of the cycle are recomputed from the corrected totals.
    """
    reason, actor = adjustments.checked_reason_and_actor(command.reason, caller.actor, what="a correction")
    adjustments.check_total(command.total_score)
    check_override(command.grade, command.grade_override)
    result_id, total = command.result_id, float(command.total_score)
    cycle_id = await cycle_of_result(sessionmaker, result_id)
    async with sessionmaker() as session, session.begin():
        # Exclusive, unlike calibration's: re-ranking updates every result of the cycle, so two corrections side
        # by side would each wait for the row the other locked. Corrections are rare; they take turns.
        cycle = await locked_cycle(session, cycle_id)
        if cycle.state != CycleState.PUBLISHED:
            raise WrongCycleState(
                cycle.state, "only a PUBLISHED cycle's results are corrected; calibrate before publishing"
            )
        before = await locked_result(session, result_id, cycle_id)
        if shown_cents(total) == shown_cents(before.total_score):
            # The API shows totals to two decimals, so 64.71 typed back for a stored 64.70588 is the same total:
            # the stored one stays exact, and only a grade can still change.
            total = before.total_score
        grade = grade_for(caller.bands, total, command.grade, command.grade_override)
        if (total, grade) == (before.total_score, before.grade):
            # It would announce a revision that revises nothing to every consumer of the stream.
            raise InvalidInput(
                f"the correction changes neither the total as shown ({shown_cents(total)}, two decimals) nor the grade",
                field="totalScore",
            )
        adjustment_id = await adjustments.change_result(
            session,
            AdjustmentKind.CORRECTION,
            before,
            total=total,
            grade=grade,
            reason=reason,
            actor=actor,
            at=caller.now,
        )
        if total != before.total_score:
            await rerank(session, cycle_id, caller.bands)
        await append_revised(
            session, cycle_id=cycle_id, result_id=result_id, employee_id=before.employee_id, adjustment_id=adjustment_id
        )
        result = (await session.execute(select(RESULTS).where(RESULTS.c.id == result_id))).one()
        await audit_change(session, caller.audit, f"result:{result_id}")
    return CorrectionOutcome(result=result)
