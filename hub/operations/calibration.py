"""Calibration: a person overrides an engine-computed total or grade, with a reason, between scoring
and closing calibration.

The engine's numbers stay in ``computed_total``/``computed_grade``; calibration only changes
``total_score``/``grade`` and records who did it and why. A calibration replaces any earlier one of
the same result: what it does not set falls back to the computed value, never to a previous
override. The earlier one is not lost: every calibration appends its before and after to
``result_adjustments`` (``hub.operations.adjustments``). Ranks and percentiles are recomputed from the
calibrated totals when calibration closes (``hub.operations.cycles.close_calibration``).

A target distribution (the most of a group each grade may take, as fractions) is advisory: the
calibration is stored and the grades over their limit come back as warnings. The group is the whole
cycle, or the result's post or department when the target names one (``DistributionScopeInput``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import DistributionWarning, check_distribution
from hub.db.models import Cycle, Department, Post
from hub.domain import AdjustmentKind, CycleState, Grade, GroupDimension
from hub.operations.adjustments import (
    GRADE_OVERRIDE,
    RESULTS,
    StoredResult,
    change_result,
    check_override,
    check_total,
    checked_reason_and_actor,
    cycle_of_result,
    grade_for,
    locked_result,
)
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.cycles import locked_cycle
from hub.operations.errors import InvalidInput, WrongCycleState

CALIBRATION_STATE = CycleState.SCORED
"""The only state in which results may be calibrated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeShareInput:
    grade: Grade
    max_share: float = described("The largest share of results the grade may hold, 0..1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionScopeInput:
    """One of the two: the group a target distribution is checked over, which the result must belong to."""

    post_id: Annotated[int, IdOf("post")] | None = described(
        "The post the result was scored in: its results in the cycle.", default=None
    )
    department_id: Annotated[int, IdOf("department")] | None = described(
        "The department the result was scored in: its results in the cycle.", default=None
    )


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
    grade_override: bool = described(GRADE_OVERRIDE, default=False)
    target_scope: DistributionScopeInput | None = described(
        "The group targetDistribution is checked over: the result's post or its department. The whole cycle "
        "when omitted.",
        default=None,
    )


@dataclass(frozen=True, slots=True)
class DistributionGroup:
    """The results a target distribution was checked over: a cycle, or a post or department in it."""

    dimension: GroupDimension
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class CalibrationOutcome:
    """The calibrated result, read back with every column of ``appraisal_results``, and the grade
    distribution breaches of its group after the change (empty without a target distribution), with the
    group they are about (None without a target distribution)."""

    result: StoredResult
    warnings: list[DistributionWarning] = field(default_factory=list)
    group: DistributionGroup | None = None


def _target(command: ResultCalibrateInput) -> dict[Grade, float] | None:
    """The target distribution by grade, its limits and scope checked (nothing here needs the database)."""
    scope = command.target_scope
    if scope is not None and (scope.post_id is None) == (scope.department_id is None):
        raise InvalidInput("a target scope names a post or a department, one of the two", field="targetScope")
    if command.target_distribution is None:
        if scope is not None:
            raise InvalidInput("a target scope needs a targetDistribution to check", field="targetScope")
        return None
    target = {share.grade: share.max_share for share in command.target_distribution}
    if len(target) != len(command.target_distribution):
        raise InvalidInput("a grade is listed twice", field="targetDistribution")
    for limit_grade, limit in target.items():
        if not (0.0 <= limit <= 1.0):  # NaN fails both comparisons; infinities one
            raise InvalidInput(
                f"the limit for grade {limit_grade.value} must be a fraction in 0..1 (10% is 0.1), got {limit!r}",
                field="targetDistribution",
            )
    return target


def _check_inputs(command: ResultCalibrateInput, actor: str) -> tuple[str, str]:
    """Validates everything that needs no database; returns the stripped reason and actor."""
    reason, actor = checked_reason_and_actor(command.reason, actor, what="a calibration")
    if command.total_score is None and command.grade is None:
        raise InvalidInput("a calibration sets a total score, a grade or both", field="totalScore")
    check_override(command.grade, command.grade_override)
    check_total(command.total_score)
    return reason, actor


async def _group(
    session: AsyncSession, scope: DistributionScopeInput | None, result: StoredResult, cycle: Cycle
) -> tuple[DistributionGroup, ColumnElement[bool]]:
    """The group a target is checked over, and the condition on the cycle's results that selects it."""
    if scope is None:
        return DistributionGroup(GroupDimension.CYCLE, cycle.id, cycle.name), RESULTS.c.cycle_id == cycle.id
    if scope.post_id is not None:
        if scope.post_id != result.post_id:
            raise InvalidInput("the result was not scored in that post", field="targetScope")
        name = (await session.execute(select(Post.name).where(Post.id == result.post_id))).scalar_one()
        group = DistributionGroup(GroupDimension.POST, result.post_id, name)
        return group, RESULTS.c.post_id == result.post_id
    if scope.department_id != result.department_id:
        raise InvalidInput("the result was not scored in that department", field="targetScope")
    name = (await session.execute(select(Department.name).where(Department.id == result.department_id))).scalar_one()
    group = DistributionGroup(GroupDimension.DEPARTMENT, result.department_id, name)
    return group, RESULTS.c.department_id == result.department_id


async def calibrate_result(
    sessionmaker: async_sessionmaker[AsyncSession], command: ResultCalibrateInput, caller: Caller
) -> CalibrationOutcome:
    """Overrides a result's total and/or grade in a SCORED cycle, keeping the computed values.

    Only a total: the grade follows from the caller's bands. Only a grade: the total is the computed
    one. Both: both are taken as given. A grade the bands do not give the total is refused
    (``GradeDisagrees``) unless ``grade_override`` says it is meant (the reason, always required, explains
    it). Calibrating back to the computed values is still a calibration. Each one appends its history row.
    """
    result_id, total_score = command.result_id, command.total_score
    target_distribution = _target(command)
    reason, actor = _check_inputs(command, caller.actor)
    cycle_id = await cycle_of_result(sessionmaker, result_id)
    async with sessionmaker() as session, session.begin():
        # Locking the cycle keeps calibration from interleaving with its transitions. The result is read
        # again under the lock: a reopen (and rescoring) that committed in between discarded it.
        cycle = await locked_cycle(session, cycle_id, shared=True)
        if cycle.state != CALIBRATION_STATE:
            raise WrongCycleState(cycle.state, "calibration happens between scoring and closing calibration")
        before = await locked_result(session, result_id, cycle_id)
        group, in_group = await _group(session, command.target_scope, before, cycle)

        new_total = before.computed_total if total_score is None else float(total_score)
        new_grade = grade_for(caller.bands, new_total, command.grade, command.grade_override)
        await change_result(
            session,
            AdjustmentKind.CALIBRATION,
            before,
            total=new_total,
            grade=new_grade,
            reason=reason,
            actor=actor,
            at=caller.now,
            calibrated=True,
            calibration_reason=reason,
            calibrated_by=actor,
        )
        result = (await session.execute(select(RESULTS).where(RESULTS.c.id == result_id))).one()
        await audit_change(session, caller.audit, f"result:{result_id}")
        if target_distribution is None:
            return CalibrationOutcome(result=result)
        grades = await session.scalars(select(RESULTS.c.grade).where(RESULTS.c.cycle_id == cycle_id, in_group))
        return CalibrationOutcome(result, check_distribution(grades.all(), target_distribution), group)
