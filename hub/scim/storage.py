"""perfhub's employees and departments as scim2-server's storage of Users and (read-only) Groups: reads in a
session of their own, every write one transaction through the ``Organisation`` methods, audited like the
organisation mutations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import cast

from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ResourceType,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    UniquenessException,
)
from scim2_server.errors import MethodNotAllowedException
from scim2_server.storage import AsyncScimStorage, SearchPage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Department, Employee
from hub.operations.audit import AuditRecorder, audit_change, audit_failure
from hub.operations.errors import DuplicateCode, OperationError
from hub.operations.org_changes import Organisation
from hub.scim.groups import READ_ONLY, department_rows, read_groups
from hub.scim.groups import RESOURCE_TYPE as GROUP
from hub.scim.models import ScimResource, UserResource
from hub.scim.search import read_users, search, user_rows
from hub.scim.users import apply, changes_of, hire_command, keep_name_parts, parts_of, row_of, user_of

USER_METHODS = ("GET", "POST", "PUT", "PATCH")


def _scim_error(error: OperationError) -> SCIMException:
    """An operation's refusal as SCIM answers it: a taken value 409 uniqueness, anything else 400 invalidValue
    (an id in the payload that names nothing is a bad value there, not a missing resource)."""
    if isinstance(error, DuplicateCode):
        return UniquenessException(detail=error.message)
    return InvalidValueException(detail=error.message)


def _read_only(resource_type: ResourceType) -> None:
    """Groups are departments, which identity providers read and never write (``app.PerfhubScimService``
    refuses it first; this is the storage's own guard)."""
    if resource_type.name == GROUP:
        raise MethodNotAllowedException(allowed=["GET"], detail=READ_ONLY)


class OrganisationStorage(AsyncScimStorage):
    """The Users (employees) and Groups (departments) of one request: ``audit`` names who asks, ``today`` dates
    hires, moves and leavers."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: Callable[[str], AuditRecorder],
        today: dt.date,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.audit = audit
        self.today = today

    async def _user(self, employee_id: int) -> UserResource | None:
        async with self.sessionmaker() as session:
            found = await read_users(session, user_rows().where(Employee.id == employee_id))
        return found[0] if found else None

    async def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[ScimResource] | None = None,
    ) -> ScimResource:
        missing = NotFoundException(detail=f"no {resource_type.name} {resource_id!r}")
        if not resource_id.isascii() or not resource_id.isdigit() or len(resource_id) > 18:
            raise missing
        found: ScimResource | None
        if resource_type.name == GROUP:
            async with self.sessionmaker() as session:
                groups = await read_groups(session, department_rows().where(Department.id == int(resource_id)))
            found = groups[0] if groups else None
        else:
            found = await self._user(int(resource_id))
        if found is None:
            raise missing
        return found

    async def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[ScimResource],
        *,
        position: object = None,
    ) -> SearchPage:
        """Filters and pages in SQL what ``hub.scim.filters`` translates, the rest in memory (``hub.scim.search``)."""
        async with self.sessionmaker() as session:
            return await search(session, resource_types, search_request)

    async def create(self, resource_type: ResourceType, resource: ScimResource) -> ScimResource:
        """A hire (``employeeCreate``), and the identity provider's id when it sent one."""
        _read_only(resource_type)

        async def hire(org: Organisation) -> int:
            user = _user(resource)
            employee = await org.create_employee(hire_command(org, user, self.today))
            await keep_name_parts(org, employee.id, parts_of(user))
            if user.external_id is not None:
                await org.set_external_id(employee, user.external_id)
            return employee.id

        return await self._write("scim.createUser", hire)

    async def update(
        self,
        resource_type: ResourceType,
        resource: ScimResource,
        *,
        expected_version: str | None = None,
    ) -> ScimResource:
        """A PUT or PATCH, already applied to the stored User by scim2-server, as the mutations' changes:
        ``employeeUpdate``, ``employeeTransfer`` from today, ``employeeDeactivate`` on ``active: false``."""
        _read_only(resource_type)
        after = _user(resource)
        employee_id = _id(after.id)

        async def change(org: Organisation) -> int:
            if employee_id not in org.employees:
                raise NotFoundException(detail=f"no User {after.id!r}")
            before = user_of(row_of(org, employee_id))
            if expected_version is not None and before.meta is not None and before.meta.version != expected_version:
                raise PreconditionFailedException(detail="the User changed since it was read")
            await apply(org, employee_id, changes_of(org, before, after, self.today))
            return employee_id

        return await self._write("scim.updateUser", change)

    async def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """perfhub never deletes a person, whose results it keeps: a leaver is ``active: false``."""
        _read_only(resource_type)
        raise MethodNotAllowedException(
            allowed=USER_METHODS, detail="perfhub keeps its people and their results: set active to false for a leaver"
        )

    async def _write(self, operation: str, work: Callable[[Organisation], Awaitable[int]]) -> UserResource:
        """One transaction under the organisation's lock, audited as ``employee:<id>``; a refusal audited too."""
        audit = self.audit(operation)

        async def run() -> int:
            async with self.sessionmaker() as session, session.begin():
                employee_id = await work(await Organisation.load(session))
                await audit_change(session, audit, f"employee:{employee_id}")
            return employee_id

        try:
            employee_id = await audit_failure(audit, self.sessionmaker, run())
        except OperationError as error:
            raise _scim_error(error) from None
        found = await self._user(employee_id)
        assert found is not None  # just written, and nobody deletes an employee
        return found


def _user(resource: ScimResource) -> UserResource:
    """The resource scim2-server validated, as perfhub's User (it is one: the provider builds it so)."""
    if resource.__class__ is UserResource:
        return cast(UserResource, resource)
    return UserResource.model_validate(resource.model_dump(by_alias=True))


def _id(value: str | None) -> int:
    if value is None or not value.isdigit():
        raise NotFoundException(detail=f"no User {value!r}")
    return int(value)
