"""The statements behind trends and comparisons: group means per cycle, grade migrations, posts side by side.

Each is one aggregate statement over ``appraisal_results`` (``GROUP BY`` in the database, never every result
loaded into Python), taking the caller's row conditions (scope, privacy) as plain SQL conditions, so that the
same statement serves hr_admin, analysts and managers. What may be released of the answer is the resolvers'.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from hub.db.models import AppraisalResult, Department, Post, SchemeVersion
from hub.domain import Grade, GroupDimension

GROUP_COLUMNS: dict[GroupDimension, InstrumentedAttribute[str]] = {
    GroupDimension.DEPARTMENT: Department.code,
    GroupDimension.POST: Post.code,
    GroupDimension.POST_FAMILY: Post.family,
}
"""The dimensions a trend or a comparison groups by: where a result was scored (its department and post then)."""

"""Worst to best: a grade's index is its step on the scale."""


def group_means(
    cycle_ids: Sequence[int] | None, dimension: GroupDimension | None, conditions: Sequence[ColumnElement[bool]]
) -> Select[int, str, int, float]:
    """(cycle id, group, results, mean total) per cycle and group; the group is ``""`` without a dimension; every
    cycle when ``cycle_ids`` is None."""
    group = GROUP_COLUMNS[dimension] if dimension is not None else None
    statement = (
        select(
            AppraisalResult.cycle_id,
            (group if group is not None else literal("")).label("group"),
            func.count(),
            func.avg(AppraisalResult.total_score),
        )
        .select_from(AppraisalResult)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Department, Department.id == AppraisalResult.department_id)
        .where(*conditions)
    )
    if cycle_ids is not None:
        statement = statement.where(AppraisalResult.cycle_id.in_(cycle_ids))
    # PostgreSQL refuses a constant in GROUP BY: without a dimension, a cycle is one group.
    return statement.group_by(AppraisalResult.cycle_id, *([group] if group is not None else []))


def paired(earlier: int, conditions: Sequence[ColumnElement[bool]]) -> tuple[Select[int], type[AppraisalResult]]:
    """The ids of the ``earlier`` cycle's results that ``conditions`` keep, and an alias of the table to join them
    by: the unaliased table stands for the ``later`` cycle's result, so that the conditions apply to both."""
    before = aliased(AppraisalResult, name="before")
    # Never correlated to the outer statement's results: it selects rows of its own.
    kept = select(AppraisalResult.id).where(AppraisalResult.cycle_id == earlier, *conditions).correlate(None)
    return kept, before


def grade_migrations(earlier: int, later: int, conditions: Sequence[ColumnElement[bool]]) -> Select[Grade, Grade, int]:
    """(grade in ``earlier``, grade in ``later``, people) over everyone with a result in both cycles."""
    kept, before = paired(earlier, conditions)
    return (
        select(before.grade, AppraisalResult.grade, func.count())
        .join(before, before.employee_id == AppraisalResult.employee_id)
        .where(AppraisalResult.cycle_id == later, before.id.in_(kept), *conditions)
        .group_by(before.grade, AppraisalResult.grade)
    )


def grade_pairs(earlier: int, later: int, conditions: Sequence[ColumnElement[bool]]) -> Select[int, int, Grade, Grade]:
    """(earlier result id, later result id, earlier grade, later grade) of the people whose grade changed: the
    candidates for "moved two grades or more" (the steps are counted on the grade scale by the caller). Only the
    rows of changed grades leave the database."""
    kept, before = paired(earlier, conditions)
    return (
        select(before.id, AppraisalResult.id, before.grade, AppraisalResult.grade)
        .join(before, before.employee_id == AppraisalResult.employee_id)
        .where(
            AppraisalResult.cycle_id == later,
            before.id.in_(kept),
            before.grade != AppraisalResult.grade,
            *conditions,
        )
        .order_by(AppraisalResult.id)
    )


def post_standings(cycle_id: int, conditions: Sequence[ColumnElement[bool]]) -> Select[int, int, int, int, float]:
    """(post id, scheme version id, scheme version number, results, mean total) per post and the scheme version
    its results were scored under, in one cycle."""
    return (
        select(
            AppraisalResult.post_id,
            SchemeVersion.id,
            SchemeVersion.version,
            func.count(),
            func.avg(AppraisalResult.total_score),
        )
        .select_from(AppraisalResult)
        .join(SchemeVersion, SchemeVersion.id == AppraisalResult.scheme_version_id)
        .where(AppraisalResult.cycle_id == cycle_id, *conditions)
        .group_by(AppraisalResult.post_id, SchemeVersion.id, SchemeVersion.version)
        .order_by(AppraisalResult.post_id, SchemeVersion.version)
    )
