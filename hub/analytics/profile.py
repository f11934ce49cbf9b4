"""How the top grade differs from the rest: the sums SQL aggregates, and the arithmetic on them.

The statements group a cycle's results (and their indicator scores) by whether they hold the top grade,
and return per group only a count, a sum and a sum of squares: means, sample variances and effect sizes
follow from those three numbers (``Moments``), so no individual score leaves the database. Which of the
figures a caller may see is the access policy's minimum group size, applied by ``resolvers.insights``.

The effect size is Hedges' g: Cohen's d (the difference of the means over the pooled sample standard
deviation) times the small-sample correction J = 1 - 3 / (4 (n1 + n2) - 9).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.orm import QueryableAttribute

from hub.analytics.withheld import Withheld as Withheld  # the profile's reasons are every field's
from hub.db.models import AppraisalResult, Employee, Indicator, IndicatorScore, IndicatorVersion
from hub.domain import Grade

T = TypeVar("T")

Measure = ColumnElement[T] | QueryableAttribute[T]
"""A column or an expression of one."""

TOP_GRADE = Grade.S
"""The grade whose holders are the high performers: the best of the one grade system."""


@dataclass(frozen=True, slots=True)
class Moments:
    """A group's count, sum and sum of squares of one measure: what SQL hands over instead of the values."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.count + other.count, self.total + other.total, self.squares + other.squares)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1), None below two values; never below 0 by rounding."""
        if self.count < 2:
            return None
        return max(0.0, (self.squares - self.total * self.total / self.count) / (self.count - 1))

    @property
    def stddev(self) -> float | None:
        variance = self.variance
        return None if variance is None else math.sqrt(variance)


def hedges_g(top: Moments, rest: Moments) -> float | None:
    """Hedges' g of ``top`` against ``rest``; None when either has fewer than two values or nobody varies."""
    if top.variance is None or rest.variance is None or top.mean is None or rest.mean is None:
        return None
    n1, n2 = top.count, rest.count
    pooled = math.sqrt(((n1 - 1) * top.variance + (n2 - 1) * rest.variance) / (n1 + n2 - 2))
    if pooled == 0:
        return None
    return (top.mean - rest.mean) / pooled * (1 - 3 / (4 * (n1 + n2) - 9))


class TenureBand(enum.StrEnum):
    """Years of service on the cycle's last day, from the employee's hire date."""

    UNDER_1 = "UNDER_1"
    FROM_1_TO_3 = "FROM_1_TO_3"
    FROM_3_TO_5 = "FROM_3_TO_5"
    FROM_5_TO_10 = "FROM_5_TO_10"
    FROM_10 = "FROM_10"
    UNKNOWN = "UNKNOWN"


BAND_YEARS: dict[TenureBand, tuple[int | None, int | None]] = {
    TenureBand.UNDER_1: (0, 1),
    TenureBand.FROM_1_TO_3: (1, 3),
    TenureBand.FROM_3_TO_5: (3, 5),
    TenureBand.FROM_5_TO_10: (5, 10),
    TenureBand.FROM_10: (10, None),
    TenureBand.UNKNOWN: (None, None),
}
"""Each band's years of service, from (inclusive) and to (exclusive); UNKNOWN: no hire date stored."""


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (28 February for 29 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def tenure_band(hired_on: Measure[dt.date | None], on: dt.date) -> ColumnElement[str]:
    """The tenure band as a SQL expression: hire dates compared with dates computed here, so that both
    databases answer alike without date arithmetic of their own."""
    whens: list[tuple[ColumnElement[bool], str]] = [(hired_on.is_(None), TenureBand.UNKNOWN.value)]
    for band, (_, to) in BAND_YEARS.items():
        if to is not None:
            # Less than ``to`` years of service: hired after the day ``to`` years before.
            whens.append((hired_on > years_before(on, to), band.value))
    return case(*whens, else_=literal(TenureBand.FROM_10.value))


def _moments(
    value: Measure[float] | Measure[float | None],
) -> tuple[ColumnElement[int], ColumnElement[float], ColumnElement[float]]:
    return func.count(value), func.coalesce(func.sum(value), 0.0), func.coalesce(func.sum(value * value), 0.0)


Conditions = Sequence[ColumnElement[bool]]
GroupRows = Select[int, str, Grade, int, int, float, float]
"""Post, tenure band, grade, kept (1 or 0), and the total scores' count, sum and sum of squares."""
IndicatorRows = Select[int, Grade, int, int, float, float]
"""Indicator, grade, kept (1 or 0), and the normalised scores' count, sum and sum of squares."""


def group_statement(cycle_id: int, conditions: Conditions, on: dt.date, kept: ColumnElement[int]) -> GroupRows:
    """Per (post, tenure band, grade, ``kept`` or not): the count, sum and sum of squares of the total scores;
    ``kept`` (1 or 0) marks the results the figures cover, the others are only counted."""
    band, kept = tenure_band(Employee.hired_on, on).label("band"), kept.label("kept")
    grade = AppraisalResult.grade
    return (
        select(AppraisalResult.post_id, band, grade, kept, *_moments(AppraisalResult.total_score))
        .join(Employee, Employee.id == AppraisalResult.employee_id)
        .where(AppraisalResult.cycle_id == cycle_id, *conditions)
        .group_by(AppraisalResult.post_id, band, grade, kept)
    )


def indicator_statement(cycle_id: int, conditions: Conditions, kept: ColumnElement[int]) -> IndicatorRows:
    """Per (indicator, grade, ``kept`` or not): the count, sum and sum of squares of its normalised (0-100)
    scores, over every version of the indicator (the scale is the same; the versions' rules are not)."""
    kept = kept.label("kept")
    return (
        select(Indicator.id, AppraisalResult.grade, kept, *_moments(IndicatorScore.normalized_score))
        .select_from(IndicatorScore)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(AppraisalResult.cycle_id == cycle_id, IndicatorScore.normalized_score.is_not(None), *conditions)
        .group_by(Indicator.id, AppraisalResult.grade, kept)
        .order_by(Indicator.id)
    )
