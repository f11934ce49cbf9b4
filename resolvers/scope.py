"""Row scope: which employees and results a principal may read, as SQL conditions.

Which scope applies to which principal is the access policy's decision (``hub.policy``); this module
writes it as SQL.

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

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import assert_never

from sqlalchemy import ColumnElement, CompoundSelect, Label, ScalarSelect, Select, and_, false, literal, or_, select

from hub import policy
from hub.auth import Principal
from hub.db.models import AppraisalResult, Cycle, Employee
from hub.domain import CycleState
from hub.policy import EmployeeScope

MANAGED = "managed"
"""The column every scoped employee row carries: true when the principal manages that employee."""


@dataclass(frozen=True)
class Scope:
    """The access policy's row scope (``hub.policy``) for one principal, as conditions on statements."""

    principal: Principal

    @property
    def pseudonymous(self) -> bool:
        return policy.is_pseudonymous(self.principal)

    @property
    def may_search_names(self) -> bool:
        return policy.may_search_names(self.principal)

    def _me(self) -> ScalarSelect[int]:
        return select(Employee.id).where(Employee.employee_no == self.principal.employee_number).scalar_subquery()

    def _is_me(self) -> ColumnElement[bool]:
        return Employee.id == self._me()

    @cached_property
    def _managed_condition(self) -> ColumnElement[bool] | None:
        # Built once per request: the statement that uses it twice (filter and column) needs one CTE.
        return self._managed()

    @cached_property
    def _reporting_line(self) -> Select[int] | None:
        # One CTE per request: a statement that names the line twice (the scope and the managed column) needs one.
        number = self.principal.employee_number
        if not policy.manages_reporting_line(self.principal) or number is None:
            return None
        return _reporting_line_below(number)

    def _managed(self) -> ColumnElement[bool] | None:
        """Whom the principal manages: everyone below them in the manager chain, not themselves."""
        line = self._reporting_line
        if line is None:
            return None
        # Even if the stored chain loops back to the manager, they never become one of their own people.
        return and_(Employee.id.in_(line), Employee.id != self._me())

    def managed_column(self) -> Label[bool]:
        """A computed column for employee statements: does the principal manage this row's employee?

        Field rules that depend on the row ("a manager's own people") read it without another query; it
        is what keeps a token holding several roles (say employee and analyst) from lending one role's
        field rights to the rows another role reaches.
        """
        managed = self._managed_condition
        return (managed if managed is not None else literal(False)).label(MANAGED)

    def employees(self) -> ColumnElement[bool] | None:
        """The condition on ``employees`` rows this principal may read; None when it may read them all."""
        match policy.employee_scope(self.principal):
            case EmployeeScope.EVERY_EMPLOYEE:
                return None
            case EmployeeScope.NOBODY:
                return false()
            case EmployeeScope.SELF:
                return self._is_me()
            case EmployeeScope.SELF_AND_REPORTING_LINE:
                managed = self._managed_condition
                assert managed is not None, "the policy's reporting line is the managed condition"
                return or_(self._is_me(), managed)
            case unknown:
                assert_never(unknown)

    def employee_rows(self) -> Select[*tuple[object, ...]]:
        """Employee rows as every resolver reads them: the columns, the scope, and the managed flag."""
        statement = select(*Employee.__table__.columns, self.managed_column())
        condition = self.employees()
        return statement if condition is None else statement.where(condition)

    def employee_ids(self) -> Select[int] | CompoundSelect[int] | None:
        """The ids of the employees in scope, as a subquery; None when unrestricted."""
        line = self._reporting_line
        if policy.employee_scope(self.principal) is EmployeeScope.SELF_AND_REPORTING_LINE and line is not None:
            # The same ids as the rows of ``employees()``, themselves and their line, without reading the table
            # through "me OR my line": PostgreSQL scans all of employees for such an OR (tests/schema/
            # test_page_plans.py), where the union is the line's index lookups and one key.
            return select(self._me()).union(line)
        condition = self.employees()
        return None if condition is None else select(Employee.id).where(condition)

    def managed_ids(self) -> Select[int] | None:
        """The ids of the people the principal manages (their reporting line, never themselves), as a subquery;
        None for a principal who manages nobody."""
        managed = self._managed_condition
        return None if managed is None else select(Employee.id).where(managed)

    def results(self) -> list[ColumnElement[bool]]:
        """Conditions on ``appraisal_results`` rows: the employee in scope, the cycle published if need be."""
        conditions: list[ColumnElement[bool]] = []
        employee_ids = self.employee_ids()
        if employee_ids is not None:
            conditions.append(AppraisalResult.employee_id.in_(employee_ids))
        # A manager sees unpublished results of their people only (not their own): the managed condition.
        if not policy.sees_unpublished_results(self.principal):
            published = AppraisalResult.cycle_id.in_(select(Cycle.id).where(Cycle.state == CycleState.PUBLISHED))
            managed = self._managed_condition
            if managed is None:
                conditions.append(published)
            else:
                conditions.append(or_(published, AppraisalResult.employee_id.in_(select(Employee.id).where(managed))))
        return conditions

    def admits_result(self, employee_no: str | None, cycle_state: object) -> bool | None:
        """``results()`` decided in memory for one result, from its employee's number and its cycle's state
        (the result stream's shared pages carry both); None where the rule needs the reporting line, which
        only the database knows (a manager's): the caller asks SQL with ``results()`` then."""
        return self.result_admission(employee_no, cycle_state)

    @cached_property
    def result_admission(self) -> ResultAdmission:
        """``admits_result`` with the principal's part of the rule decided once: what a page of a thousand events
        asks a thousand times."""
        match policy.employee_scope(self.principal):
            case EmployeeScope.NOBODY:
                return lambda employee_no, cycle_state: False
            case EmployeeScope.SELF_AND_REPORTING_LINE:
                return lambda employee_no, cycle_state: None
            case EmployeeScope.SELF:
                only_own, own = True, self.principal.employee_number
            case EmployeeScope.EVERY_EMPLOYEE:
                only_own, own = False, None
            case unknown:
                assert_never(unknown)
        every_state = policy.sees_unpublished_results(self.principal)
        # Unpublished: a manager still sees their people's (``results()``'s managed condition).
        unpublished = None if self._managed_condition is not None else False

        def admits(employee_no: str | None, cycle_state: object) -> bool | None:
            if only_own and (employee_no is None or employee_no != own):
                return False
            if every_state or cycle_state == CycleState.PUBLISHED:
                return True
            return unpublished

        return admits


ResultAdmission = Callable[[str | None, object], bool | None]
"""Whether a result is in a principal's scope, from its employee's number and its cycle's state (None: ask SQL)."""


def _reporting_line_below(employee_no: str) -> Select[int]:
    """The ids of everyone below the employee in the manager chain, at any depth (a recursive CTE).

    UNION, not UNION ALL: a loop in the stored chain (A manages B manages A) then ends the recursion
    instead of running forever.
    """
    me = select(Employee.id).where(Employee.employee_no == employee_no).scalar_subquery()
    line = select(Employee.id).where(Employee.manager_id == me).cte("reporting_line", recursive=True)
    line = line.union(select(Employee.id).where(Employee.manager_id == line.c.id))
    return select(line.c.id)
