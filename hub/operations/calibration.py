"""Calibration: a person overrides an engine-computed total or grade, with a reason, between scoring
and closing calibration.

The engine's numbers stay in ``computed_total``/``computed_grade``; calibration only changes
``total_score``/``grade`` and records who did it and why. A calibration replaces any earlier one of
the same result: what it does not set falls back to the computed value, never to a previous
override. Ranks and percentiles are recomputed from the calibrated totals when calibration closes
(``hub.operations.cycles.close_calibration``).

A target distribution (the most of the cycle each grade may take, as fractions) is advisory: the
calibration is stored and the grades over their limit come back as warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import DistributionWarning, check_distribution
from hub.db.models import AppraisalResult
from hub.domain import CycleState, Grade
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import GradeDisagrees, InvalidInput, NotFound, WrongCycleState

MAX_REASON_LENGTH = 2000
MAX_ACTOR_LENGTH = 200
CALIBRATION_STATE = CycleState.SCORED
"""The only state in which results may be calibrated."""

RESULTS = AppraisalResult.__table__


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeShareInput:
    grade: Grade
    max_share: float = described("The largest share of results the grade may hold, 0..1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultCalibrateInput:
    result_id: Annotated[int, IdOf("result")]
    reason: str
    total_score: float | None = None
    grade: Grade | None = described(
        "When omitted, the grade follows the calibrated total; when given, it must be the grade the bands give "
        "the total, unless gradeOverride says otherwise.",
        default=None,
    )
    target_distribution: tuple[GradeShareInput, ...] | None = None
    grade_override: bool = described(
        "The grade deliberately differs from what the grade bands give the total; the reason says why.",
        default=False,
    )


@dataclass(frozen=True, slots=True)
class CalibrationOutcome:
    """The calibrated result, read back with every column of ``appraisal_results``, and the grade
    distribution breaches of its cycle after the change (empty without a target distribution)."""

    # Untyped columns: a row of ``select(Table)``, and a Core Table carries no column types to spell.
    result: Row[Any]
    warnings: list[DistributionWarning] = field(default_factory=list)


def _check_inputs(
    *,
    total_score: float | None,
    grade: Grade | None,
    grade_override: bool,
    reason: str,
    actor: str,
    target_distribution: Mapping[Grade, float] | None,
) -> tuple[str, str]:
    """Validates everything that needs no database; returns the stripped reason and actor."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a calibration needs a reason", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"a reason may have at most {MAX_REASON_LENGTH} characters", field="reason")
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInput(f"an actor needs 1 to {MAX_ACTOR_LENGTH} characters", field="actor")
    if total_score is None and grade is None:
        raise InvalidInput("a calibration sets a total score, a grade or both", field="totalScore")
    if grade_override and grade is None:
        raise InvalidInput("a grade override needs the grade it gives", field="grade")
    if total_score is not None and not (math.isfinite(total_score) and 0.0 <= total_score <= 100.0):
        raise InvalidInput(f"a total score must lie in 0..100, got {total_score!r}", field="totalScore")
    for limit_grade, limit in (target_distribution or {}).items():
        if not (math.isfinite(limit) and 0.0 <= limit <= 1.0):
            raise InvalidInput(
                f"the limit for grade {limit_grade.value} must be a fraction in 0..1 (10% is 0.1), got {limit!r}",
                field="targetDistribution",
            )
    return reason, actor


async def calibrate_result(
    sessionmaker: async_sessionmaker[AsyncSession], command: ResultCalibrateInput, caller: Caller
) -> CalibrationOutcome:
    """Overrides a result's total and/or grade in a SCORED cycle, keeping the computed values.

    Only a total: the grade follows from the caller's bands. Only a grade: the total is the computed
    one. Both: both are taken as given. A grade the bands do not give the total is refused
    (``GradeDisagrees``) unless ``grade_override`` says it is meant (the reason, always required, explains
    it). Calibrating back to the computed values is still a calibration.
    """
    result_id, total_score, grade = command.result_id, command.total_score, command.grade
    target_distribution: dict[Grade, float] | None = None
    if command.target_distribution is not None:
        target_distribution = {share.grade: share.max_share for share in command.target_distribution}
        if len(target_distribution) != len(command.target_distribution):
            raise InvalidInput("a grade is listed twice", field="targetDistribution")
    reason, actor = _check_inputs(
        total_score=total_score,
        grade=grade,
        grade_override=command.grade_override,
        reason=command.reason,
        actor=caller.actor,
        target_distribution=target_distribution,
    )
    bands = caller.bands
    # Which cycle to lock, read before the transaction: the lock is its first statement (see locked_cycle).
    async with sessionmaker() as session:
        cycle_id = await session.scalar(select(AppraisalResult.cycle_id).where(AppraisalResult.id == result_id))
    if cycle_id is None:
        raise NotFound("result", result_id, field="resultId")
    async with sessionmaker() as session, session.begin():
        # Locking the cycle keeps calibration from interleaving with its transitions. The result is read
        # again under the lock: a reopen (and rescoring) that committed in between discarded it.
        cycle = await locked_cycle(session, cycle_id, shared=True)
        if cycle.state != CALIBRATION_STATE:
            raise WrongCycleState(cycle.state, "calibration happens between scoring and closing calibration")
        computed_total = await session.scalar(
            select(AppraisalResult.computed_total).where(
                AppraisalResult.id == result_id, AppraisalResult.cycle_id == cycle_id
            )
        )
        if computed_total is None:
            raise NotFound("result", result_id, field="resultId")

        new_total = computed_total if total_score is None else float(total_score)
        banded = bands.grade(new_total)
        if grade is not None and grade != banded and not command.grade_override:
            raise GradeDisagrees(new_total, banded, grade)
        new_grade = banded if grade is None else grade
        await session.execute(
            update(AppraisalResult)
            .where(AppraisalResult.id == result_id)
            .values(
                total_score=new_total,
                grade=new_grade,
                calibrated=True,
                calibration_reason=reason,
                calibrated_by=actor,
            )
        )
        result = (await session.execute(select(RESULTS).where(RESULTS.c.id == result_id))).one()

        warnings: list[DistributionWarning] = []
        if target_distribution is not None:
            grades = (
                await session.scalars(select(AppraisalResult.grade).where(AppraisalResult.cycle_id == cycle_id))
            ).all()
            warnings = check_distribution(grades, target_distribution)
        await audit_change(session, caller.audit, f"result:{result_id}")
    return CalibrationOutcome(result=result, warnings=warnings)
