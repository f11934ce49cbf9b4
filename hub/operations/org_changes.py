"""The organisation as one transaction sees it, and every change to it, each checked before it is made.

The master-data operations (``hub.operations.organisation``), the CSV import (``hub.operations.org_import``)
and provisioning by SCIM (``hub.scim``) change departments, posts and employees only through
:class:`Organisation`: one place for the rules, whatever the entry point. It takes the organisation's
write lock, then reads departments, posts, employees and the open post assignments once (four
statements), so that its uniqueness and loop checks stay true until the transaction commits and a file
of ten thousand rows costs no statement per check.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Department, Employee, Post, PostAssignment, utcnow
from hub.domain import EmployeeStatus
from hub.operations.errors import CircularReference, DuplicateCode, InvalidInput, NotFound
from hub.operations.leaving import withdraw_leaver, withdraw_mover

if TYPE_CHECKING:
    from hub.operations import organisation as commands  # the commands, next to their operations

CODE_CHARS, NAME_CHARS, FAMILY_CHARS, EMAIL_CHARS, EXTERNAL_ID_CHARS = 64, 200, 64, 254, 200
"""The widths of the columns (``hub.db.models.organisation``): a longer value failed in the driver."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
"""Something, an at sign, a domain with a dot: enough to catch a name or a number in the e-mail column."""

Row = TypeVar("Row", Department, Post, Employee)


def checked_text(value: str, field: str, what: str, limit: int) -> str:
    """``value`` without surrounding blanks, when it is 1 to ``limit`` printable characters."""
    cleaned = value.strip()
    if not cleaned or len(cleaned) > limit or not cleaned.isprintable():
        raise InvalidInput(f"{what} must be 1 to {limit} printable characters", field=field)
    return cleaned


