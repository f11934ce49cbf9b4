"""The calibrations and corrections of results, oldest first (``hub.operations.adjustments``)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from hub.db.models import ResultAdjustment
from hub.domain import AdjustmentKind, Grade
from resolvers.loaders.base import RowsByKeyLoader


class ResultAdjustmentRow(Protocol):
    """One hand change of a result: a calibration or a correction, its values before and after."""

    id: int
    result_id: int
    kind: AdjustmentKind
    total_before: float
    grade_before: Grade
    total_after: float
    grade_after: Grade
    reason: str
    actor: str
    at: dt.datetime


class AdjustmentsByResultLoader(RowsByKeyLoader[int, ResultAdjustmentRow]):
    """Keyed by a result's id. Not scoped: the field is reached only through a result the caller may read."""

    key_column = ResultAdjustment.result_id
    order_by = (ResultAdjustment.id,)
