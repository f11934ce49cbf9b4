"""Importing the organisation from CSV: every row checked first, then applied in one transaction.

The file (``hub.operations.org_csv``) is read, then checked as a whole against the organisation as the
transaction sees it under the organisation's lock: unknown codes, a department defined two ways, a loop in
the tree or the manager chain as the file would leave them, an e-mail two people would share, a date before
the current assignment. Every problem is reported with its line (``ImportRejected``) and nothing is
written. A clean file is applied through the same change methods as the mutations
(:class:`~hub.operations.org_changes.Organisation`): creates, updates, transfers (a changed post or
department, from ``effective_date``) and deactivations (status INACTIVE). It is idempotent by employee
number: what the file says and the database holds already counts as unchanged.

E-mails and managers that move between people in one file are released before they are given again, so
that two employees swapping e-mails, or a manager and a report trading places, never collide half-way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Department, Employee, Post, PostAssignment
from hub.db.statistics import refresh_statistics
from hub.domain import EmployeeStatus
from hub.operations import organisation
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, described
from hub.operations.errors import ImportRejected, OperationError, RowProblem
from hub.operations.org_changes import Organisation
from hub.operations.org_csv import DepartmentDefinition, OrgRow, PostDefinition, read_org_csv
from hub.operations.org_import_checks import check_rows
from hub.progress import SILENT, Progress
from hub.records import record_from

D = TypeVar("D", DepartmentDefinition, PostDefinition)

PROGRESS_EVERY = 1000
"""Rows between two progress reports of a big file."""


@dataclass(frozen=True, slots=True)
class OrganisationImport:
    csv: str = described(
        "The file: employee_no,name,department_code,post_code and optional email,hired_on,department_name,"
        "parent_department_code,post_name,post_family,post_department_code,manager_employee_no,status,"
        "effective_date (see the README)."
    )
    dry_run: bool | None = described("Checks and counts without storing anything.", default=None)


@dataclass(slots=True)
class ImportCounts:
    """How many of one kind the file created, changed, or found as stored."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(slots=True)
class EmployeeImportCounts(ImportCounts):
    """Every row is one employee: created, updated or unchanged; of the updated, the transfers and leavers."""

    transferred: int = 0
    deactivated: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganisationImported:
    """What an import stored (or, in a dry run, would have stored)."""

    departments: ImportCounts
    posts: ImportCounts
    employees: EmployeeImportCounts
    dry_run: bool
    """True when the transaction was rolled back: the counts are what it would have stored."""


class _DryRun(Exception):
    """Leaves the transaction by its rollback, carrying what it would have stored."""

    def __init__(self, report: OrganisationImported) -> None:
        super().__init__("dry run")
        self.report = report


async def import_organisation(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: OrganisationImport,
    caller: Caller,
    *,
    progress: Progress = SILENT,
) -> OrganisationImported:
    """Applies the file in one transaction, or nothing with every problem named (see the module)."""
    rows, problems = read_org_csv(command.csv)
    today = caller.now.date()
    try:
        async with sessionmaker() as session, session.begin():
            org = await Organisation.load(session)
            # The well-formed rows are checked too: one answer names every problem of the file.
            problems += check_rows(org, rows, today)
            if problems:
                raise ImportRejected(sorted(problems, key=lambda problem: problem.line))
            applying = _Apply(org, today, progress)
            report = await applying.run(rows, dry_run=bool(command.dry_run))
            if command.dry_run:
                raise _DryRun(report)
            await audit_change(session, caller.audit, "organisation-import", *applying.changed_ids())
    except _DryRun as dry_run:
        return dry_run.report
    await refresh_statistics(sessionmaker, Department, Post, Employee, PostAssignment)
    return report


