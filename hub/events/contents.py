"""What a result event carries, one shape for every channel: ``resultEvents``, the ``resultPublished``
subscription and the webhook's CloudEvents ``data``.

A training module acts on the weak indicators, a payroll module on the grade, whether it was calibrated, the
cycle's period and the employee number it keys on. Those are read here once per batch of events (two
statements, whatever the batch's size) and handed to each channel as the same record, so the three cannot
drift apart: the schema's ``ResultEvent`` fields read its attributes, and ``as_data`` spells the same record
as the JSON the GraphQL fields give (camelCase names, scores rounded as the API shows them, dates ISO).

An event shows its result as it is now: a ``result.published`` event replayed after a correction carries the
corrected figures, as its ``result`` field always has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appraisal.shown import shown_cents
from hub.db.models import AppraisalResult, Cycle, Employee, Indicator, IndicatorScore, IndicatorVersion, Post
from hub.domain import Grade, IndicatorCategory


def shown(value: float | None) -> float | None:
    """A score as the API shows it: rounded half-up to two decimals (``schema/rounding.py`` does the same)."""
    return None if value is None else float(shown_cents(value))


@dataclass(frozen=True, slots=True)
class EventIndicatorScore:
    """One indicator's part in the event's result: which indicator (code and version) and how it scored."""

    indicator_code: str
    indicator_name: str
    category: IndicatorCategory
    version: int
    raw_value: float | None
    normalized_score: float | None
    weight: float


@dataclass(frozen=True, slots=True)
class Period:
    """The period a cycle appraises, first and last day."""

    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class EventContents:
    """The result an event is about, as every channel shows it."""

    result_id: int
    cycle_id: int
    cycle_name: str
    period_start: dt.date
    period_end: dt.date
    employee_id: int
    employee_no: str
    post_id: int
    post_family: str
    department_id: int
    total_score: float
    grade: Grade
    calibrated: bool
    indicator_scores: tuple[EventIndicatorScore, ...]

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)


async def read_contents(session: AsyncSession, result_ids: Collection[int]) -> dict[int, EventContents]:
    """The contents of the events about these results, by result id (a result that is gone is left out)."""
    if not result_ids:
        return {}
    ids = set(result_ids)
    parts: dict[int, list[EventIndicatorScore]] = {result_id: [] for result_id in ids}
    scores = await session.execute(
        select(
            IndicatorScore.result_id,
            Indicator.code,
            Indicator.name,
            Indicator.category,
            IndicatorVersion.version,
            IndicatorScore.raw_value,
            IndicatorScore.normalized_score,
            IndicatorScore.weight,
        )
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(IndicatorScore.result_id.in_(ids))
        .order_by(IndicatorScore.result_id, IndicatorScore.id)  # the order of the result's indicatorScores
    )
    for row in scores:
        parts[row.result_id].append(
            EventIndicatorScore(
                indicator_code=row.code,
                indicator_name=row.name,
                category=row.category,
                version=row.version,
                raw_value=row.raw_value,
                normalized_score=shown(row.normalized_score),
                weight=row.weight,
            )
        )
    results = await session.execute(
        select(
            AppraisalResult.id,
            AppraisalResult.cycle_id,
            Cycle.name.label("cycle_name"),
            Cycle.period_start,
            Cycle.period_end,
            AppraisalResult.employee_id,
            Employee.employee_no,
            AppraisalResult.post_id,
            Post.family,
            AppraisalResult.department_id,
            AppraisalResult.total_score,
            AppraisalResult.grade,
            AppraisalResult.calibrated,
        )
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .join(Employee, Employee.id == AppraisalResult.employee_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .where(AppraisalResult.id.in_(ids))
    )
    return {
        row.id: EventContents(
            result_id=row.id,
            cycle_id=row.cycle_id,
            cycle_name=row.cycle_name,
            period_start=row.period_start,
            period_end=row.period_end,
            employee_id=row.employee_id,
            employee_no=row.employee_no,
            post_id=row.post_id,
            post_family=row.family,
            department_id=row.department_id,
            total_score=float(shown_cents(row.total_score)),
            grade=row.grade,
            calibrated=row.calibrated,
            indicator_scores=tuple(parts[row.id]),
        )
        for row in results
    }


def as_data(
    contents: EventContents, *, event_id: str, event_type: str, occurred_at: dt.datetime, cursor: str
) -> dict[str, object]:
    """The event as JSON, exactly as ``resultEvents`` answers the selection ``docs`` calls the event shape
    (the webhook's CloudEvents ``data``): the event's own fields, then its result's."""
    return {
        "eventId": event_id,
        "type": event_type,
        "occurredAt": occurred_at.isoformat(),  # as strawberry's DateTime serialises it
        "cursor": cursor,
        "resultId": str(contents.result_id),
        "cycle": {
            "id": str(contents.cycle_id),
            "name": contents.cycle_name,
            "periodStart": contents.period_start.isoformat(),
            "periodEnd": contents.period_end.isoformat(),
        },
        "period": {"start": contents.period_start.isoformat(), "end": contents.period_end.isoformat()},
        "employeeId": str(contents.employee_id),
        "employeeNo": contents.employee_no,
        "postId": str(contents.post_id),
        "postFamily": contents.post_family,
        "departmentId": str(contents.department_id),
        "totalScore": contents.total_score,
        "grade": contents.grade.value,
        "calibrated": contents.calibrated,
        "indicatorScores": [
            {
                "indicatorCode": part.indicator_code,
                "indicatorName": part.indicator_name,
                "category": part.category.value,
                "version": part.version,
                "rawValue": part.raw_value,
                "normalizedScore": part.normalized_score,
                "weight": part.weight,
            }
            for part in contents.indicator_scores
        ],
    }
