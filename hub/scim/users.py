"""Employees as SCIM Users and back: a row read into a resource, and a resource's changes made into the
``Organisation`` commands a GraphQL caller would send (hire, update, transfer, leaver)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from scim2_models import Email as BaseEmail
from scim2_models import Meta

from hub.db.models import Department, Post
from hub.domain import EmployeeStatus
from hub.operations import organisation as commands
from hub.operations.errors import InvalidInput
from hub.operations.org_changes import Organisation
from hub.scim.models import Email, EnterpriseUser, Manager, Name, PerfhubUser, ScimResource, UserResource

RESOURCE_TYPE = "User"


@dataclass(frozen=True, slots=True)
class EmployeeRow:
    """What a User shows of an employee: the row's columns, with its department's and post's codes."""

    id: int
    employee_no: str
    name: str
    given_name: str | None
    family_name: str | None
    email: str | None
    external_id: str | None
    status: EmployeeStatus
    hired_on: dt.date | None
    manager_id: int | None
    department_code: str
    post_code: str
    created_at: dt.datetime
    updated_at: dt.datetime


EMPLOYEE_FIELDS = tuple(
    name for name in EmployeeRow.__dataclass_fields__ if name not in ("department_code", "post_code")
)
"""The employee's own columns a User shows: read by SQL (``hub.scim.search``) or off the organisation's rows."""


def row_of(org: Organisation, employee_id: int) -> EmployeeRow:
    """An employee as the organisation of a write transaction holds it."""
    employee = org.employee(employee_id)
    return EmployeeRow(
        **{name: getattr(employee, name) for name in EMPLOYEE_FIELDS},
        department_code=org.departments[employee.department_id].code,
        post_code=org.posts[employee.post_id].code,
    )


def user_of(row: EmployeeRow) -> UserResource:
    """The User of an employee, its ``meta.version`` a digest of everything it shows (a change changes it)."""
    user = UserResource(
        id=str(row.id),
        external_id=row.external_id,
        user_name=row.employee_no,
        name=Name(formatted=row.name, given_name=row.given_name, family_name=row.family_name),
        active=row.status is EmployeeStatus.ACTIVE,
        emails=None if row.email is None else [Email(value=row.email, primary=True, type=BaseEmail.Type.work)],
    )
    manager = None
    if row.manager_id is not None:
        manager = Manager(value=str(row.manager_id))
    user[EnterpriseUser] = EnterpriseUser(
        employee_number=row.employee_no, department=row.department_code, manager=manager
    )
    user[PerfhubUser] = PerfhubUser(
        post=row.post_code, hire_date=None if row.hired_on is None else row.hired_on.isoformat()
    )
    user.meta = meta_of(user, RESOURCE_TYPE, row.created_at, row.updated_at)
    return user


def meta_of(resource: ScimResource, resource_type: str, created: dt.datetime, modified: dt.datetime) -> Meta:
    """A resource's ``meta``: its type, the row's timestamps, and as ``version`` a digest of everything the
    resource shows (so that any change of it changes the ETag, whichever column or row it came from)."""
    digest = hashlib.sha256(resource.model_dump_json(by_alias=True).encode()).hexdigest()[:20]
    return Meta(resource_type=resource_type, created=created, last_modified=modified, version=f'W/"{digest}"')


def invalid(message: str) -> InvalidInput:
    """Bad input, as the organisation's own checks raise it (answered 400 invalidValue)."""
    return InvalidInput(message)


