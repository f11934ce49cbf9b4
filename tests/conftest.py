"""Shared fixtures: a seeded database per test (SQLite always, PostgreSQL when configured) and a client.

The demo organisation is seeded once per backend into a template; each test gets a fresh copy of it
(a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests never see each
other's writes and the suite stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.config import SystemsConfig
from hub.app import create_app
from hub.auth import Grant, Role, issue_token
from hub.config import Settings
from hub.db.engine import WRITE_STATEMENT_TIMEOUT, create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from hub.demo.organisation import SeedSummary

TODAY = dt.date(2026, 11, 16)
"""The date the test organisation is seeded on and the app believes it is."""
SEED = 7
EMPLOYEES = 120
POSTGRES_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL")
TEST_SECRET = "perfhub-tests-only-secret-0123456789abcdef"
"""The HS256 secret of the test app; at least 32 bytes, as the hub requires."""


@contextlib.asynccontextmanager
async def opened_engine(url: str, **kwargs: Any) -> AsyncIterator[AsyncEngine]:
    """An engine on ``url``, disposed of on the way out."""
    engine = create_engine(url, **kwargs)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _build_template(url: str, employees: int = EMPLOYEES) -> SeedSummary:
    async with opened_engine(url) as engine:
        await upgrade(engine)
        return await build_demo(create_sessionmaker(engine), seed=SEED, employees=employees, today=TODAY)


async def _admin(url: str, *statements: str) -> None:
    """Runs statements on the PostgreSQL server's maintenance database, outside a transaction."""
    admin_url = make_url(url).set(database="postgres")
    async with (
        opened_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT") as engine,
        engine.connect() as connection,
    ):
        for statement in statements:
            await connection.exec_driver_sql(statement)


