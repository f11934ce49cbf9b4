"""The calibrations and corrections of results, oldest first (``hub.operations.adjustments``)."""

from __future__ import annotations

from hub.db.models import ResultAdjustment
from resolvers.loaders.base import RowsByKeyLoader
from resolvers.records import ResultAdjustmentRow


class AdjustmentsByResultLoader(RowsByKeyLoader[int, ResultAdjustmentRow]):
    """Keyed by a result's id. Not scoped: the field is reached only through a result the caller may read."""

    key_column = ResultAdjustment.result_id
    order_by = (ResultAdjustment.id,)
