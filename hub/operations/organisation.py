"""Organisation master data: departments (a tree), posts, employees and their post assignments.

Every change goes through :class:`hub.operations.org_changes.Organisation`, which holds the rules (unique
codes, employee numbers and e-mails, no loop in the department tree or the manager chain, an assignment
history that a transfer or a leaver extends and never rewrites). The operations here are its entry points
for one change each, as the API declares them; the CSV import (``hub.operations.org_import``) applies a
whole file through the same object in one transaction, and so will provisioning from an identity system.

A transfer closes the current post assignment the day before its effective date and opens the next one;
results keep the post they were scored in (``appraisal_results.post_id``). A leaver is INACTIVE from
``left_on`` on: their assignment ends that day, their results stay, and cycles opened afterwards leave them
out (``hub.operations.cycles.participants_statement``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Department, Employee, Post
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.org_changes import Organisation

DepartmentId = Annotated[int, IdOf("department")]
PostId = Annotated[int, IdOf("post")]
EmployeeId = Annotated[int, IdOf("employee")]


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentCreateInput:
    code: str = described("Unique, 1 to 64 characters; what imports and other systems know it by.")
    name: str
    parent_id: DepartmentId | None = described("The department it belongs to; none for a root.", default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentUpdateInput:
    department_id: DepartmentId
    name: str | None = described("A new name; unchanged when left out.", default=None)
    parent_id: DepartmentId | None = described(
        "Moves the department under this one (never under itself or its own sub-departments).", default=None
    )
    to_root: bool = described("Moves the department to the top of the tree (no parent).", default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PostCreateInput:
    code: str = described("Unique, 1 to 64 characters.")
    name: str
    family: str = described("The post family (a scheme's audience in statistics), 1 to 64 characters.")
    department_id: DepartmentId


@dataclass(frozen=True, slots=True, kw_only=True)
class PostUpdateInput:
    post_id: PostId
    name: str | None = None
    family: str | None = None
    department_id: DepartmentId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeCreateInput:
    employee_no: str = described("Unique, 1 to 64 characters; the key of imports and of the business systems.")
    name: str
    email: str | None = described("Unique where set.", default=None)
    hired_on: dt.date = described("The first day of the first post assignment.")
    post_id: PostId
    department_id: DepartmentId | None = described("Default: the post's department.", default=None)
    manager_id: EmployeeId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeUpdateInput:
    employee_id: EmployeeId
    name: str | None = None
    email: str | None = described("A new e-mail; unchanged when left out.", default=None)
    clear_email: bool = described("Removes the e-mail.", default=False)
    manager_id: EmployeeId | None = described(
        "A new manager (never someone who reports to the employee, at any depth).", default=None
    )
    clear_manager: bool = described("Removes the manager.", default=False)
    hired_on: dt.date | None = described(
        "Corrects the hire date; the post assignments keep their dates (a transfer changes those).", default=None
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeTransferInput:
    employee_id: EmployeeId
    effective_date: dt.date = described(
        "The first day in the new post or department; not before the current assignment's start."
    )
    post_id: PostId | None = described("The new post; unchanged when left out.", default=None)
    department_id: DepartmentId | None = described(
        "The new department; default: the new post's department, or unchanged.", default=None
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EmployeeDeactivateInput:
    employee_id: EmployeeId
    left_on: dt.date = described("The leaver's last day: their post assignment ends on it.")


class Keyed(Protocol):
    @property
    def id(self) -> int: ...


K = TypeVar("K", bound=Keyed)


async def _change(
    sessionmaker: async_sessionmaker[AsyncSession],
    caller: Caller,
    kind: str,
    change: Callable[[Organisation], Awaitable[K]],
) -> K:
    """One change in one transaction, under the organisation's lock, audited as ``kind:id``."""
    async with sessionmaker() as session, session.begin():
        changed = await change(await Organisation.load(session))
        await audit_change(session, caller.audit, f"{kind}:{changed.id}")
    return changed


async def create_department(
    sessionmaker: async_sessionmaker[AsyncSession], command: DepartmentCreateInput, caller: Caller
) -> Department:
    """A new department, at the root or under a parent."""
    return await _change(sessionmaker, caller, "department", lambda org: org.create_department(command))


async def update_department(
    sessionmaker: async_sessionmaker[AsyncSession], command: DepartmentUpdateInput, caller: Caller
) -> Department:
    """Renames a department or moves it in the tree."""
    return await _change(sessionmaker, caller, "department", lambda org: org.update_department(command))


async def create_post(sessionmaker: async_sessionmaker[AsyncSession], command: PostCreateInput, caller: Caller) -> Post:
    """A new post in a family and a department."""
    return await _change(sessionmaker, caller, "post", lambda org: org.create_post(command))


async def update_post(sessionmaker: async_sessionmaker[AsyncSession], command: PostUpdateInput, caller: Caller) -> Post:
    """Renames a post, or changes its family or department."""
    return await _change(sessionmaker, caller, "post", lambda org: org.update_post(command))


async def create_employee(
    sessionmaker: async_sessionmaker[AsyncSession], command: EmployeeCreateInput, caller: Caller
) -> Employee:
    """Hires: the employee and their first post assignment, from the hire date."""
    return await _change(sessionmaker, caller, "employee", lambda org: org.create_employee(command))


async def update_employee(
    sessionmaker: async_sessionmaker[AsyncSession], command: EmployeeUpdateInput, caller: Caller
) -> Employee:
    """Changes an employee's name, e-mail or manager."""
    return await _change(sessionmaker, caller, "employee", lambda org: org.update_employee(command))


async def transfer_employee(
    sessionmaker: async_sessionmaker[AsyncSession], command: EmployeeTransferInput, caller: Caller
) -> Employee:
    """Moves an employee to another post and/or department from a date, keeping the history."""
    return await _change(sessionmaker, caller, "employee", lambda org: org.transfer_employee(command))


async def deactivate_employee(
    sessionmaker: async_sessionmaker[AsyncSession], command: EmployeeDeactivateInput, caller: Caller
) -> Employee:
    """A leaver: INACTIVE, their assignment closed on their last day; their results stay."""
    return await _change(sessionmaker, caller, "employee", lambda org: org.deactivate_employee(command))
