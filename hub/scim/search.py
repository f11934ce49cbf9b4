"""Reading and searching Users and Groups: filters and pages in SQL where ``hub.scim.filters`` translates the
filter, the library's own evaluation in memory where it does not.

A search of one resource type whose filter translates exactly (or that has none) costs two statements, a
count and a page (three for Groups: their members); a filter that translates in part reads the rows its SQL
selects and evaluates the whole filter over them; one that does not translate at all, and a search at the
root (``/.search``, Users and Groups together), read every row of the types searched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Union

from scim2_models import Email, ResourceType, ScimFilter, SearchRequest
from scim2_models.path import CompareOperator
from scim2_server.storage import SearchPage
from scim2_server.utils import parametrize
from sqlalchemy import false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Department, Employee, Post
from hub.domain import EmployeeStatus
from hub.scim.filters import Attributes, Condition, Translated, id_condition, translate
from hub.scim.groups import RESOURCE_TYPE as GROUP
from hub.scim.groups import Rows, department_rows, read_groups
from hub.scim.models import EnterpriseUser, Group, PerfhubUser, ScimResource, UserResource
from hub.scim.users import EMPLOYEE_FIELDS, EmployeeRow, user_of

Reader = Callable[[AsyncSession, Rows], Awaitable[Sequence[ScimResource]]]


def user_rows() -> Rows:
    """The columns a User shows (``EmployeeRow``), by id (the order of pages)."""
    return (
        select(
            *(getattr(Employee, name) for name in EMPLOYEE_FIELDS),
            Department.code.label("department_code"),
            Post.code.label("post_code"),
        )
        .join(Department, Department.id == Employee.department_id)
        .join(Post, Post.id == Employee.post_id)
        .order_by(Employee.id)
    )


async def read_users(session: AsyncSession, statement: Rows) -> list[UserResource]:
    return [user_of(EmployeeRow(**row._mapping)) for row in await session.execute(statement)]


def _active(op: CompareOperator, value: object) -> Condition | None:
    if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, bool):
        return None
    active = value if op is CompareOperator.eq else not value
    return Employee.status == EmployeeStatus.ACTIVE if active else Employee.status != EmployeeStatus.ACTIVE


def _email_is(answer: object) -> Callable[[CompareOperator, object], Condition | None]:
    """``emails.type`` and ``emails.primary``: perfhub's one e-mail is always ``work`` and primary."""

    def compare(op: CompareOperator, value: object) -> Condition | None:
        if op is not CompareOperator.eq:
            return None
        return Employee.email.is_not(None) if value == answer else false()

    return compare


CORE_USER, CORE_GROUP = str(UserResource.__schema__), str(Group.__schema__)
ENTERPRISE, PERFHUB = str(EnterpriseUser.__schema__), str(PerfhubUser.__schema__)

USERS = Attributes(
    strings={
        (CORE_USER, "user_name", None): Employee.employee_no,
        (CORE_USER, "external_id", None): Employee.external_id,
        (CORE_USER, "name", "formatted"): Employee.name,
        (CORE_USER, "name", "given_name"): Employee.given_name,
        (CORE_USER, "name", "family_name"): Employee.family_name,
        (CORE_USER, "emails", "value"): Employee.email,
        (ENTERPRISE, "employee_number", None): Employee.employee_no,
        (ENTERPRISE, "department", None): Department.code,
        (PERFHUB, "post", None): Post.code,
    },
    timestamps={
        (CORE_USER, "meta", "created"): Employee.created_at,
        (CORE_USER, "meta", "last_modified"): Employee.updated_at,
    },
    specials={
        (CORE_USER, "id", None): id_condition(Employee.id),
        (CORE_USER, "active", None): _active,
        (CORE_USER, "emails", "type"): _email_is(Email.Type.work),
        (CORE_USER, "emails", "primary"): _email_is(True),
        (ENTERPRISE, "manager", "value"): id_condition(Employee.manager_id),
    },
    multivalued={"emails": Employee.email},
)
"""The User attributes a filter can name in SQL (``hireDate``, a text, is compared as one: left in memory)."""

GROUPS = Attributes(
    strings={
        (CORE_GROUP, "external_id", None): Department.code,
        (CORE_GROUP, "display_name", None): Department.name,
    },
    timestamps={
        (CORE_GROUP, "meta", "created"): Department.created_at,
        (CORE_GROUP, "meta", "last_modified"): Department.updated_at,
    },
    specials={(CORE_GROUP, "id", None): id_condition(Department.id)},
)


@dataclass(frozen=True, slots=True)
class Searched:
    """How one resource type is searched: its model, its rows, how they are read, what SQL knows of them."""

    model: type[ScimResource]
    rows: Callable[[], Rows]
    read: Reader
    attributes: Attributes


SEARCHED = {
    GROUP: Searched(Group, department_rows, read_groups, GROUPS),
    "User": Searched(UserResource, user_rows, read_users, USERS),
}


async def search(
    session: AsyncSession, resource_types: list[ResourceType], search_request: SearchRequest[ScimResource]
) -> SearchPage:
    """A page of the resources of ``resource_types`` the request's filter matches, by id."""
    searched = [SEARCHED[resource_type.name or ""] for resource_type in resource_types]
    text = search_request.filter
    start, count = search_request.start_index_0 or 0, search_request.count
    if len(searched) != 1:  # the root: Users and Groups together, in memory
        resources = [resource for each in searched for resource in await each.read(session, each.rows())]
        return _page(_matching(resources, _bound(text, [each.model for each in searched])), start, count)
    (one,) = searched
    scim_filter = _bound(text, [one.model])
    translated = Translated(true(), exact=True) if scim_filter is None else translate(scim_filter, one.attributes)
    if translated is None:
        return _page(_matching(await one.read(session, one.rows()), scim_filter), start, count)
    statement = one.rows().where(translated.condition)
    if not translated.exact:  # a superset: the library decides
        return _page(_matching(await one.read(session, statement), scim_filter), start, count)
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    if count is not None:
        statement = statement.limit(count)
    resources = list(await one.read(session, statement.offset(start))) if count != 0 else []
    return SearchPage(total=total or 0, resources=resources)


def _bound(text: str | None, models: list[type[ScimResource]]) -> ScimFilter[ScimResource] | None:
    if text is None:
        return None
    return parametrize(ScimFilter, Union[tuple(models)])(str(text))  # noqa: UP007


def _matching(resources: Sequence[ScimResource], scim_filter: ScimFilter[ScimResource] | None) -> list[ScimResource]:
    return [resource for resource in resources if scim_filter is None or scim_filter.match(resource)]


def _page(found: list[ScimResource], start: int, count: int | None) -> SearchPage:
    stop = None if count is None else start + count
    return SearchPage(total=len(found), resources=found[start:stop])
