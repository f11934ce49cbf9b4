"""Searching Users and Groups in SQL (hub/scim/search.py, hub/scim/filters.py): the same answers as
scim2-models' own evaluation over every resource, in a count and a page instead of a read of everyone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from scim2_models import ResourceType, ScimFilter, SearchRequest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.models import Employee
from hub.demo.organisation import SeedSummary
from hub.domain import EmployeeStatus
from hub.scim import search as scim_search
from hub.scim.filters import translate
from hub.scim.models import EnterpriseUser, Group, PerfhubUser, UserResource, provider
from hub.scim.search import read_users, user_rows
from hub.scim.storage import OrganisationStorage
from hub.scim.users import user_of
from tests.conftest import TODAY, StatementCounter

Sessions = async_sessionmaker[AsyncSession]
ENTERPRISE, PERFHUB = str(EnterpriseUser.__schema__), str(PerfhubUser.__schema__)
BULK = 2000
EARLY = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
"""When the untouched rows were last changed, in these tests: before every change they make."""

CHANGED: dict[int, dict[str, Any]] = {
    3: {"email": "Ada.Lovelace@Example.org", "external_id": "idp-AbC", "given_name": "Ada", "family_name": "Lovelace"},
    4: {"email": "bob@example.org", "external_id": "idp-42", "name": "Zoë Æsir"},
    5: {"status": EmployeeStatus.INACTIVE, "left_on": TODAY},
    6: {"email": "100%_sure@example.org", "external_id": "idp-abc"},
}
"""Rows given what the filters below look for (mixed case, wildcards of LIKE, a leaver, a non-ASCII name)."""

FILTERS = [
    'userName eq "E0003"',
    'userName eq "e0003"',
    'userName ne "E0003"',
    'userName sw "e001"',
    'userName co "00"',
    'userName ew "7"',
    "userName pr",
    'externalId eq "idp-abc"',
    'externalId eq "idp-AbC"',
    'externalId ne "idp-42"',
    "externalId pr",
    'externalId sw "idp"',
    'emails.value eq "ada.lovelace@example.org"',
    'emails eq "BOB@example.org"',
    'emails[type eq "work"].value eq "bob@example.org"',
    'emails[type eq "work" and value eq "ADA.LOVELACE@EXAMPLE.ORG"]',
    'emails[type eq "home"]',
    'emails[type eq "work"]',
    "emails.primary eq true",
    'emails.value co "%_s"',
    'emails.value ne "bob@example.org"',
    "emails pr",
    "active eq false",
    'active eq true and userName sw "E000"',
    "active ne true",
    'id eq "3"',
    'id eq "03"',
    'id eq "x"',
    'id ne "3" and id ne "4" and userName sw "E000"',
    'name.givenName eq "ADA"',
    "name.familyName pr",
    'name.formatted eq "Zoë Æsir"',
    'name.formatted co "ë"',
    'name.formatted sw "zo"',
    f'{ENTERPRISE}:employeeNumber eq "E0004"',
    f'{ENTERPRISE}:manager.value eq "1"',
    f'{ENTERPRISE}:department eq "{{department}}"',
    f'{PERFHUB}:post eq "{{post}}"',
    f'{PERFHUB}:hireDate pr and userName eq "E0003"',
    'userName eq "E0003" or userName eq "E0004" or externalId eq "idp-42"',
    'not (userName eq "E0003") and userName sw "E000"',
    'meta.lastModified gt "2021-01-01T00:00:00Z"',
    'meta.lastModified le "2021-01-01T00:00:00+01:00"',
    'meta.created le "2021-01-01T00:00:00Z" and active eq true',
    'meta.lastModified gt "2021-01-01T00:00:00"',
]

FIND_NOBODY = {'emails[type eq "home"]', 'id eq "03"', 'id eq "x"', 'meta.lastModified gt "2021-01-01T00:00:00"'}
"""The filters above that match nobody: an e-mail is work, an id is canonical, a time without a zone is no time."""


@pytest.fixture
async def organisation(sessionmaker: Sessions, seeded: SeedSummary) -> dict[str, str]:
    """The demo numbered ``E<id>``, with the ``CHANGED`` rows, every row last changed ``EARLY`` but those; the
    codes of employee 1."""
    async with sessionmaker() as session, session.begin():
        ids = (await session.scalars(select(Employee.id))).all()
        await session.execute(update(Employee), [{"id": key, "employee_no": f"E{key:04}"} for key in ids])
        await session.execute(update(Employee).values(created_at=EARLY, updated_at=EARLY))
        for employee_id, values in CHANGED.items():
            await session.execute(update(Employee).where(Employee.id == employee_id).values(**values))
    async with sessionmaker() as session:
        first = (await read_users(session, user_rows().where(Employee.id == 1)))[0]
    enterprise, perfhub = first[EnterpriseUser], first[PerfhubUser]
    assert enterprise is not None and enterprise.department and perfhub is not None and perfhub.post
    return {"department": enterprise.department, "post": perfhub.post}


def storage(sessionmaker: Sessions) -> OrganisationStorage:
    def no_audit(operation: str) -> Any:
        raise AssertionError("a search writes nothing")

    return OrganisationStorage(sessionmaker, no_audit, TODAY)


def resource_type(name: str) -> ResourceType:
    return next(each for each in provider().resource_types or [] if each.name == name)


def request(scim_filter: str | None, **paging: int) -> SearchRequest[Any]:
    """A search as a client sends it (``startIndex``, ``count``)."""
    return SearchRequest.model_validate({"filter": scim_filter, **paging} if scim_filter else paging)


async def found(sessionmaker: Sessions, scim_filter: str | None, **paging: int) -> tuple[int | None, list[str]]:
    page = await storage(sessionmaker).search([resource_type("User")], request(scim_filter, **paging))
    return page.total, [resource.id or "" for resource in page.resources]


@pytest.fixture
def counter(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counting = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counting)
    yield counting
    event.remove(engine.sync_engine, "before_cursor_execute", counting)


@pytest.fixture
def users_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the employees a search read into Users: every row it fetched."""
    built: list[int] = []
    make = user_of

    def counted(row: Any) -> UserResource:
        built.append(row.id)
        return make(row)

    monkeypatch.setattr(scim_search, "user_of", counted)
    return built


