"""Departments as SCIM Groups, read-only: ``externalId`` is the department's code, the members its active
employees. Identity providers read them to map people; departments change by file or mutation."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from scim2_models import Meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Department, Employee
from hub.domain import EmployeeStatus
from hub.scim.models import Group, GroupMember

RESOURCE_TYPE = "Group"
READ_ONLY = "Groups are perfhub's departments: read-only here (perfhub import-org, the department mutations)"


async def read_groups(sessionmaker: async_sessionmaker[AsyncSession], department_id: int | None = None) -> list[Group]:
    """Every department (or the one of ``department_id``) with its active employees: two statements."""
    departments = select(Department.id, Department.code, Department.name).order_by(Department.id)
    people = (
        select(Employee.id, Employee.name, Employee.department_id)
        .where(Employee.status == EmployeeStatus.ACTIVE)
        .order_by(Employee.id)
    )
    if department_id is not None:
        departments = departments.where(Department.id == department_id)
        people = people.where(Employee.department_id == department_id)
    async with sessionmaker() as session:
        department_rows = (await session.execute(departments)).all()
        members: dict[int, list[GroupMember]] = defaultdict(list)
        for person in await session.execute(people):
            members[person.department_id].append(GroupMember(value=str(person.id), display=person.name, type="User"))
    return [_group(row.id, row.code, row.name, members[row.id]) for row in department_rows]


def _group(department_id: int, code: str, name: str, members: list[GroupMember]) -> Group:
    group = Group(id=str(department_id), external_id=code, display_name=name, members=members or None)
    digest = hashlib.sha256(group.model_dump_json(by_alias=True).encode()).hexdigest()[:20]
    group.meta = Meta(resource_type=RESOURCE_TYPE, version=f'W/"{digest}"')
    return group
