"""Row scope: which employees and results a principal may read, as SQL conditions.

The conditions go into the statements themselves (root queries and loaders alike), so rows outside a
principal's scope are never fetched, rather than fetched and filtered. They are built from the
principal alone, with subqueries for the caller's own employee row and their reporting line, so scoping
costs no extra statement.

A manager's people are their reporting line: everyone below them in the manager chain
(``employees.manager_id``), at any depth. Not their department: a department also holds the manager's
own boss and peers, whose ratings and scores are not theirs to read. A department's head sees the
department because its people report to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Label, Select, and_, false, literal, or_, select

from hub.auth import Grant, Principal, Role
from hub.db.models import AppraisalResult, Cycle, Employee
from hub.domain import CycleState

# Roles that see every employee row (what a field shows is decided by the field rules).
_ALL_EMPLOYEES = frozenset({Role.HR_ADMIN, Role.ANALYST, Role.PAYROLL, Role.TRAINING})
# Roles that see every employee's name.
_ALL_NAMES = frozenset({Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING})
MANAGED = "managed"
"""The column every scoped employee row carries: true when the principal manages that employee."""
# Roles that see every result of cycles before they are published (scoring, calibration). A manager sees
# those of their people only: not their own, which reaches them on publication like any employee's.
_UNPUBLISHED_RESULTS = frozenset({Role.HR_ADMIN, Role.ANALYST})


@dataclass(frozen=True)
class Scope:
    principal: Principal

    @property
    def sees_every_employee(self) -> bool:
        return not self.principal.roles.isdisjoint(_ALL_EMPLOYEES)

    @property
    def sees_unpublished_results(self) -> bool:
        """Every result of unpublished cycles; a manager sees only their people's (see ``results``)."""
        return not self.principal.roles.isdisjoint(_UNPUBLISHED_RESULTS)

    @property
    def sees_every_name(self) -> bool:
        """HR and the system principals see every name; analysts only with the names grant."""
        roles = self.principal.roles
        return not roles.isdisjoint(_ALL_NAMES) or (Role.ANALYST in roles and Grant.NAMES in self.principal.grants)

    @property
    def pseudonymous(self) -> bool:
        """An analyst without the names grant: every answer must be free of anything that maps to a person
        (keyed ids and checksums, no manager links, no grouping fields of small groups)."""
        return Role.ANALYST in self.principal.roles and not self.sees_every_name

    @property
    def may_search_names(self) -> bool:
        """Searching by name reveals names: only for those who see the name of every row they reach."""
        return self.sees_every_name or not self.sees_every_employee

    def _me(self) -> Any:
        return select(Employee.id).where(Employee.employee_no == self.principal.employee_number).scalar_subquery()

    @cached_property
    def _managed_condition(self) -> ColumnElement[bool] | None:
        # Built once per request: the statement that uses it twice (filter and column) needs one CTE.
        return self._managed()

    def _managed(self) -> ColumnElement[bool] | None:
        """Whom the principal manages: everyone below them in the manager chain, not themselves."""
        number = self.principal.employee_number
        if Role.MANAGER not in self.principal.roles or number is None:
            return None
        # Even if the stored chain loops back to the manager, they never become one of their own people.
        return and_(Employee.id.in_(_reporting_line_below(number)), Employee.id != self._me())

    def managed_column(self) -> Label[Any]:
        """A computed column for employee statements: does the principal manage this row's employee?

        Field rules that depend on the row ("a manager's own people") read it without another query; it
        is what keeps a token holding several roles (say employee and analyst) from lending one role's
        field rights to the rows another role reaches.
        """
        managed = self._managed_condition
        return (managed if managed is not None else literal(False)).label(MANAGED)

    def employees(self) -> ColumnElement[bool] | None:
        """The condition on ``employees`` rows this principal may read; None when it may read them all."""
        if self.sees_every_employee:
            return None
        if self.principal.employee_number is None:
            return false()
        visible: list[ColumnElement[bool]] = [Employee.id == self._me()]
        managed = self._managed_condition
        if managed is not None:
            visible.append(managed)
        return or_(*visible)

    def employee_rows(self) -> Select[Any]:
        """Employee rows as every resolver reads them: the columns, the scope, and the managed flag."""
        statement = select(*Employee.__table__.columns, self.managed_column())
        condition = self.employees()
        return statement if condition is None else statement.where(condition)

    def employee_ids(self) -> Select[Any] | None:
        """The ids of the employees in scope, as a subquery; None when unrestricted."""
        condition = self.employees()
        return None if condition is None else select(Employee.id).where(condition)

    def results(self) -> list[ColumnElement[bool]]:
        """Conditions on ``appraisal_results`` rows: the employee in scope, the cycle published if need be."""
        conditions: list[ColumnElement[bool]] = []
        employee_ids = self.employee_ids()
        if employee_ids is not None:
            conditions.append(AppraisalResult.employee_id.in_(employee_ids))
        if not self.sees_unpublished_results:
            published = AppraisalResult.cycle_id.in_(select(Cycle.id).where(Cycle.state == CycleState.PUBLISHED))
            managed = self._managed_condition
            if managed is None:
                conditions.append(published)
            else:
                conditions.append(or_(published, AppraisalResult.employee_id.in_(select(Employee.id).where(managed))))
        return conditions


def _reporting_line_below(employee_no: str) -> Select[Any]:
    """The ids of everyone below the employee in the manager chain, at any depth (a recursive CTE).

    UNION, not UNION ALL: a loop in the stored chain (A manages B manages A) then ends the recursion
    instead of running forever.
    """
    me = select(Employee.id).where(Employee.employee_no == employee_no).scalar_subquery()
    line = select(Employee.id).where(Employee.manager_id == me).cte("reporting_line", recursive=True)
    line = line.union(select(Employee.id).where(Employee.manager_id == line.c.id))
    return select(line.c.id)
