"""The rows the operations write in bulk, as Core inserts take them: one typed shape per table.

Bulk writes go through Core statements with a dict per row (the ORM's bulk paths cost seconds per
100,000 rows in bookkeeping alone); these say which keys each dict has and what their values are.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict


class MetricValueRow(TypedDict):
    """A ``metric_values`` row, as an import or a collection stores it."""

    cycle_id: int
    employee_id: int
    indicator_version_id: int
    value: float
    system: str
    metric: str
    fetched_at: dt.datetime
    checksum: str
    stale: bool


class ReplacingRow(MetricValueRow):
    """A ``metric_values`` row that replaces the stored value of its employee and indicator in place."""

    b_id: int
    """The id of the stored value (bound as ``b_id``: a bind parameter may not share a column's name)."""
