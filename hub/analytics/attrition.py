"""Attrition signals: the rules that flag a person for a conversation, over plain values, and their reads.

These are signals, never a prediction: each flag names the rule that raised it and the numbers behind it,
so that whoever talks to the person can see why, and disagree. The rules, with their thresholds:

* ``DECLINING_RESULTS``: the total score fell at each of the person's last ``DECLINE_STEPS`` steps (their
  results in this cycle and the cycles before it, by period, that the caller may read), by at least
  ``DECLINE_POINTS`` over those steps together.
* ``PEOPLE_RATED_FELL``: since the person's previous result, the mean of their people-rated (core) indicator
  scores fell by at least ``CORE_FALL_POINTS`` while the mean of the measured (extension) ones fell by less
  than ``EXTENSION_HELD_POINTS`` or rose: the people around them rate them lower while the systems' figures
  hold.
* ``TRAINING_STOPPED``: the training system records a course completed in the period of the person's
  previous result's cycle and none in this cycle's period. Like is compared with like: while this cycle's
  period is not over (today is on or before its last day), only its days so far count, against as many days
  from the start of the previous period; a cycle a month in is not "stopped" for lacking a year's training.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from hub.db.models import AppraisalResult, Cycle, Employee, Indicator, IndicatorScore, IndicatorVersion
from hub.domain import EmployeeStatus, IndicatorCategory

DECLINE_STEPS = 2
DECLINE_POINTS = 5.0
CORE_FALL_POINTS = 10.0
EXTENSION_HELD_POINTS = 3.0
HISTORY = DECLINE_STEPS + 1
"""Results read per person: this cycle's and the ``DECLINE_STEPS`` before it."""


class AttritionRule(enum.StrEnum):
    """The rule that raised a flag (see the module's docstring for each one's thresholds)."""

    DECLINING_RESULTS = "DECLINING_RESULTS"
    PEOPLE_RATED_FELL = "PEOPLE_RATED_FELL"
    TRAINING_STOPPED = "TRAINING_STOPPED"


class SignalMeasure(enum.StrEnum):
    """What a number behind a flag measures."""

    TOTAL_SCORE = "TOTAL_SCORE"
    CORE_MEAN = "CORE_MEAN"
    EXTENSION_MEAN = "EXTENSION_MEAN"
    COURSES_COMPLETED = "COURSES_COMPLETED"


@dataclass(frozen=True, slots=True)
class Standing:
    """One result of a person: its cycle and period, its total and its core and extension means (0-100)."""

    result_id: int
    cycle_id: int
    period_start: dt.date
    period_end: dt.date
    total: float
    core: float | None = None
    extension: float | None = None


@dataclass(frozen=True, slots=True)
class SignalFigure:
    """A number behind a flag: what it measures, in which cycle (its period, for training), and its value."""

    measure: SignalMeasure
    cycle_id: int
    value: float


@dataclass(frozen=True, slots=True)
class AttritionFlag:
    """A rule that fired for a person, with the numbers it compared, oldest cycle first."""

    rule: AttritionRule
    figures: list[SignalFigure]


def result_flags(standings: Sequence[Standing]) -> list[AttritionFlag]:
    """The flags a person's results raise; ``standings`` newest first, this cycle's first."""
    flags: list[AttritionFlag] = []
    recent = standings[:HISTORY]
    if len(recent) == HISTORY:
        steps = [newer.total < older.total for newer, older in itertools.pairwise(recent)]
        if all(steps) and recent[-1].total - recent[0].total >= DECLINE_POINTS:
            figures = [SignalFigure(SignalMeasure.TOTAL_SCORE, s.cycle_id, s.total) for s in reversed(recent)]
            flags.append(AttritionFlag(AttritionRule.DECLINING_RESULTS, figures))
    if len(standings) >= 2:
        now, before = standings[0], standings[1]
        if None not in (now.core, now.extension, before.core, before.extension):
            assert now.core is not None and before.core is not None  # for mypy: checked just above
            assert now.extension is not None and before.extension is not None
            if before.core - now.core >= CORE_FALL_POINTS and before.extension - now.extension < EXTENSION_HELD_POINTS:
                figures = [
                    SignalFigure(SignalMeasure.CORE_MEAN, before.cycle_id, before.core),
                    SignalFigure(SignalMeasure.CORE_MEAN, now.cycle_id, now.core),
                    SignalFigure(SignalMeasure.EXTENSION_MEAN, before.cycle_id, before.extension),
                    SignalFigure(SignalMeasure.EXTENSION_MEAN, now.cycle_id, now.extension),
                ]
                flags.append(AttritionFlag(AttritionRule.PEOPLE_RATED_FELL, figures))
    return flags


