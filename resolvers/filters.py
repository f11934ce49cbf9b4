"""SQL conditions for the filter inputs of the API, shared by list queries and statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from hub.db.models import AppraisalResult, Cycle, Department, Employee, Post
from hub.domain import Grade
from resolvers.errors import BadUserInput, parse_id

# The filters are the GraphQL input types themselves (schema/inputs.py registers them): strawberry builds
# them from the request, and the resolvers read them here.


@dataclass(frozen=True, slots=True)
class EmployeeFilter:
    """What an employee list can be filtered by; ids are as the API gives them (parsed here)."""

    department_id: str | None = None
    post_id: str | None = None
    post_family: str | None = None
    name_contains: str | None = None
    cycle_id: str | None = None
    grade: Grade | None = None
    min_score: float | None = None
    max_score: float | None = None


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """What a result list or statistic can be filtered by."""

    department_id: str | None = None
    post_id: str | None = None
    post_family: str | None = None
    grade: Grade | None = None
    min_score: float | None = None
    max_score: float | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None


_NO_ROW = -1  # an id no row has: a filter on an id that cannot exist matches nothing


def department_subtree(department_id: str) -> Select[tuple[int]]:
    """The ids of a department and every department below it (a recursive CTE, one statement)."""
    root = parse_id(department_id)
    tree = select(Department.id).where(Department.id == (root if root is not None else _NO_ROW))
    tree_cte = tree.cte("department_tree", recursive=True)
    tree_cte = tree_cte.union_all(select(Department.id).where(Department.parent_id == tree_cte.c.id))
    return select(tree_cte.c.id)


def _id_or_nothing(value: str) -> int:
    parsed = parse_id(value)
    return parsed if parsed is not None else _NO_ROW


def _placement(
    filter_: EmployeeFilter | ResultFilter, department: InstrumentedAttribute[int], post: InstrumentedAttribute[int]
) -> list[ColumnElement[bool]]:
    """Department (or any below it), post and post family: what both filters select people by."""
    conditions: list[ColumnElement[bool]] = []
    if filter_.department_id is not None:
        conditions.append(department.in_(department_subtree(filter_.department_id)))
    if filter_.post_id is not None:
        conditions.append(post == _id_or_nothing(filter_.post_id))
    if filter_.post_family is not None:
        conditions.append(post.in_(select(Post.id).where(Post.family == filter_.post_family)))
    return conditions


async def unknown_post_families(sessionmaker: async_sessionmaker[AsyncSession], families: Sequence[str]) -> list[str]:
    """The families among ``families`` that no post has, sorted: a filter naming one is a misspelling that would
    otherwise select nothing quietly (``resultEvents``' postFamilies refuses the same, in its own words)."""
    async with sessionmaker() as session:
        known = set(await session.scalars(select(Post.family).where(Post.family.in_(families)).distinct()))
    return sorted(set(families) - known)


def employee_conditions(
    filter_: EmployeeFilter | None, visible_results: Sequence[ColumnElement[bool]] = ()
) -> list[ColumnElement[bool]]:
    """``visible_results``: the conditions on the results the caller may see (its scope), which the result part of
    the filter (a cycle's grade and score range) reads, so that it never selects by a result the caller cannot see."""
    if filter_ is None:
        return []
    conditions = _placement(filter_, Employee.department_id, Employee.post_id)
    if filter_.name_contains:
        conditions.append(Employee.name.icontains(filter_.name_contains, autoescape=True))
    by_result = ResultFilter(grade=filter_.grade, min_score=filter_.min_score, max_score=filter_.max_score)
    if filter_.cycle_id is not None or by_result != ResultFilter():
        if filter_.cycle_id is None:
            raise BadUserInput("'filter.cycleId' names the cycle that grade and score filters read", argument="filter")
        matching = select(AppraisalResult.employee_id).where(
            AppraisalResult.cycle_id == _id_or_nothing(filter_.cycle_id),
            *result_conditions(by_result),
            *visible_results,
        )
        conditions.append(Employee.id.in_(matching))
    return conditions


def result_conditions(filter_: ResultFilter | None) -> list[ColumnElement[bool]]:
    if filter_ is None:
        return []
    conditions = _placement(filter_, AppraisalResult.department_id, AppraisalResult.post_id)
    if filter_.grade is not None:
        conditions.append(AppraisalResult.grade == filter_.grade)
    if filter_.min_score is not None:
        conditions.append(AppraisalResult.total_score >= filter_.min_score)
    if filter_.max_score is not None:
        conditions.append(AppraisalResult.total_score <= filter_.max_score)
    periods = []
    if filter_.period_from is not None:
        periods.append(Cycle.period_start >= filter_.period_from)
    if filter_.period_to is not None:
        periods.append(Cycle.period_end <= filter_.period_to)
    if periods:
        conditions.append(AppraisalResult.cycle_id.in_(select(Cycle.id).where(*periods)))
    return conditions