def scim_id(value: str | None, what: str) -> int:
    """A SCIM id of ours (the row id as a string); anything else names nobody."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise invalid(f"{what} {value!r} is not the id of a perfhub User")
    return int(value)


def name_of(user: UserResource) -> str | None:
    """``name.formatted``, else the given and family names joined."""
    if user.name is None:
        return None
    if user.name.formatted:
        return user.name.formatted
    parts = [part for part in (user.name.given_name, user.name.family_name) if part]
    return " ".join(parts) or None


def parts_of(user: UserResource) -> tuple[str | None, str | None]:
    """The given and family names sent, kept beside the name."""
    return (None, None) if user.name is None else (user.name.given_name, user.name.family_name)


async def keep_name_parts(org: Organisation, employee_id: int, parts: tuple[str | None, str | None]) -> None:
    """Stores the given and family names when they differ from the stored ones (no write otherwise)."""
    employee = org.employee(employee_id)
    if parts != (employee.given_name, employee.family_name):
        await org.set_name_parts(employee, *parts)


def email_of(user: UserResource) -> str | None:
    """The primary e-mail, else the first one (perfhub keeps one)."""
    emails = [email for email in user.emails or [] if email.value]
    primary = [email for email in emails if email.primary]
    chosen = primary or emails
    return chosen[0].value if chosen else None


def hire_date_of(extension: PerfhubUser | None, today: dt.date) -> dt.date:
    if extension is None or extension.hire_date is None:
        return today
    try:
        return dt.date.fromisoformat(extension.hire_date)
    except ValueError:
        raise invalid(f"hireDate {extension.hire_date!r} is not a date (YYYY-MM-DD)") from None


def manager_id_of(org: Organisation, extension: EnterpriseUser | None) -> int | None:
    if extension is None or extension.manager is None or extension.manager.value is None:
        return None
    return org.employee(scim_id(extension.manager.value, "manager"), "manager").id


def _coded(rows: Mapping[str, Department | Post], code: str | None, what: str) -> int | None:
    """The id of the department or post with ``code``; None for no code."""
    if code is None:
        return None
    row = rows.get(code)
    if row is None:
        raise invalid(f"no {what} has the code {code!r}")
    return row.id


def department_id_of(org: Organisation, extension: EnterpriseUser | None) -> int | None:
    return _coded(org.department_codes, None if extension is None else extension.department, "department")


def post_id_of(org: Organisation, extension: PerfhubUser | None) -> int | None:
    return _coded(org.post_codes, None if extension is None else extension.post, "post")


def hire_command(org: Organisation, user: UserResource, today: dt.date) -> commands.EmployeeCreateInput:
    """A POST /Users as the hire the ``employeeCreate`` mutation would make."""
    enterprise, perfhub = user[EnterpriseUser], user[PerfhubUser]
    name = name_of(user)
    if name is None:
        raise invalid("a hire needs a name (name.formatted, or givenName and familyName)")
    if user.active is False:
        raise invalid("a new User is active: perfhub hires people, a leaver is made by setting active to false")
    post = post_id_of(org, perfhub)
    if post is None:
        raise invalid(f"a hire needs a post: set {PerfhubUser.__schema__}:post to a post's code")
    return commands.EmployeeCreateInput(
        employee_no=user.user_name or "",
        name=name,
        email=email_of(user),
        hired_on=hire_date_of(perfhub, today),
        post_id=post,
        department_id=department_id_of(org, enterprise),
        manager_id=manager_id_of(org, enterprise),
    )


@dataclass(frozen=True, slots=True)
class Changes:
    """What a PUT or PATCH changes of an employee, as the commands of the mutations; none when unchanged."""

    update: commands.EmployeeUpdateInput | None
    transfer: commands.EmployeeTransferInput | None
    leaver: commands.EmployeeDeactivateInput | None
    external_id: tuple[str | None] | None  # set (or cleared) when it changed
    name_parts: tuple[str | None, str | None]  # given and family names, kept as sent


def changes_of(org: Organisation, before: UserResource, after: UserResource, today: dt.date) -> Changes:
    """The commands that take the employee from ``before`` (as stored) to ``after`` (the whole new state)."""
    employee = org.employee(int(before.id or 0))
    new_enterprise, new_perfhub = after[EnterpriseUser], after[PerfhubUser]
    name = name_of(after)
    if name is None:
        raise invalid("a User keeps a name: name.formatted cannot be removed")
    email, old_email = email_of(after), email_of(before)
    old_manager = employee.manager_id
    # Without the enterprise extension at all (a provider that does not map it), the manager stays.
    manager = old_manager if new_enterprise is None else manager_id_of(org, new_enterprise)
    hired_on = hire_date_of(new_perfhub, today) if new_perfhub and new_perfhub.hire_date else employee.hired_on
    update = None
    if (name, email, manager, hired_on) != (employee.name, old_email, old_manager, employee.hired_on):
        update = commands.EmployeeUpdateInput(
            employee_id=employee.id,
            name=name if name != employee.name else None,
            email=email if email != old_email else None,
            clear_email=email is None and old_email is not None,
            manager_id=manager if manager != old_manager else None,
            clear_manager=manager is None and old_manager is not None,
            hired_on=hired_on if hired_on != employee.hired_on else None,
        )
    transfer = None
    # An employee always holds a post in a department: left out (a PUT from a provider that does not map them,
    # a PATCH remove), they stay as they are. So do the hire date and ``active``.
    post = post_id_of(org, new_perfhub) or employee.post_id
    department = department_id_of(org, new_enterprise) or employee.department_id
    if (post, department) != (employee.post_id, employee.department_id):
        transfer = commands.EmployeeTransferInput(
            employee_id=employee.id,
            effective_date=today,
            post_id=post if post != employee.post_id else None,
            department_id=department,
        )
    leaver = None
    if before.active and after.active is False:
        leaver = commands.EmployeeDeactivateInput(employee_id=employee.id, left_on=today)
    elif not before.active and after.active:
        raise invalid(f"employee {employee.employee_no} has left; perfhub does not re-activate a leaver (hire anew)")
    external_id = (after.external_id,) if after.external_id != before.external_id else None
    return Changes(update=update, transfer=transfer, leaver=leaver, external_id=external_id, name_parts=parts_of(after))


async def apply(org: Organisation, employee_id: int, changes: Changes) -> None:
    """Makes the changes through the organisation's methods: master data, the move, then the leaver."""
    if changes.external_id is not None:
        await org.set_external_id(org.employee(employee_id), changes.external_id[0])
    if changes.update is not None:
        await org.update_employee(changes.update)  # a new name clears the parts, set again just below
    await keep_name_parts(org, employee_id, changes.name_parts)
    if changes.transfer is not None:
        await org.transfer_employee(changes.transfer)
    if changes.leaver is not None:
        await org.deactivate_employee(changes.leaver)
