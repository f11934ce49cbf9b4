"""Loaders for departments, posts and employees."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from hub.db.models import Department, Employee, Post
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, ScopedLoaderMixin, select_rows


class DepartmentByIdLoader(RowByKeyLoader[int]):
    key_column = Department.id

    def statement(self) -> Select[Any]:
        return select_rows(Department)


class DepartmentsByParentLoader(RowsByKeyLoader[int]):
    key_column = Department.parent_id

    def statement(self) -> Select[Any]:
        return select_rows(Department).order_by(Department.id)


class PostByIdLoader(RowByKeyLoader[int]):
    key_column = Post.id

    def statement(self) -> Select[Any]:
        return select_rows(Post)


class PostsByDepartmentLoader(RowsByKeyLoader[int]):
    key_column = Post.department_id

    def statement(self) -> Select[Any]:
        return select_rows(Post).order_by(Post.id)


class EmployeeByIdLoader(ScopedLoaderMixin, RowByKeyLoader[int]):
    """Employees outside the principal's scope load as None."""

    key_column = Employee.id

    def statement(self) -> Select[Any]:
        return self.scope.employee_rows()
