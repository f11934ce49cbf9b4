"""A result's history of hand changes: its calibrations and corrections (``AppraisalResult.adjustments``)."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub.domain import AdjustmentKind
from resolvers.records import ResultAdjustmentRow
from schema.enums import Grade
from schema.permissions import AUDIT, guarded_attribute
from schema.rounding import Scores

strawberry.enum(
    AdjustmentKind,
    description="CALIBRATION: changed between scoring and closing calibration (resultCalibrate). CORRECTION: "
    "changed after publication (resultCorrect), announced as a result.revised event.",
)


@strawberry.type(description="One calibration or correction of a result: its total and grade before and after.")
class ResultAdjustment:
    kind: AdjustmentKind
    total_before = Scores[ResultAdjustmentRow].rounded(float, lambda row: row.total_before)
    grade_before: Grade
    total_after = Scores[ResultAdjustmentRow].rounded(float, lambda row: row.total_after)
    grade_after: Grade
    reason: str
    actor: str | None = guarded_attribute(AUDIT, "actor", "Who made the change.")
    at: dt.datetime
