"""What the database holds for one key, as the tests check it: in process (tests/hub/operations, tests/schema)
and between served hubs (tests/races). Statements, not results: one side reads with a session, the other with
a connection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from hub.db.models import AppraisalResult, Cycle, Employee, IndicatorScore, MetricValue, Rating


def indicator_score(
    column: InstrumentedAttribute[Any], cycle_id: int, employee_id: int, indicator_version_id: int
) -> Select[Any]:
    """``column`` of the indicator score the employee's result in the cycle has for the indicator version."""
    return (
        select(column)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .where(
            AppraisalResult.cycle_id == cycle_id,
            AppraisalResult.employee_id == employee_id,
            IndicatorScore.indicator_version_id == indicator_version_id,
        )
    )


def metric_value(
    column: InstrumentedAttribute[Any] | ColumnElement[Any], cycle_id: int, employee_id: int, indicator_version_id: int
) -> Select[Any]:
    """``column`` (or an aggregate) of the stored metric value of the key: at most one row, the key is unique."""
    return select(column).where(
        MetricValue.cycle_id == cycle_id,
        MetricValue.employee_id == employee_id,
        MetricValue.indicator_version_id == indicator_version_id,
    )


def ratings_count(cycle_id: int, ratee_id: int, rater_id: int) -> Select[Any]:
    """How many ratings the rater has given the ratee in the cycle."""
    return (
        select(func.count())
        .select_from(Rating)
        .where(Rating.cycle_id == cycle_id, Rating.ratee_id == ratee_id, Rating.rater_id == rater_id)
    )


def collected_values(cycle_id: int) -> Select[str, float, str, dt.date]:
    """(metric, value, employee_no, period_start) of every metric value stored for the cycle: enough to
    recompute what the demo systems answer for each."""
    return (
        select(MetricValue.metric, MetricValue.value, Employee.employee_no, Cycle.period_start)
        .join(Employee, Employee.id == MetricValue.employee_id)
        .join(Cycle, Cycle.id == MetricValue.cycle_id)
        .where(MetricValue.cycle_id == cycle_id)
    )


def result_ids(cycle_id: int) -> Select[int]:
    """The ids of the cycle's results, in id order (the order they were scored in)."""
    return select(AppraisalResult.id).where(AppraisalResult.cycle_id == cycle_id).order_by(AppraisalResult.id)
