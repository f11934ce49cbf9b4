"""Loaders for departments, posts and employees."""

from __future__ import annotations

from hub.db.models import Department, Employee, Post, PostAssignment
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, RowsStatement, ScopedLoaderMixin, select_rows
from resolvers.records import DepartmentRow, EmployeeRow, PostAssignmentRow, PostRow


class DepartmentByIdLoader(RowByKeyLoader[int, DepartmentRow]):
    key_column = Department.id


class DepartmentsByParentLoader(RowsByKeyLoader[int, DepartmentRow]):
    key_column = Department.parent_id
    order_by = (Department.id,)


class PostByIdLoader(RowByKeyLoader[int, PostRow]):
    key_column = Post.id


class PostsByDepartmentLoader(RowsByKeyLoader[int, PostRow]):
    key_column = Post.department_id
    order_by = (Post.id,)


class EmployeeByIdLoader(ScopedLoaderMixin, RowByKeyLoader[int, EmployeeRow]):
    """Employees outside the principal's scope load as None."""

    key_column = Employee.id

    def statement(self) -> RowsStatement:
        return self.scope.employee_rows()


class EmployeeByNumberLoader(ScopedLoaderMixin, RowByKeyLoader[str, EmployeeRow]):
    """By employee number; numbers outside the principal's scope load as None, as unknown ones do."""

    key_column = Employee.employee_no

    def statement(self) -> RowsStatement:
        return self.scope.employee_rows()


class DirectReportsByManagerLoader(ScopedLoaderMixin, RowsByKeyLoader[int, EmployeeRow]):
    """The people who report to a manager directly, in id order, less those outside the principal's scope:
    a list of someone's reports must not name a colleague the caller may not read by id."""

    key_column = Employee.manager_id

    def statement(self) -> RowsStatement:
        return self.scope.employee_rows().order_by(Employee.id)


class PostAssignmentsByEmployeeLoader(RowsByKeyLoader[int, PostAssignmentRow]):
    """An employee's post history, newest first; the field that asks reads only employees in scope."""

    key_column = PostAssignment.employee_id

    def statement(self) -> RowsStatement:
        return select_rows(PostAssignment).order_by(PostAssignment.start_date.desc(), PostAssignment.id.desc())
