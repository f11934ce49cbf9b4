"""The rows the operations write in bulk, as Core inserts take them: one typed shape per table.

Bulk writes go through Core statements with a dict per row (the ORM's bulk paths cost seconds per
100,000 rows in bookkeeping alone); these say which keys each dict has and what their values are.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from hub.domain import Grade


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


class ResultRow(TypedDict):
    """An ``appraisal_results`` row as scoring inserts it."""

    cycle_id: int
    employee_id: int
    post_id: int
    department_id: int
    scheme_version_id: int
    total_score: float
    grade: Grade
    rank_in_post: int | None
    percentile_in_post: float | None
    rank_in_department: int | None
    percentile_in_department: float | None
    calibrated: bool
    computed_total: float
    computed_grade: Grade
    computed_at: dt.datetime


class ScoreRow(TypedDict):
    """An ``indicator_scores`` row as scoring inserts it: the item's numbers and where its value came from."""

    result_id: int
    indicator_version_id: int
    raw_value: float | None
    normalized_score: float | None
    weight: float
    effective_weight: float | None
    weighted_score: float | None
    provenance_system: str | None
    provenance_metric: str | None
    provenance_fetched_at: dt.datetime | None
    provenance_stale: bool
    provenance_checksum: str | None
    inputs: dict[str, float] | None
    """The mean rating per rater role (by the role's value) of a people-rated item."""
