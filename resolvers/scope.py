"""Row scope: which employees and results a principal may read, as SQL conditions.

The conditions go into the statements themselves (root queries and loaders alike), so rows outside a
principal's scope are never fetched, rather than fetched and filtered. They are built from the
principal alone, with subqueries for the caller's own employee row and department subtree, so scoping
costs no extra statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select

from hub.auth import Grant, Principal, Role
from hub.db.models import AppraisalResult, Cycle, Department, Employee
from hub.domain import CycleState

# Roles that see every employee row (what a field shows is decided by the field rules).
_ALL_EMPLOYEES = frozenset({Role.HR_ADMIN, Role.ANALYST, Role.PAYROLL, Role.TRAINING})
# Roles that see results of cycles before they are published (scoring, calibration).
_UNPUBLISHED_RESULTS = frozenset({Role.HR_ADMIN, Role.MANAGER, Role.ANALYST})


@dataclass(frozen=True, slots=True)
class Scope:
    principal: Principal

    @property
    def sees_every_employee(self) -> bool:
        return not self.principal.roles.isdisjoint(_ALL_EMPLOYEES)

    @property
    def sees_unpublished_results(self) -> bool:
        return not self.principal.roles.isdisjoint(_UNPUBLISHED_RESULTS)

    @property
    def sees_names(self) -> bool:
        """Analysts see names only when granted; every other role that reaches an employee sees them."""
        roles = self.principal.roles - {Role.ANALYST}
        return bool(roles) or Grant.NAMES in self.principal.grants

    def employees(self) -> ColumnElement[bool] | None:
        """The condition on ``employees`` rows this principal may read; None when it may read them all."""
        if self.sees_every_employee:
            return None
        number = self.principal.employee_number
        if number is None:
            return false()
        me = select(Employee.id).where(Employee.employee_no == number).scalar_subquery()
        visible: list[ColumnElement[bool]] = [Employee.id == me]
        if Role.MANAGER in self.principal.roles:
            visible.append(Employee.manager_id == me)
            visible.append(Employee.department_id.in_(_department_subtree_of(number)))
        return or_(*visible)

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
            published = select(Cycle.id).where(Cycle.state == CycleState.PUBLISHED)
            conditions.append(AppraisalResult.cycle_id.in_(published))
        return conditions


def _department_subtree_of(employee_no: str) -> Select[Any]:
    """The ids of the employee's department and every department below it (a recursive CTE)."""
    home = select(Employee.department_id).where(Employee.employee_no == employee_no).scalar_subquery()
    tree = select(Department.id).where(Department.id == home).cte("scope_tree", recursive=True)
    tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
    return select(tree.c.id)
