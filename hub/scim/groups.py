"""Departments as SCIM Groups, read-only: ``externalId`` is the department's code, the members its active
employees. Identity providers read them to map people; departments change by file or mutation."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Department, Employee
from hub.domain import EmployeeStatus
from hub.scim.models import Group, GroupMember
from hub.scim.users import meta_of

Rows = Select[*tuple[Any, ...]]  # untyped columns: Users and Groups select different ones, read by name
"""A statement of rows of any columns (what a reader is given, filtered and paged)."""

RESOURCE_TYPE = "Group"
READ_ONLY = "Groups are perfhub's departments: read-only here (perfhub import-org, the department mutations)"


def department_rows() -> Rows:
    """The departments' columns a Group shows, by id (the order of pages)."""
    columns = (Department.id, Department.code, Department.name, Department.created_at, Department.updated_at)
    return select(*columns).order_by(Department.id)


async def read_groups(session: AsyncSession, departments: Rows) -> list[Group]:
    """The departments ``departments`` selects (``department_rows``, filtered, paged), with their active
    employees: two statements."""
    department_rows = (await session.execute(departments)).all()
    people = (
        select(Employee.id, Employee.name, Employee.department_id)
        .where(
            Employee.status == EmployeeStatus.ACTIVE, Employee.department_id.in_([row.id for row in department_rows])
        )
        .order_by(Employee.id)
    )
    members: dict[int, list[GroupMember]] = defaultdict(list)
    for person in await session.execute(people):
        members[person.department_id].append(GroupMember(value=str(person.id), display=person.name, type="User"))
    groups = []
    for row in department_rows:
        group = Group(id=str(row.id), external_id=row.code, display_name=row.name, members=members[row.id] or None)
        group.meta = meta_of(group, RESOURCE_TYPE, row.created_at, row.updated_at)
        groups.append(group)
    return groups