def checked_email(value: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > EMAIL_CHARS or not _EMAIL.fullmatch(cleaned):
        raise InvalidInput(f"{cleaned!r} is not an e-mail address", field="email")
    return cleaned


async def lock_organisation(session: AsyncSession) -> None:
    """Serialises the writers of master data until the transaction ends; readers go on.

    SQLite: a write that changes nothing takes the database's write lock (as ``cycles.locked_cycle`` does).
    PostgreSQL: SHARE ROW EXCLUSIVE conflicts with itself and with writes, not with reads.
    """
    if session.get_bind().dialect.name == "sqlite":
        touch = update(Department).where(Department.id == -1).values(code=Department.code)
        await session.execute(touch.execution_options(synchronize_session=False))
    else:
        await session.execute(text("LOCK TABLE employees IN SHARE ROW EXCLUSIVE MODE"))


class Organisation:
    """Departments, posts and employees by key, and each employee's open assignment, for one transaction.

    Every change method checks first and raises a typed error before it changes anything; it flushes,
    so that the new row has its id for the next change of the same transaction.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.departments: dict[int, Department] = {}
        self.department_codes: dict[str, Department] = {}
        self.posts: dict[int, Post] = {}
        self.post_codes: dict[str, Post] = {}
        self.employees: dict[int, Employee] = {}
        self.employee_numbers: dict[str, Employee] = {}
        self.emails: dict[str, Employee] = {}  # lower case: an address names one mailbox whatever its case
        self.external_ids: dict[str, Employee] = {}  # what an identity provider knows them by (SCIM)
        self.current: dict[int, PostAssignment] = {}  # employee id -> their open assignment

    @classmethod
    async def load(cls, session: AsyncSession) -> Organisation:
        """Locks the organisation, then reads it."""
        await lock_organisation(session)
        org = cls(session)
        for department in await session.scalars(select(Department)):
            org._remember_department(department)
        for post in await session.scalars(select(Post)):
            org._remember_post(post)
        for employee in await session.scalars(select(Employee)):
            org._remember_employee(employee)
        opened = select(PostAssignment).where(PostAssignment.end_date.is_(None))
        # By start: of two open assignments (data written before this rule), the latest is current.
        for assignment in await session.scalars(opened.order_by(PostAssignment.start_date, PostAssignment.id)):
            org.current[assignment.employee_id] = assignment
        return org

    def _remember_department(self, department: Department) -> None:
        self.departments[department.id] = self.department_codes[department.code] = department

    def _remember_post(self, post: Post) -> None:
        self.posts[post.id] = self.post_codes[post.code] = post

    def _remember_employee(self, employee: Employee) -> None:
        self.employees[employee.id] = self.employee_numbers[employee.employee_no] = employee
        if employee.email is not None:
            self.emails[employee.email.lower()] = employee
        if employee.external_id is not None:
            self.external_ids[employee.external_id] = employee

    async def _added(self, row: Row) -> Row:
        self.session.add(row)
        await self.session.flush()
        return row

    # --- lookups ---------------------------------------------------------------------------------------

    @staticmethod
    def _found(rows: Mapping[int, Row], entity: str, key: int, field: str) -> Row:
        row = rows.get(key)
        if row is None:
            raise NotFound(entity, key, field=field)
        return row

    def department(self, key: int, field: str = "departmentId") -> Department:
        return self._found(self.departments, "department", key, field)

    def post(self, key: int, field: str = "postId") -> Post:
        return self._found(self.posts, "post", key, field)

    def employee(self, key: int, field: str = "employeeId") -> Employee:
        return self._found(self.employees, "employee", key, field)

    def department_line(self, department_id: int | None) -> Iterator[int]:
        """The department and its ancestors up to the root (a loop already stored ends the walk)."""
        return _line(department_id, lambda key: self.departments[key].parent_id)

    def manager_line(self, employee_id: int | None) -> Iterator[int]:
        """The employee and their managers up the chain (a loop already stored ends the walk)."""
        return _line(employee_id, lambda key: self.employees[key].manager_id)

    def _unused_email(self, value: str, owner: Employee | None) -> str:
        email = checked_email(value)
        holder = self.emails.get(email.lower())
        if holder is not None and holder is not owner:
            raise DuplicateCode(f"e-mail {email!r} belongs to employee {holder.employee_no}", field="email")
        return email

    def _manager(self, key: int, employee: Employee | None) -> Employee:
        manager = self.employee(key, "managerId")
        if manager.status is EmployeeStatus.INACTIVE:
            raise InvalidInput(f"employee {manager.employee_no} has left and manages nobody", field="managerId")
        if employee is not None and employee.id in self.manager_line(manager.id):
            raise CircularReference(
                f"{manager.employee_no} reports to {employee.employee_no}: the chain would loop", field="managerId"
            )
        return manager

    def _active(self, employee: Employee) -> Employee:
        if employee.status is EmployeeStatus.INACTIVE:
            raise InvalidInput(f"employee {employee.employee_no} left on {employee.left_on}", field="employeeId")
        return employee

    # --- departments and posts ----------------------------------------------------------------------------

    async def create_department(self, command: commands.DepartmentCreateInput) -> Department:
        """A new department, at the root or under a parent."""
        code = _new_code(command.code, self.department_codes, "department")
        name = checked_text(command.name, "name", "a department's name", NAME_CHARS)
        parent = None if command.parent_id is None else self.department(command.parent_id, "parentId").id
        department = await self._added(Department(code=code, name=name, parent_id=parent))
        self._remember_department(department)
        return department

    async def update_department(self, command: commands.DepartmentUpdateInput) -> Department:
        """Renames a department or moves it in the tree (never under itself or below it)."""
        department = self.department(command.department_id)
        name = None if command.name is None else checked_text(command.name, "name", "a department's name", NAME_CHARS)
        if command.to_root and command.parent_id is not None:
            raise InvalidInput("give a parent or move to the root, not both", field="toRoot")
        if command.parent_id is not None:
            parent = self.department(command.parent_id, "parentId")
            if department.id in self.department_line(parent.id):
                raise CircularReference(
                    f"department {parent.code} is {department.code} or below it: the tree would loop",
                    field="parentId",
                )
            department.parent_id = parent.id
        if command.to_root:
            department.parent_id = None
        if name is not None:
            department.name = name
        await self.session.flush()
        return department

    async def create_post(self, command: commands.PostCreateInput) -> Post:
        """A new post in a family and a department."""
        code = _new_code(command.code, self.post_codes, "post")
        name = checked_text(command.name, "name", "a post's name", NAME_CHARS)
        family = checked_text(command.family, "family", "a post family", FAMILY_CHARS)
        department = self.department(command.department_id)
        post = await self._added(Post(code=code, name=name, family=family, department_id=department.id))
        self._remember_post(post)
        return post

    async def update_post(self, command: commands.PostUpdateInput) -> Post:
        """Renames a post, or changes its family or department."""
        post = self.post(command.post_id)
        name = None if command.name is None else checked_text(command.name, "name", "a post's name", NAME_CHARS)
        family = (
            None if command.family is None else checked_text(command.family, "family", "a post family", FAMILY_CHARS)
        )
        department = None if command.department_id is None else self.department(command.department_id)
        post.name = name or post.name
        post.family = family or post.family
        post.department_id = department.id if department is not None else post.department_id
        await self.session.flush()
        return post

    # --- employees ---------------------------------------------------------------------------------------

    async def create_employee(self, command: commands.EmployeeCreateInput) -> Employee:
        """A hire: the employee and their first post assignment, from the hire date."""
        number = checked_text(command.employee_no, "employeeNo", "an employee number", CODE_CHARS)
        if number in self.employee_numbers:
            raise DuplicateCode(f"employee number {number!r} is taken", field="employeeNo")
        name = checked_text(command.name, "name", "an employee's name", NAME_CHARS)
        email = None if command.email is None else self._unused_email(command.email, None)
        post = self.post(command.post_id)
        department = self.department(post.department_id if command.department_id is None else command.department_id)
        manager = None if command.manager_id is None else self._manager(command.manager_id, None).id
        employee = Employee(
            employee_no=number,
            name=name,
            email=email,
            hired_on=command.hired_on,
            post_id=post.id,
            department_id=department.id,
            manager_id=manager,
            status=EmployeeStatus.ACTIVE,
        )
        first = PostAssignment(employee=employee, post_id=post.id, start_date=command.hired_on)
        self.session.add(first)  # one flush inserts both: the assignment takes the employee's new id
        await self._added(employee)
        self._remember_employee(employee)
        self._members_changed(employee.department_id)
        self.current[employee.id] = first
        return employee

    async def update_employee(self, command: commands.EmployeeUpdateInput) -> Employee:
        """Changes an employee's name, e-mail, hire date or manager (never one below them in the chain)."""
        employee = self.employee(command.employee_id)
        name = None if command.name is None else checked_text(command.name, "name", "an employee's name", NAME_CHARS)
        if command.email is not None and command.clear_email:
            raise InvalidInput("give an e-mail or clear it, not both", field="clearEmail")
        if command.manager_id is not None and command.clear_manager:
            raise InvalidInput("give a manager or clear it, not both", field="clearManager")
        email = None if command.email is None else self._unused_email(command.email, employee)
        manager = None if command.manager_id is None else self._manager(command.manager_id, employee)
        if name is not None and name != employee.name:
            employee.name, employee.given_name, employee.family_name = name, None, None
            if employee.status is EmployeeStatus.ACTIVE:
                self._members_changed(employee.department_id)  # a Group shows its members' names
        if command.hired_on is not None:
            employee.hired_on = command.hired_on
        if email is not None or command.clear_email:
            if employee.email is not None:
                del self.emails[employee.email.lower()]
            employee.email = email
            if email is not None:
                self.emails[email.lower()] = employee
        if manager is not None or command.clear_manager:
            employee.manager_id = None if manager is None else manager.id
        await self.session.flush()
        return employee

    async def transfer_employee(self, command: commands.EmployeeTransferInput) -> Employee:
        """Another post and/or department from a date: the current assignment ends the day before."""
        employee = self._active(self.employee(command.employee_id))
        post = self.post(command.post_id) if command.post_id is not None else self.posts[employee.post_id]
        if command.department_id is not None:
            department = self.department(command.department_id).id
        else:
            department = post.department_id if command.post_id is not None else employee.department_id
        if post.id == employee.post_id and department == employee.department_id:
            raise InvalidInput(f"employee {employee.employee_no} already holds this post here", field="postId")
        day, employee_post_before = command.effective_date, employee.post_id
        current = self.current.get(employee.id)
        if current is not None and day < current.start_date:
            raise InvalidInput(
                f"the current assignment started on {current.start_date}; a transfer cannot start before it",
                field="effectiveDate",
            )
        if post.id != employee.post_id:
            if current is not None and current.start_date == day:
                current.post_id = post.id  # the same first day: the earlier post was never held
            else:
                if current is not None:
                    current.end_date = day - dt.timedelta(days=1)
                self.current[employee.id] = PostAssignment(employee_id=employee.id, post_id=post.id, start_date=day)
                self.session.add(self.current[employee.id])
        if department != employee.department_id:
            self._members_changed(employee.department_id, department)
        employee.post_id, employee.department_id = post.id, department
        await self.session.flush()
        if post.id != employee_post_before:
            # Out of an OPEN cycle's posts is out of the cycle (see hub.operations.leaving).
            await withdraw_mover(self.session, employee.id, employee.employee_no, day)
        return employee

    async def set_external_id(self, employee: Employee, value: str | None) -> Employee:
        """Sets (or, with None, removes) the id an identity provider knows the employee by (SCIM ``externalId``)."""
        cleaned = None if value is None else checked_text(value, "externalId", "an external id", EXTERNAL_ID_CHARS)
        holder = None if cleaned is None else self.external_ids.get(cleaned)
        if holder is not None and holder is not employee:
            raise DuplicateCode(f"external id {cleaned!r} belongs to employee {holder.employee_no}", field="externalId")
        if employee.external_id is not None:
            del self.external_ids[employee.external_id]
        employee.external_id = cleaned
        if cleaned is not None:
            self.external_ids[cleaned] = employee
        await self.session.flush()
        return employee

    async def set_name_parts(self, employee: Employee, given_name: str | None, family_name: str | None) -> Employee:
        """Keeps the given and family names an identity provider sent (SCIM ``name``); ``name`` stays the name."""
        employee.given_name = _name_part(given_name, "givenName", "a given name")
        employee.family_name = _name_part(family_name, "familyName", "a family name")
        await self.session.flush()
        return employee

    def _members_changed(self, *department_ids: int) -> None:
        """Stamps the departments whose active members changed (a Group's meta.lastModified, hub/scim); a change of
        the row itself is stamped by the model's ``onupdate``."""
        for department_id in department_ids:
            self.departments[department_id].updated_at = utcnow()

    async def deactivate_employee(self, command: commands.EmployeeDeactivateInput) -> Employee:
        """A leaver: INACTIVE, their assignment ends on their last day; their results stay. In each OPEN cycle their
        rater assignments as a ratee, and as a rater those not rated yet, are withdrawn."""
        employee = self._active(self.employee(command.employee_id))
        current = self.current.get(employee.id)
        if current is not None and command.left_on < current.start_date:
            raise InvalidInput(
                f"the current assignment started on {current.start_date}; the last day cannot be before it",
                field="leftOn",
            )
        if current is not None:
            current.end_date = command.left_on
            del self.current[employee.id]
        employee.status, employee.left_on = EmployeeStatus.INACTIVE, command.left_on
        self._members_changed(employee.department_id)
        await self.session.flush()
        # What the OPEN cycles still expect of them goes with them (see hub.operations.leaving).
        await withdraw_leaver(self.session, employee.id, employee.employee_no, command.left_on)
        return employee


def _name_part(value: str | None, field: str, what: str) -> str | None:
    """A part of a name as sent, None when left out or blank (a blank part names nothing)."""
    return None if value is None or not value.strip() else checked_text(value, field, what, NAME_CHARS)


def _new_code(value: str, taken: Mapping[str, object], kind: str) -> str:
    """A new code, refused when taken whatever its case: "it-support" beside "IT-SUPPORT" would be two departments
    to the hub and one to the people reading a list (and to a file exported by a system that changes case)."""
    code = checked_text(value, "code", f"a {kind}'s code", CODE_CHARS)
    if code in taken:
        raise DuplicateCode(f"{kind} code {code!r} is taken", field="code")
    wanted = code.casefold()
    for other in taken:
        if other.casefold() == wanted:
            raise DuplicateCode(f"{kind} code {code!r} differs from {other!r} only in case", field="code")
    return code


def _line(start: int | None, up: Callable[[int], int | None]) -> Iterator[int]:
    seen: set[int] = set()
    key = start
    while key is not None and key not in seen:
        seen.add(key)
        yield key
        key = up(key)