@contextlib.asynccontextmanager
async def blank_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh database with nothing in it, "sqlite" or "postgresql" (which skips, saying so, when
    PERFHUB_TEST_DATABASE_URL is unset), dropped on the way out."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/blank.db"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL pass: PERFHUB_TEST_DATABASE_URL is not set")
    name = f"perfhub_test_{uuid.uuid4().hex[:12]}"
    await _admin(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Backend:
    """Hands out fresh copies of a seeded template database."""

    def __init__(self, name: str, template_url: str, summary: SeedSummary) -> None:
        self.name = name
        self.template_url = template_url
        self.summary = summary

    def copy(self, tmp_path: Path) -> str:
        if self.name == "sqlite":
            template = Path(make_url(self.template_url).database or "")
            target = tmp_path / "perfhub.db"
            shutil.copyfile(template, target)
            return f"sqlite+aiosqlite:///{target}"
        database = f"perfhub_test_{uuid.uuid4().hex[:12]}"
        template_name = make_url(self.template_url).database
        asyncio.run(_admin(self.template_url, f'CREATE DATABASE "{database}" TEMPLATE "{template_name}"'))
        return make_url(self.template_url).set(database=database).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.name == "postgresql":
            database = make_url(url).database
            asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    def fresh_copy(self, tmp_path: Path) -> Iterator[str]:
        """A copy of the template for one test, dropped after it (a fixture yields from it)."""
        url = self.copy(tmp_path)
        try:
            yield url
        finally:
            self.drop(url)


@pytest.fixture(autouse=True)
def _no_statement_timeout_left_over() -> None:
    """Every test starts with no operation's statement timeout in its context. WRITE_STATEMENT_TIMEOUT is a context
    variable that the operation guard sets and puts back; in process, a test that runs an operation in its own
    context and whose guard is closed from another one left it set for the next test of the same worker, and the
    statement counts of two later tests on PostgreSQL then held a ``SET LOCAL statement_timeout`` per transaction
    (a CI run's failures). A served request has a context of its own, so only tests can share one."""
    WRITE_STATEMENT_TIMEOUT.set(None)


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    return Backend("sqlite", url, asyncio.run(_build_template(url)))


def postgresql_template(name: str, employees: int, unset: str) -> Iterator[Backend]:
    """The demo organisation of ``employees`` seeded into a template database ``name`` on the PostgreSQL
    server, dropped after the session (a fixture yields from it); skips, saying ``unset``, without
    PERFHUB_TEST_DATABASE_URL."""
    if not POSTGRES_URL:
        pytest.skip(unset)
    template = f"{name}_{os.getpid()}"
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"'))
    url = make_url(POSTGRES_URL).set(database=template).render_as_string(hide_password=False)
    try:
        yield Backend("postgresql", url, asyncio.run(_build_template(url, employees)))
    finally:
        asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgresql_backend() -> Iterator[Backend]:
    yield from postgresql_template(
        "perfhub_template", EMPLOYEES, "PostgreSQL pass: PERFHUB_TEST_DATABASE_URL is not set"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture: Backend = request.getfixturevalue(f"{request.param}_backend")
    return fixture


@pytest.fixture
def database_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    yield from backend.fresh_copy(tmp_path)


@pytest.fixture
def postgresql_url(postgresql_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the seeded PostgreSQL database, for what only PostgreSQL has (skips, saying so, when
    PERFHUB_TEST_DATABASE_URL is unset)."""
    yield from postgresql_backend.fresh_copy(tmp_path)


@pytest.fixture
def seeded(backend: Backend) -> SeedSummary:
    return backend.summary


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with opened_engine(database_url) as engine:
        yield engine


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def make_settings(**overrides: Any) -> Settings:
    """Settings for an app under test: no demo, a fixed secret, no rate limit (tests fire fast), long work
    in process."""
    values: dict[str, Any] = {
        "demo": False,
        "jwt_secret": TEST_SECRET,
        "rate_limit_per_second": 0,
        # In process, so that statement counts see the operations; tests/hub/test_worker.py and the
        # served tests (perfhub serve's default) run them in the worker process.
        "worker_process": False,
        # No webhook worker polling beside the statements a test counts; the webhook tests drive their own.
        "webhooks": False,
        # Nor the outbox watcher's reads: in process, subscriptions poll (tests/schema/test_outbox_watcher.py
        # drives a watcher of its own; the served tests run perfhub serve's default).
        "outbox_watcher": False,
        # The test receivers listen on loopback over http, and the test URLs (*.example) resolve nowhere; the
        # address checks have their own tests, which switch this off.
        "webhook_allow_private_addresses": True,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url=database_url)


class StatementCounter:
    """Counts the SQL statements an engine executes, and the connections it takes from its pool, while it is
    attached (``attach``)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.connections = 0
        """Checkouts from the pool: a request that holds two connections at once, or one after the other, is 2."""

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def checked_out(self, *_args: Any) -> None:
        self.connections += 1

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self)
        event.listen(engine.sync_engine, "checkout", self.checked_out)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()
        self.connections = 0


class GraphQLClient:
    """Posts GraphQL documents to the app over in-process HTTP, as one principal (hr_admin by default).

    ``http`` sends the principal's Authorization header with every request; ``as_principal`` gives a
    client for another principal on the same app, database and statement counter.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        counter: StatementCounter,
        settings: Settings,
        token: str | None = None,
        opened: list[httpx.AsyncClient] | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.http = httpx.AsyncClient(transport=transport, base_url="http://perfhub.test", headers=headers)
        self.sql = counter
        self.settings = settings
        self.token = token
        self._transport = transport
        # Every client made from this one, so that the fixture closes them all.
        self._opened = opened if opened is not None else []
        self._opened.append(self.http)

    def as_principal(
        self,
        role: Role | str,
        employee_number: str | None = None,
        grants: Iterable[Grant | str] = (),
        subject: str | None = None,
    ) -> GraphQLClient:
        """A client whose requests carry a token for this role (and employee, and grants)."""
        token = issue_token(
            self.settings,
            role=Role(role),
            employee_number=employee_number,
            subject=subject,
            grants=[Grant(grant) for grant in grants],
        )
        return GraphQLClient(self._transport, self.sql, self.settings, token, self._opened)

    def with_token(self, token: str) -> GraphQLClient:
        """A client whose requests carry this token (one a test signed itself: several roles, odd claims)."""
        return GraphQLClient(self._transport, self.sql, self.settings, token, self._opened)

    def anonymous(self) -> GraphQLClient:
        """A client that sends no token."""
        return GraphQLClient(self._transport, self.sql, self.settings, None, self._opened)

    async def aclose(self) -> None:
        for http in self._opened:
            await http.aclose()

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must succeed without errors."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@contextlib.asynccontextmanager
async def serving(settings: Settings, systems: SystemsConfig | None = None) -> AsyncIterator[GraphQLClient]:
    """A fresh app (running its lifespan) and a client of it as hr_admin, counting SQL statements."""
    app = create_app(settings, clock=lambda: TODAY, systems=systems)
    async with app.router.lifespan_context(app):
        counter = StatementCounter()
        counter.attach(app.state.resources.engine)
        token = issue_token(settings, role=Role.HR_ADMIN, subject="test-hr-admin")
        client = GraphQLClient(httpx.ASGITransport(app=app), counter, settings, token)
        try:
            yield client
        finally:
            await client.aclose()


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    """A client of a fresh app on a fresh copy of the demo database, as hr_admin (full access)."""
    async with serving(settings) as client:
        yield client
