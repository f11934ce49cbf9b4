"""Training needs: the core indicators a result scored under their threshold, and their ``training.need`` events.

A threshold is HR's per indicator (``training_need_rules``), else the C grade's lower bound of the
configured grade bands (``PERFHUB_GRADE_BANDS``, 60 by default): a core indicator scored like a D is a
need. Only CORE (people-rated) indicators count, and only where a score exists: an indicator nobody rated
is no evidence of a need. The comparison is made in SQL on the exact stored score, so that the root field
can page over the results that have needs, and publication can announce them in its own transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, case, distinct, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import AppraisalResult, Indicator, IndicatorScore, IndicatorVersion, ResultEvent, utcnow
from hub.db.models.closed_loop import TrainingNeedRule
from hub.domain import IndicatorCategory
from hub.events.contents import read_snapshots
from hub.events.outbox import TRAINING_NEED, event_id
from hub.events.watcher import notify_new_events


@dataclass(frozen=True, slots=True)
class Need:
    """One core indicator of one result under its threshold, with the courses related to it."""

    result_id: int
    indicator_id: int
    indicator_code: str
    score: float
    threshold: float
    configured: bool
    """False: the default threshold (the C grade's lower bound); True: HR's rule for the indicator."""
    courses: tuple[str, ...]


def _threshold(default: float) -> ColumnElement[float]:
    return func.coalesce(TrainingNeedRule.threshold, default)


def _weak(default: float) -> ColumnElement[bool]:
    return and_(
        Indicator.category == IndicatorCategory.CORE,
        IndicatorScore.normalized_score.is_not(None),
        IndicatorScore.normalized_score < _threshold(default),
    )


def _scored() -> Select[int]:
    # indicator score -> its version -> its indicator -> HR's rule for it, if any
    return (
        select(IndicatorScore.result_id)
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .outerjoin(TrainingNeedRule, TrainingNeedRule.indicator_id == Indicator.id)
    )


def has_needs(default: float) -> ColumnElement[bool]:
    """A condition on ``appraisal_results`` rows: the result has at least one training need."""
    return exists(_scored().where(IndicatorScore.result_id == AppraisalResult.id, _weak(default)))


def group_needs_statement(
    cycle_id: int,
    keys: Sequence[SQLColumnExpression[object]],
    conditions: Sequence[ColumnElement[bool]],
    default: float,
) -> Select[*tuple[object, ...]]:
    """Per group (``keys``, read from ``posts`` and ``departments`` as joined by the caller's ``conditions``' FROM)
    and core indicator: its threshold, the results with a score for it, those under the threshold, and the mean
    score; one statement, a row per (group, indicator), never a row per result."""
    weak = IndicatorScore.normalized_score < _threshold(default)
    return (
        _scored()
        .with_only_columns(
            *keys,
            Indicator.id,
            Indicator.code,
            func.max(_threshold(default)),
            func.count(distinct(IndicatorScore.result_id)),
            func.count(distinct(case((weak, IndicatorScore.result_id)))),
            func.avg(IndicatorScore.normalized_score),
        )
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .where(
            AppraisalResult.cycle_id == cycle_id,
            Indicator.category == IndicatorCategory.CORE,
            IndicatorScore.normalized_score.is_not(None),
            *conditions,
        )
        .group_by(*keys, Indicator.id, Indicator.code)
    )


async def needs_of(session: AsyncSession, result_ids: Collection[int], default: float) -> dict[int, list[Need]]:
    """The needs of these results, by result id, each result's by indicator code; one statement."""
    if not result_ids:
        return {}
    statement = (
        _scored()
        .add_columns(
            Indicator.id,
            Indicator.code,
            IndicatorScore.normalized_score,
            TrainingNeedRule.threshold,
            TrainingNeedRule.courses,
        )
        .where(IndicatorScore.result_id.in_(result_ids), _weak(default))
        .order_by(IndicatorScore.result_id, Indicator.code)
    )
    found: dict[int, list[Need]] = {}
    for result_id, indicator_id, code, score, threshold, courses in (await session.execute(statement)).all():
        found.setdefault(result_id, []).append(
            Need(
                result_id=result_id,
                indicator_id=indicator_id,
                indicator_code=code,
                score=score,
                threshold=default if threshold is None else threshold,
                configured=threshold is not None,
                courses=tuple(courses or ()),
            )
        )
    return found


async def append_training_needs(session: AsyncSession, cycle_id: int, default: float) -> int:
    """One ``training.need`` event per result of the cycle with a need, in the publishing transaction.

    Called after ``append_published`` in the same transaction, so it holds the publishers' turn and its
    events follow the cycle's ``result.published`` ones. The event points at the result; what the needs are,
    and whether related training was taken, is ``trainingNeeds``' answer (it asks the training system,
    which a publishing transaction must not wait for).
    """
    rows = (
        await session.execute(
            select(AppraisalResult.id, AppraisalResult.employee_id)
            .where(AppraisalResult.cycle_id == cycle_id, has_needs(default))
            .order_by(AppraisalResult.id)
        )
    ).all()
    now = utcnow()
    # What each event carries, as of publishing (``hub.events.contents``), like the result.published ones.
    snapshots = await read_snapshots(session, [result_id for result_id, _ in rows])
    events = [
        {
            "event_id": event_id(TRAINING_NEED, result_id),
            "type": TRAINING_NEED,
            "cycle_id": cycle_id,
            "result_id": result_id,
            "employee_id": employee_id,
            "occurred_at": now,
            "snapshot": snapshots.get(result_id),
        }
        for result_id, employee_id in rows
    ]
    if events:
        await session.execute(insert(ResultEvent), events)
        await notify_new_events(session)
    return len(events)
