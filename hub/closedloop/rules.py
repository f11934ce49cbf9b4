"""hr_admin's closed-loop configuration: the training-need rule of an indicator, and the merit matrix.

Operations like those of ``hub/operations``: one transaction, every check before the first write, a typed
error, the audit entry last. The configuration lives in the hub's database (migration 0013), not in a file:
HR changes it through the API, every change audited, and every hub process reads the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.closedloop.matrix import Matrix, MeritMatrixSetInput, checked
from hub.db.models import Indicator, MeritMatrix, Post, TrainingNeedRule
from hub.domain import IndicatorCategory
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import InvalidInput, NotFound

MAX_COURSES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingNeedRuleSet:
    indicator_id: Annotated[int, IdOf("indicator")] = described("A CORE indicator.")
    threshold: float | None = described(
        "A score (0..100) under which the indicator is a training need; null: the C grade's lower bound "
        "(PERFHUB_GRADE_BANDS, 60 by default).",
        default=None,
    )
    courses: tuple[str, ...] | None = described(
        f"Up to {MAX_COURSES} courses related to the indicator, named as the training system reports completed "
        "courses (its course name, or its activity id). Null or left out: the stored list is kept (none for a "
        "new rule); an empty list clears it.",
        default=None,
    )


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """A training-need rule as set (the indicator's id as the API shows ids)."""

    indicator_id: str
    threshold: float | None
    courses: list[str]


async def set_training_need_rule(
    sessionmaker: async_sessionmaker[AsyncSession], command: TrainingNeedRuleSet, caller: Caller
) -> RuleRecord:
    """Sets (replaces) the rule of one CORE indicator."""
    if command.threshold is not None and not (math.isfinite(command.threshold) and 0 < command.threshold <= 100):
        raise InvalidInput("threshold must be above 0 and at most 100", field="threshold")
    courses = list(dict.fromkeys(course.strip() for course in command.courses or ()))
    if len(courses) > MAX_COURSES or any(not course for course in courses):
        raise InvalidInput(f"at most {MAX_COURSES} courses, none of them blank", field="courses")
    async with sessionmaker() as session, session.begin():
        category = await session.scalar(select(Indicator.category).where(Indicator.id == command.indicator_id))
        if category is None:
            raise NotFound("indicator", command.indicator_id, field="indicatorId")
        if category is not IndicatorCategory.CORE:
            raise InvalidInput(
                "training needs are of CORE (people-rated) indicators; this one is measured", field="indicatorId"
            )
        if command.courses is None:
            # Setting only the threshold must not silently unrelate the indicator's courses.
            stored = await session.scalar(
                select(TrainingNeedRule.courses).where(TrainingNeedRule.indicator_id == command.indicator_id)
            )
            courses = list(stored or ())
        await session.execute(delete(TrainingNeedRule).where(TrainingNeedRule.indicator_id == command.indicator_id))
        await session.execute(
            insert(TrainingNeedRule).values(
                indicator_id=command.indicator_id,
                threshold=command.threshold,
                courses=courses,
                set_at=caller.now,
                set_by=caller.actor,
            )
        )
        await audit_change(session, caller.audit, f"indicator:{command.indicator_id}")
    return RuleRecord(str(command.indicator_id), command.threshold, courses)


async def set_merit_matrix(
    sessionmaker: async_sessionmaker[AsyncSession], command: MeritMatrixSetInput, caller: Caller
) -> Matrix:
    """Stores a new merit matrix, in force from now; the previous ones stay as history."""
    matrix = checked(command)
    async with sessionmaker() as session, session.begin():
        # Guidance matches a post's family exactly: a family no post has ("NOPE", "admin") would guide nobody.
        known = set((await session.scalars(select(Post.family).distinct())).all())
        unknown = sorted(set(matrix.ranges) - known)
        if unknown:
            raise InvalidInput(
                f"no post has the family {unknown[0]!r} (families are matched exactly; known: "
                f"{', '.join(sorted(known)[:20])})",
                field="salaryRanges",
            )
        made = await session.scalar(
            insert(MeritMatrix)
            .values(definition=matrix.definition(), set_at=caller.now, set_by=caller.actor)
            .returning(MeritMatrix.id)
        )
        await audit_change(session, caller.audit, f"meritMatrix:{made}")
    return matrix


async def matrix_in_force(session: AsyncSession) -> Matrix | None:
    """The newest merit matrix, or None when HR has set none."""
    definition = await session.scalar(select(MeritMatrix.definition).order_by(MeritMatrix.id.desc()).limit(1))
    return None if definition is None else Matrix.stored(definition)