@dataclass
class _Apply:
    """One clean file applied to the organisation, counting as it goes."""

    org: Organisation
    today: dt.date
    progress: Progress
    departments: ImportCounts = field(default_factory=ImportCounts)
    posts: ImportCounts = field(default_factory=ImportCounts)
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    transferred: int = 0
    deactivated: int = 0
    line: int = 1
    """The line being applied, for an error the checks did not foresee."""

    async def run(self, rows: list[OrgRow], *, dry_run: bool) -> OrganisationImported:
        try:
            await self._departments(_defined(rows, lambda row: row.department))
            await self._posts(_defined(rows, lambda row: row.post))
            await self._employees(rows)
        except OperationError as error:  # a case the checks missed: still all or nothing, and the line
            raise ImportRejected([RowProblem(self.line, error.message)]) from error
        created, updated = len(self.created), len(self.updated - self.created)
        unchanged = len(rows) - created - updated
        employees = EmployeeImportCounts(created, updated, unchanged, self.transferred, self.deactivated)
        return OrganisationImported(
            departments=self.departments, posts=self.posts, employees=employees, dry_run=dry_run
        )

    async def _employees(self, rows: list[OrgRow]) -> None:
        self.progress.begin("employees", len(rows), "rows")
        try:
            await self._each(rows, self._release)
            reported = 0
            for done, row in enumerate(rows, 1):
                self.line = row.line
                await self._employee(row)
                if done % PROGRESS_EVERY == 0 or done == len(rows):
                    self.progress.advance(done - reported)
                    reported = done
            await self._each(rows, self._give)
            await self._each(rows, self._leave)
        finally:
            self.progress.end()

    async def _each(self, rows: Iterable[OrgRow], step: Callable[[OrgRow], Awaitable[None]]) -> None:
        for row in rows:
            self.line = row.line
            await step(row)

    def changed_ids(self) -> Iterator[str]:
        for number in sorted(self.created | self.updated):
            yield f"employee:{self.org.employee_numbers[number].id}"

    async def _departments(self, definitions: dict[str, tuple[int, DepartmentDefinition]]) -> None:
        for code in _parents_first(definitions):
            self.line, wanted = definitions[code]
            department = self.org.department_codes.get(code)
            parent = None if wanted.parent_code is None else self.org.department_codes[wanted.parent_code].id
            if not wanted.has_parent and department is not None:
                parent = department.parent_id
            if department is None:
                await self.org.create_department(
                    organisation.DepartmentCreateInput(code=code, name=wanted.name, parent_id=parent)
                )
                self.departments.created += 1
            elif (department.name, department.parent_id) != (wanted.name, parent):
                change = organisation.DepartmentUpdateInput(
                    department_id=department.id, name=wanted.name, parent_id=parent, to_root=parent is None
                )
                await self.org.update_department(change)
                self.departments.updated += 1
            else:
                self.departments.unchanged += 1

    async def _posts(self, definitions: dict[str, tuple[int, PostDefinition]]) -> None:
        for code, (self.line, wanted) in definitions.items():
            department = self.org.department_codes[wanted.department_code].id
            post = self.org.post_codes.get(code)
            if post is None:
                create = organisation.PostCreateInput(
                    code=code, name=wanted.name, family=wanted.family, department_id=department
                )
                await self.org.create_post(create)
                self.posts.created += 1
            elif (post.name, post.family, post.department_id) != (wanted.name, wanted.family, department):
                change = organisation.PostUpdateInput(
                    post_id=post.id, name=wanted.name, family=wanted.family, department_id=department
                )
                await self.org.update_post(change)
                self.posts.updated += 1
            else:
                self.posts.unchanged += 1

    def _manager_no(self, employee: Employee) -> str | None:
        return None if employee.manager_id is None else self.org.employees[employee.manager_id].employee_no

    async def _release(self, row: OrgRow) -> None:
        """Takes away the e-mail and manager the file changes, before any is given again."""
        employee = self.org.employee_numbers.get(row.employee_no)
        if employee is not None:
            clear_email = row.has_email and employee.email is not None and employee.email != row.email
            manager_changes = self._manager_no(employee) != row.manager_no
            clear_manager = row.has_manager and employee.manager_id is not None and manager_changes
            if clear_email or clear_manager:
                change = organisation.EmployeeUpdateInput(
                    employee_id=employee.id, clear_email=clear_email, clear_manager=clear_manager
                )
                await self.org.update_employee(change)
                self.updated.add(row.employee_no)

    async def _employee(self, row: OrgRow) -> None:
        """Creates the employee, or updates their name and hire date and transfers them."""
        post, department = self.org.post_codes[row.post_code], self.org.department_codes[row.department_code]
        employee = self.org.employee_numbers.get(row.employee_no)
        if employee is None:
            assert row.hired_on is not None, "checked: a new employee has a hire date"
            # A manager stored or hired on an earlier line is given now; a later one by ``_give``.
            manager = None if row.manager_no is None else self.org.employee_numbers.get(row.manager_no)
            hire = record_from(
                organisation.EmployeeCreateInput,
                row,
                post_id=post.id,
                department_id=department.id,
                manager_id=None if manager is None else manager.id,
            )
            await self.org.create_employee(hire)
            self.created.add(row.employee_no)
            return
        name = None if row.name == employee.name else row.name
        hired_on = None if row.hired_on in (None, employee.hired_on) else row.hired_on
        if name is not None or hired_on is not None:
            await self.org.update_employee(
                organisation.EmployeeUpdateInput(employee_id=employee.id, name=name, hired_on=hired_on)
            )
            self.updated.add(row.employee_no)
        moved = (post.id, department.id) != (employee.post_id, employee.department_id)
        if moved and employee.status is EmployeeStatus.ACTIVE:
            day = row.effective_date or self.today
            move = organisation.EmployeeTransferInput(
                employee_id=employee.id, effective_date=day, post_id=post.id, department_id=department.id
            )
            await self.org.transfer_employee(move)
            self.transferred += 1
            self.updated.add(row.employee_no)

    async def _give(self, row: OrgRow) -> None:
        """Gives the e-mail and manager the file names, where the employee does not hold them yet."""
        employee = self.org.employee_numbers[row.employee_no]
        email = row.email if row.has_email and row.email is not None and employee.email != row.email else None
        manager = None
        if row.manager_no is not None and self._manager_no(employee) != row.manager_no:
            manager = self.org.employee_numbers[row.manager_no].id
        if email is not None or manager is not None:
            await self.org.update_employee(
                organisation.EmployeeUpdateInput(employee_id=employee.id, email=email, manager_id=manager)
            )
            self.updated.add(row.employee_no)

    async def _leave(self, row: OrgRow) -> None:
        employee = self.org.employee_numbers[row.employee_no]
        if row.status is EmployeeStatus.INACTIVE and employee.status is EmployeeStatus.ACTIVE:
            left_on = row.effective_date or self.today
            await self.org.deactivate_employee(
                organisation.EmployeeDeactivateInput(employee_id=employee.id, left_on=left_on)
            )
            self.deactivated += 1
            self.updated.add(row.employee_no)


def _defined(rows: Iterable[OrgRow], definition: Callable[[OrgRow], D | None]) -> dict[str, tuple[int, D]]:
    """The departments (or posts) the file defines, by code, with the first line defining each (the checks
    made sure that the others say the same)."""
    found: dict[str, tuple[int, D]] = {}
    for row in rows:
        defined = definition(row)
        if defined is not None:
            code = row.department_code if isinstance(defined, DepartmentDefinition) else row.post_code
            found.setdefault(code, (row.line, defined))
    return found


def _parents_first(definitions: Mapping[str, tuple[int, DepartmentDefinition]]) -> list[str]:
    """The codes in an order that creates a parent before its children (the checks excluded loops)."""
    ordered: list[str] = []
    placed: set[str] = set()

    def place(code: str) -> None:
        if code not in placed:
            placed.add(code)
            parent = definitions[code][1].parent_code
            if parent is not None and parent in definitions:
                place(parent)
            ordered.append(code)

    for code in definitions:
        place(code)
    return ordered