def training_windows(now: Standing, before: Standing, today: dt.date) -> tuple[tuple[dt.date, dt.date], ...]:
    """The days whose courses count, (first, last) for the previous period and for this one: the whole periods
    once this one is over; else this one's days up to today against as many from the previous one's start."""
    if today > now.period_end:
        return (before.period_start, before.period_end), (now.period_start, now.period_end)
    elapsed = today - now.period_start
    return (before.period_start, min(before.period_end, before.period_start + elapsed)), (now.period_start, today)


def training_flag(
    standings: Sequence[Standing], completed: Iterable[dt.date | None], today: dt.date
) -> AttritionFlag | None:
    """TRAINING_STOPPED from the dates of the person's completed courses; None without a previous result."""
    if len(standings) < 2:
        return None
    now, before = standings[0], standings[1]
    (before_from, before_to), (now_from, now_to) = training_windows(now, before, today)
    days = [day for day in completed if day is not None]
    earlier = sum(before_from <= day <= before_to for day in days)
    lately = sum(now_from <= day <= now_to for day in days)
    if earlier == 0 or lately > 0:
        return None
    figures = [
        SignalFigure(SignalMeasure.COURSES_COMPLETED, before.cycle_id, float(earlier)),
        SignalFigure(SignalMeasure.COURSES_COMPLETED, now.cycle_id, 0.0),
    ]
    return AttritionFlag(AttritionRule.TRAINING_STOPPED, figures)


def ranked_history(cycle_id: int, period_start: dt.date, reach: Sequence[ColumnElement[bool]]) -> Subquery:
    """The people in reach (and still employed) with a result in the cycle: their results up to this cycle's,
    ranked newest first (``n``, from 1) by a window function, with their employee numbers; keep ``n <= HISTORY``."""
    this = aliased(AppraisalResult)
    scored_here = select(this.employee_id).where(this.cycle_id == cycle_id)
    ranked = (
        select(
            AppraisalResult.id.label("result_id"),
            AppraisalResult.employee_id,
            Employee.employee_no,
            AppraisalResult.cycle_id,
            AppraisalResult.total_score,
            Cycle.period_start,
            Cycle.period_end,
            func.row_number()
            .over(
                partition_by=AppraisalResult.employee_id,
                order_by=(Cycle.period_start.desc(), Cycle.id.desc()),
            )
            .label("n"),
        )
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .join(Employee, Employee.id == AppraisalResult.employee_id)
        .where(
            AppraisalResult.employee_id.in_(scored_here),
            # A leaver is past any conversation about staying.
            Employee.status == EmployeeStatus.ACTIVE,
            # Cycles that started before this one; an overlapping one that started the same day is not earlier.
            or_(AppraisalResult.cycle_id == cycle_id, Cycle.period_start < period_start),
            *reach,
        )
        .subquery("ranked_history")
    )
    return ranked


def category_means_statement(result_ids: Select[int]) -> Select[int, float | None, float | None]:
    """Per result among ``result_ids``: the mean normalised score of its core and of its extension indicators."""

    def mean_of(category: IndicatorCategory) -> ColumnElement[float | None]:
        return func.avg(case((Indicator.category == category, IndicatorScore.normalized_score)))

    return (
        select(IndicatorScore.result_id, mean_of(IndicatorCategory.CORE), mean_of(IndicatorCategory.EXTENSION))
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(and_(IndicatorScore.result_id.in_(result_ids), IndicatorScore.normalized_score.is_not(None)))
        .group_by(IndicatorScore.result_id)
    )