async def test_every_filter_answers_what_the_library_answers_in_memory(
    sessionmaker: Sessions, organisation: dict[str, str]
) -> None:
    """Each filter an identity provider may send finds exactly the Users scim2-models' own ``match`` finds over
    every User, whether it ran in SQL, partly in SQL or in memory."""
    async with sessionmaker() as session:
        everyone = await read_users(session, user_rows())
    for text in FILTERS:
        expression = text.format(**organisation)
        expected = [user.id for user in everyone if ScimFilter[UserResource](expression).match(user)]
        total, ids = await found(sessionmaker, expression, count=200)
        assert (total, ids) == (len(expected), expected), expression
        assert bool(expected) is (text not in FIND_NOBODY), expression
    assert (await found(sessionmaker, 'userName eq "e0003"'))[1] == ["3"]  # the case of userName is not kept
    assert (await found(sessionmaker, 'externalId eq "idp-abc"'))[1] == ["6"]  # that of externalId is


@pytest.mark.parametrize(
    ("expression", "exact"),
    [
        ('userName eq "E0003"', True),
        ('emails[type eq "work"].value eq "bob@example.org" and active eq true', True),
        ('meta.lastModified gt "2021-01-01T00:00:00Z"', True),
        (f'userName eq "E0003" and {PERFHUB}:hireDate pr', False),
        ('name.formatted eq "Zoë Æsir"', None),
        ('not (userName eq "E0003")', None),
    ],
)
def test_what_is_translated(expression: str, exact: bool | None) -> None:
    """Exact translations, an ``and`` with a term left to memory (inexact), and filters not translated at all."""
    translated = translate(ScimFilter[UserResource](expression), scim_search.USERS)
    assert (None if translated is None else translated.exact) is exact


async def test_a_lookup_among_thousands_reads_one_row_in_two_statements(
    sessionmaker: Sessions,
    organisation: dict[str, str],
    counter: StatementCounter,
    users_built: list[int],
) -> None:
    """In an organisation of over 2,000 people, a ``userName eq`` lookup (Entra's and Okta's first request)
    and an ``externalId eq`` one each run a count and a page and read the one row found; a page of a list
    reads its page; a filter left to memory reads everyone (the fallback, said in the README)."""
    async with sessionmaker() as session, session.begin():
        template = (await session.execute(select(Employee.department_id, Employee.post_id).limit(1))).one()
        rows = [
            {"employee_no": f"BULK-{n:05}", "name": f"Bulk {n}", "department_id": template[0], "post_id": template[1]}
            for n in range(BULK)
        ]
        await session.execute(insert(Employee), rows)
        everyone = len((await session.scalars(select(Employee.id))).all())
    assert everyone > BULK

    for expression, expected in (('userName eq "BULK-01234"', 1), ('externalId eq "idp-42"', 1)):
        counter.reset()
        users_built.clear()
        total, ids = await found(sessionmaker, expression)
        assert total == expected and len(ids) == expected
        assert len(users_built) == expected, expression
        assert counter.count == 2, counter.statements  # the count, and the page

    counter.reset()
    users_built.clear()
    total, ids = await found(sessionmaker, None, startIndex=101, count=50)
    assert total == everyone and len(ids) == 50 and ids[0] == "101"
    assert len(users_built) == 50 and counter.count == 2

    users_built.clear()
    total, ids = await found(sessionmaker, 'not (userName ne "BULK-01234")')
    assert total == 1 and len(users_built) == everyone


async def test_groups_are_filtered_and_paged_in_sql(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A Group looked up by its code reads one department and its members: three statements."""
    every = await storage(sessionmaker).search([resource_type("Group")], request(None, count=200))
    assert every.total == seeded.departments and len(every.resources) == seeded.departments
    one = every.resources[1]
    assert isinstance(one, Group) and one.external_id is not None and one.display_name is not None
    for expression in (f'externalId eq "{one.external_id}"', f'displayName eq "{one.display_name.upper()}"'):
        page = await storage(sessionmaker).search([resource_type("Group")], request(expression))
        assert page.total == 1 and page.resources == [one], expression
    translated = translate(ScimFilter[Group]('displayName eq "x"'), scim_search.GROUPS)
    assert translated is not None and translated.exact
