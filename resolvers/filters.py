"""SQL conditions for the filter inputs of the API, shared by list queries and statistics."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, select

from hub.db.models import AppraisalResult, Department, Employee, Post
from hub.domain import Grade
from resolvers.errors import parse_id


class EmployeeFilterInput(Protocol):
    """What an employee list can be filtered by (read-only, so any input type fits)."""

    @property
    def department_id(self) -> str | None: ...

    @property
    def post_id(self) -> str | None: ...

    @property
    def post_family(self) -> str | None: ...

    @property
    def name_contains(self) -> str | None: ...


class ResultFilterInput(Protocol):
    """What a result list or statistic can be filtered by."""

    @property
    def department_id(self) -> str | None: ...

    @property
    def post_id(self) -> str | None: ...

    @property
    def post_family(self) -> str | None: ...

    @property
    def grade(self) -> Grade | None: ...

    @property
    def min_score(self) -> float | None: ...

    @property
    def max_score(self) -> float | None: ...


_NO_ROW = -1  # an id no row has: a filter on an id that cannot exist matches nothing


def department_subtree(department_id: str) -> Select[Any]:
    """The ids of a department and every department below it (a recursive CTE, one statement)."""
    root = parse_id(department_id)
    tree = select(Department.id).where(Department.id == (root if root is not None else _NO_ROW))
    tree_cte = tree.cte("department_tree", recursive=True)
    tree_cte = tree_cte.union_all(select(Department.id).where(Department.parent_id == tree_cte.c.id))
    return select(tree_cte.c.id)


def _id_or_nothing(value: str) -> int:
    parsed = parse_id(value)
    return parsed if parsed is not None else _NO_ROW


def employee_conditions(filter_: EmployeeFilterInput | None) -> list[ColumnElement[bool]]:
    if filter_ is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    if filter_.department_id is not None:
        conditions.append(Employee.department_id.in_(department_subtree(filter_.department_id)))
    if filter_.post_id is not None:
        conditions.append(Employee.post_id == _id_or_nothing(filter_.post_id))
    if filter_.post_family is not None:
        conditions.append(Employee.post_id.in_(select(Post.id).where(Post.family == filter_.post_family)))
    if filter_.name_contains:
        conditions.append(Employee.name.icontains(filter_.name_contains, autoescape=True))
    return conditions


def result_conditions(filter_: ResultFilterInput | None) -> list[ColumnElement[bool]]:
    if filter_ is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    if filter_.department_id is not None:
        conditions.append(AppraisalResult.department_id.in_(department_subtree(filter_.department_id)))
    if filter_.post_id is not None:
        conditions.append(AppraisalResult.post_id == _id_or_nothing(filter_.post_id))
    if filter_.post_family is not None:
        conditions.append(AppraisalResult.post_id.in_(select(Post.id).where(Post.family == filter_.post_family)))
    if filter_.grade is not None:
        conditions.append(AppraisalResult.grade == filter_.grade)
    if filter_.min_score is not None:
        conditions.append(AppraisalResult.total_score >= filter_.min_score)
    if filter_.max_score is not None:
        conditions.append(AppraisalResult.total_score <= filter_.max_score)
    return conditions
