"""Calibration: a result's total or grade adjusted by hand, with a reason."""

from __future__ import annotations

import strawberry

from hub.appraisal import DistributionWarning
from hub.operations import calibration
from hub.operations.calibration import ResultCalibrateInput
from hub.operations.commands import Caller
from resolvers.context import Context
from resolvers.records import ResultRow
from schema.errors import payload
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.results import AppraisalResult
from schema.values import object_type

object_type(
    DistributionWarning,
    name="DistributionWarning",
    description="A grade holds a larger share of the cycle than the target distribution allows.",
    fields={"share": "The grade's share of the cycle's results, 0..1."},
)


@strawberry.type
class ResultCalibrated:
    result: ResultRow = strawberry.field(graphql_type=AppraisalResult)
    warnings: list[DistributionWarning]


ResultCalibratePayload = payload("ResultCalibratePayload", ResultCalibrated)


@mutation(HR_ONLY, ResultCalibratePayload)
async def result_calibrate(context: Context, command: ResultCalibrateInput, caller: Caller) -> ResultCalibrated:
    """Adjusts a result's total or grade with a reason; the original is kept."""
    outcome = await calibration.calibrate_result(context.sessionmaker, command, caller)
    return ResultCalibrated(result=outcome.result, warnings=outcome.warnings)
