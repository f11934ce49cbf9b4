"""Organisation master data: departments, posts, employees (hires, changes, transfers, leavers), CSV import."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from hub.db.models import Department as DepartmentRow
from hub.db.models import Employee as EmployeeModel
from hub.db.models import Post as PostRow
from hub.domain import ErrorKind
from hub.operations import org_import, organisation
from hub.operations.commands import Caller
from hub.operations.org_import import EmployeeImportCounts, ImportCounts, OrganisationImport, OrganisationImported
from resolvers.context import Context
from resolvers.records import EmployeeRow
from schema import fields
from schema.errors import payload
from schema.info import Info
from schema.mutations.declare import mutation
from schema.organisation import Department, Employee, Post
from schema.permissions import HR_ONLY
from schema.values import object_type

object_type(
    ImportCounts,
    name="ImportCounts",
    description="How many of one kind an organisation import created, changed, or found as stored.",
)
object_type(
    EmployeeImportCounts,
    name="EmployeeImportCounts",
    description="Every row of an organisation import is one employee: created, updated or unchanged.",
    fields={
        "transferred": "Of the updated, those whose post or department changed, from the row's effective date.",
        "deactivated": "Of the updated, the leavers: active employees the file marks INACTIVE.",
    },
)
object_type(
    OrganisationImported,
    name="OrganisationImported",
    description="What an organisation import stored (or, in a dry run, would store).",
    fields={"dry_run": "True when nothing was stored."},
)


@strawberry.type(description="The department as it was stored.")
class DepartmentChanged:
    department: DepartmentRow = strawberry.field(graphql_type=Department)


@strawberry.type(description="The post as it was stored.")
class PostChanged:
    post: PostRow = strawberry.field(graphql_type=Post)


@strawberry.type(description="The employee as they were stored.")
class EmployeeChanged:
    employee_id: strawberry.Private[int]

    @fields.field(graphql_type=Employee | None)
    async def employee(self, info: Info) -> EmployeeRow | None:
        return await info.context.loaders.employee_by_id.load(self.employee_id)


async def _employee_changed(change: Awaitable[EmployeeModel]) -> EmployeeChanged:
    return EmployeeChanged(employee_id=(await change).id)


DepartmentPayload = payload("DepartmentPayload", DepartmentChanged)
PostPayload = payload("PostPayload", PostChanged)
EmployeePayload = payload("EmployeePayload", EmployeeChanged)
OrganisationImportPayload = payload("OrganisationImportPayload", OrganisationImported, ErrorKind.IMPORT_REJECTED)


@mutation(HR_ONLY, DepartmentPayload)
async def department_create(
    context: Context, command: organisation.DepartmentCreateInput, caller: Caller
) -> DepartmentChanged:
    """Creates a department, at the root or under a parent."""
    return DepartmentChanged(department=await organisation.create_department(context.sessionmaker, command, caller))


@mutation(HR_ONLY, DepartmentPayload)
async def department_update(
    context: Context, command: organisation.DepartmentUpdateInput, caller: Caller
) -> DepartmentChanged:
    """Renames a department or moves it in the tree (never under itself: CIRCULAR_REFERENCE)."""
    return DepartmentChanged(department=await organisation.update_department(context.sessionmaker, command, caller))


@mutation(HR_ONLY, PostPayload)
async def post_create(context: Context, command: organisation.PostCreateInput, caller: Caller) -> PostChanged:
    """Creates a post in a family and a department."""
    return PostChanged(post=await organisation.create_post(context.sessionmaker, command, caller))


@mutation(HR_ONLY, PostPayload)
async def post_update(context: Context, command: organisation.PostUpdateInput, caller: Caller) -> PostChanged:
    """Renames a post, or changes its family or department; results keep the post they were scored in."""
    return PostChanged(post=await organisation.update_post(context.sessionmaker, command, caller))


@mutation(HR_ONLY, EmployeePayload)
async def employee_create(
    context: Context, command: organisation.EmployeeCreateInput, caller: Caller
) -> EmployeeChanged:
    """Hires an employee: their first post assignment starts on the hire date."""
    return await _employee_changed(organisation.create_employee(context.sessionmaker, command, caller))


@mutation(HR_ONLY, EmployeePayload)
async def employee_update(
    context: Context, command: organisation.EmployeeUpdateInput, caller: Caller
) -> EmployeeChanged:
    """Changes an employee's name, e-mail, hire date or manager (never one who reports to them: CIRCULAR_REFERENCE)."""
    return await _employee_changed(organisation.update_employee(context.sessionmaker, command, caller))


@mutation(HR_ONLY, EmployeePayload)
async def employee_transfer(
    context: Context, command: organisation.EmployeeTransferInput, caller: Caller
) -> EmployeeChanged:
    """Moves an employee to another post and/or department from a date: the current assignment ends the day
    before, the next starts on it; the history and the results scored in the old post stay."""
    return await _employee_changed(organisation.transfer_employee(context.sessionmaker, command, caller))


@mutation(HR_ONLY, EmployeePayload)
async def employee_deactivate(
    context: Context, command: organisation.EmployeeDeactivateInput, caller: Caller
) -> EmployeeChanged:
    """A leaver: INACTIVE at once, their assignment ends on their last day; their results stay, and they take
    part only in cycles whose period they work to the end (leftOn on or after its last day)."""
    return await _employee_changed(organisation.deactivate_employee(context.sessionmaker, command, caller))


@mutation(HR_ONLY, OrganisationImportPayload, arguments=True)
async def organisation_import(context: Context, command: OrganisationImport, caller: Caller) -> OrganisationImported:
    """Imports departments, posts and employees from CSV (one row per employee; see the README): all rows
    or none, every problem with its line; idempotent by employee number."""
    return await org_import.import_organisation(context.sessionmaker, command, caller)
