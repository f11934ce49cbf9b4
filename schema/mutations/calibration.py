"""Calibration and correction: a result's total or grade adjusted by hand, with a reason."""

from __future__ import annotations

import dataclasses

import strawberry

from hub.appraisal import DistributionWarning as Breach
from hub.domain import GroupDimension as GroupDimensionValue
from hub.operations import calibration, corrections
from hub.operations.calibration import DistributionGroup as Group
from hub.operations.calibration import ResultCalibrateInput
from hub.operations.commands import Caller
from hub.operations.corrections import ResultCorrectInput
from resolvers.context import Context
from resolvers.records import ResultRow
from schema.enums import Grade, GroupDimension
from schema.errors import payload
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.results import AppraisalResult


@strawberry.type(description="The results a target distribution was checked over.")
class DistributionGroup:
    dimension: GroupDimension = strawberry.field(description="CYCLE, POST or DEPARTMENT.")
    id: strawberry.ID = strawberry.field(description="The cycle's, post's or department's id.")
    name: str


@strawberry.type(description="A grade holds a larger share of a group than the target distribution allows.")
class DistributionWarning:
    grade: Grade
    share: float = strawberry.field(description="The grade's share of the group's results, 0..1.")
    limit: float
    count: int
    allowed_count: int
    group: DistributionGroup = strawberry.field(
        description="The group: the cycle, or the post or department targetScope named."
    )
    message: str = strawberry.field(
        description="The breach for people: the grade, how many of how many results hold it, the target and the "
        "most it allows."
    )

    @classmethod
    def of(cls, breach: Breach, group: Group) -> DistributionWarning:
        shown = DistributionGroup(dimension=group.dimension, id=strawberry.ID(str(group.id)), name=group.name)
        named = (
            "the cycle" if group.dimension is GroupDimensionValue.CYCLE else f"{group.dimension.lower()} {group.name}"
        )
        return cls(**dataclasses.asdict(breach), group=shown, message=breach.message(named))


@strawberry.type
class ResultCalibrated:
    result: ResultRow = strawberry.field(graphql_type=AppraisalResult)
    warnings: list[DistributionWarning]


ResultCalibratePayload = payload("ResultCalibratePayload", ResultCalibrated)


@mutation(HR_ONLY, ResultCalibratePayload)
async def result_calibrate(context: Context, command: ResultCalibrateInput, caller: Caller) -> ResultCalibrated:
    """Adjusts a result's total or grade with a reason; the original is kept, and so is every calibration
    (the result's adjustments)."""
    outcome = await calibration.calibrate_result(context.sessionmaker, command, caller)
    group = outcome.group
    warnings = [] if group is None else [DistributionWarning.of(breach, group) for breach in outcome.warnings]
    return ResultCalibrated(result=outcome.result, warnings=warnings)


@strawberry.type
class ResultCorrected:
    result: ResultRow = strawberry.field(graphql_type=AppraisalResult)


ResultCorrectPayload = payload("ResultCorrectPayload", ResultCorrected)


@mutation(HR_ONLY, ResultCorrectPayload)
async def result_correct(context: Context, command: ResultCorrectInput, caller: Caller) -> ResultCorrected:
    """Corrects a result of a PUBLISHED cycle (any other state is WRONG_CYCLE_STATE: calibrate instead) with a
    reason: the grade follows the bands unless given, ranks are recomputed, the correction joins the result's
    adjustments and a result.revised event goes out on the result stream, all in one transaction."""
    outcome = await corrections.correct_result(context.sessionmaker, command, caller)
    return ResultCorrected(result=outcome.result)
