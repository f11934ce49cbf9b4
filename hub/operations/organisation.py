"""Organisation master data: departments (a tree), posts, employees and their post assignments.

Every change goes through :class:`hub.operations.org_changes.Organisation`, which holds the rules (unique
codes, employee numbers and e-mails, no loop in the department tree or the manager chain, an assignment
history that a transfer or a leaver extends and never rewrites). The operations here are its entry points
for one change each, as the API declares them; the CSV import (``hub.operations.org_import``) applies a
whole file through the same object in one transaction, and so does provisioning by SCIM (``hub.scim``).

A transfer closes the current post assignment the day before its effective date and opens the next one;
results keep the post they were scored in (``appraisal_results.post_id``). A leaver is INACTIVE once
recorded: their assignment ends on ``left_on``, their results stay, and they take part only in cycles whose
period ends by ``left_on`` (``hub.operations.participation.employed_on``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


C = TypeVar("C")
K = TypeVar("K", bound=Keyed)


def _operation(
    kind: str, change: Callable[[Organisation, C], Awaitable[K]]
) -> Callable[[async_sessionmaker[AsyncSession], C, Caller], Awaitable[K]]:
    """The operation of one change: one transaction under the organisation's lock, audited as ``kind:id``."""

    async def operation(sessionmaker: async_sessionmaker[AsyncSession], command: C, caller: Caller) -> K:
        async with sessionmaker() as session, session.begin():
            changed = await change(await Organisation.load(session), command)
            await audit_change(session, caller.audit, f"{kind}:{changed.id}")
        return changed

    operation.__doc__ = change.__doc__
    return operation


# The operations, as the mutations (and provisioning) call them: (sessionmaker, command, caller) -> the row.
create_department = _operation("department", Organisation.create_department)
update_department = _operation("department", Organisation.update_department)
create_post = _operation("post", Organisation.create_post)
update_post = _operation("post", Organisation.update_post)
create_employee = _operation("employee", Organisation.create_employee)
update_employee = _operation("employee", Organisation.update_employee)
transfer_employee = _operation("employee", Organisation.transfer_employee)
deactivate_employee = _operation("employee", Organisation.deactivate_employee)
