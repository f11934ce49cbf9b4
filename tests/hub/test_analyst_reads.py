"""Analysts' reads: through a read replica when one is set (PERFHUB_READ_DATABASE_URL), under their own statement
timeout (PERFHUB_ANALYST_STATEMENT_TIMEOUT_SECONDS), answered STATEMENT_TIMEOUT when it is hit (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import func, make_url, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import WebSocketRoute

import resolvers.cycles
from hub import policy
from hub.app import PerfhubGraphQL, create_app
from hub.auth import Grant, Principal, Role, issue_token
from hub.db.engine import DatabaseTimeouts, create_read_only_engine, create_sessionmaker
from hub.db.models import AuditEntry, Department
from resolvers.context import Context
from resolvers.records import CycleRow
from tests.conftest import TODAY, _admin, make_settings, opened_engine, serving

REPLICA_NAME = "Read from the replica"


@pytest.fixture
async def replica_url(postgresql_url: str) -> AsyncIterator[str]:
    """A second PostgreSQL database, a copy of the test's one, with one department renamed in it only."""
    url = make_url(postgresql_url)
    name = f"{url.database}_replica"
    await _admin(postgresql_url, f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    replica = url.set(database=name).render_as_string(hide_password=False)
    try:
        async with opened_engine(replica) as engine, create_sessionmaker(engine).begin() as session:
            await session.execute(update(Department).where(Department.id == 1).values(name=REPLICA_NAME))
        yield replica
    finally:
        await _admin(postgresql_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _audit_entries(url: str) -> int:
    async with opened_engine(url) as engine, create_sessionmaker(engine)() as session:
        return (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()


DEPARTMENT = "{ departments { id name } }"
DENIED_MUTATION = 'mutation { cycleDelete(cycleId: "1") { __typename } }'
DENIED_FIELD = "{ employees(first: 3) { edges { node { compensationRecords { baseSalary } } } } }"


async def test_an_analyst_reads_the_replica_and_hr_admin_the_primary(postgresql_url: str, replica_url: str) -> None:
    """The analyst (with or without the names grant) sees the value changed in the replica only; hr_admin sees
    the primary's."""
    settings = make_settings(database_url=postgresql_url, read_database_url=replica_url)
    async with serving(settings) as hr:
        names = {Role.ANALYST: "", Role.HR_ADMIN: ""}
        for role in names:
            client = hr.as_principal(role, grants=[Grant.NAMES] if role is Role.ANALYST else [])
            departments = (await client.data(DEPARTMENT))["departments"]
            names[role] = next(d["name"] for d in departments if d["name"] == REPLICA_NAME or d["id"] == "1")
        pseudonymous = (await hr.as_principal(Role.ANALYST).data(DEPARTMENT))["departments"]
    assert names[Role.ANALYST] == REPLICA_NAME
    assert names[Role.HR_ADMIN] != REPLICA_NAME
    assert REPLICA_NAME in {d["name"] for d in pseudonymous}


async def test_an_analysts_writes_go_to_the_primary_never_the_replica(postgresql_url: str, replica_url: str) -> None:
    """A refused mutation and a refused field are audited; both entries land in the primary, none in the replica,
    whose connections are read-only besides."""
    before = await _audit_entries(postgresql_url), await _audit_entries(replica_url)
    settings = make_settings(database_url=postgresql_url, read_database_url=replica_url)
    async with serving(settings) as hr:
        analyst = hr.as_principal(Role.ANALYST, grants=[Grant.NAMES])
        refused = await analyst.execute(DENIED_MUTATION)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        denied = await analyst.execute(DENIED_FIELD)
        assert {error["extensions"]["code"] for error in denied["errors"]} == {"FORBIDDEN"}
    after = await _audit_entries(postgresql_url), await _audit_entries(replica_url)
    assert after[0] >= before[0] + 2
    assert after[1] == before[1]


async def test_without_a_replica_an_analyst_reads_the_primary(postgresql_url: str, replica_url: str) -> None:
    """PERFHUB_READ_DATABASE_URL unset: the replica's change is seen by nobody."""
    async with serving(make_settings(database_url=postgresql_url)) as hr:
        departments = (await hr.as_principal(Role.ANALYST, grants=[Grant.NAMES]).data(DEPARTMENT))["departments"]
    assert REPLICA_NAME not in {d["name"] for d in departments}


def _slow_cycles(seconds: float) -> object:
    """A test-only hook: ``Query.cycles`` first sleeps in the database for ``seconds``, as a costly statement."""
    original = resolvers.cycles.cycles

    async def cycles(context: Context) -> Sequence[CycleRow]:
        async with context.sessionmaker() as session:
            await session.execute(text("select pg_sleep(:seconds)"), {"seconds": seconds})
        return await original(context)

    return cycles


async def test_an_analysts_slow_statement_is_cancelled_with_a_typed_error(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement past the analysts' timeout answers STATEMENT_TIMEOUT naming the limit; hr_admin's same query,
    under the read timeout, succeeds; and the analyst's next query (the hook gone) is served on the same pool."""
    settings = make_settings(database_url=postgresql_url, analyst_statement_timeout_seconds=0.2)
    async with serving(settings) as hr:
        analyst = hr.as_principal(Role.ANALYST)
        monkeypatch.setattr(resolvers.cycles, "cycles", _slow_cycles(0.6))
        answer = await analyst.execute("{ cycles { id } }")
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "STATEMENT_TIMEOUT"
        assert "0.2 s" in error["message"]
        assert (await hr.data("{ cycles { id } }"))["cycles"]
        monkeypatch.undo()
        assert (await analyst.data("{ cycles { id } }"))["cycles"]


@pytest.mark.parametrize(
    ("roles", "replica", "limited"),
    [
        ({Role.ANALYST}, True, True),
        ({Role.ANALYST, Role.MANAGER}, False, True),
        ({Role.ANALYST, Role.HR_ADMIN}, False, False),
        ({Role.HR_ADMIN}, False, False),
        ({Role.MANAGER}, False, False),
    ],
)
def test_who_reads_the_replica_and_who_is_limited(roles: set[Role], replica: bool, limited: bool) -> None:
    """Only a principal that is an analyst and nothing else reads the replica (any other role may write); the
    analysts' statement timeout binds every analyst but hr_admin."""
    principal = Principal(subject="someone", roles=frozenset(roles))
    assert policy.reads_from_replica(principal) is replica
    assert policy.statement_limited(principal) is limited


async def test_the_replicas_connections_refuse_writes(replica_url: str) -> None:
    """A write sent to the replica by mistake fails (read-only transactions) instead of making it differ."""
    engine = create_read_only_engine(replica_url, DatabaseTimeouts())
    try:
        async with create_sessionmaker(engine).begin() as session:
            with pytest.raises(DBAPIError, match="read-only"):
                await session.execute(update(Department).where(Department.id == 1).values(name="written"))
    finally:
        await engine.dispose()


async def test_an_http_analyst_is_bound_to_the_replica_and_a_socket_to_the_primary() -> None:
    """Over HTTP an analyst's context reads the replica and writes the primary; a socket's reads the primary, whose
    outbox wakes its subscriptions (a lagging replica may not yet hold what woke them)."""
    settings = make_settings(database_url="sqlite+aiosqlite:///:memory:")
    primary: async_sessionmaker[AsyncSession] = async_sessionmaker()
    replica: async_sessionmaker[AsyncSession] = async_sessionmaker()
    http = Context(settings=settings, sessionmaker=primary, replica=replica, today=TODAY)
    http.bind(Principal(subject="analyst", roles=frozenset({Role.ANALYST})))
    assert http.sessionmaker is replica and http.writer is primary
    app = create_app(settings)
    [view] = [route.app for route in app.routes if isinstance(route, WebSocketRoute)]
    assert isinstance(view, PerfhubGraphQL)
    socket = Context(settings=settings, sessionmaker=primary, replica=replica, today=TODAY)
    socket.connection_params = {"Authorization": f"Bearer {issue_token(settings, role=Role.ANALYST)}"}
    await view.on_ws_connect(socket)
    assert socket.principal.has(Role.ANALYST)
    assert socket.sessionmaker is primary and socket.writer is primary
