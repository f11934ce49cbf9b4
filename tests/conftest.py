"""Shared fixtures: a seeded database per test (SQLite always, PostgreSQL when configured) and a client.

The demo organisation is seeded once per backend into a template; each test gets a fresh copy of it
(a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests never see each
other's writes and the suite stays fast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.app import create_app
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from hub.demo.organisation import SeedSummary

TODAY = dt.date(2026, 11, 16)
"""The date the test organisation is seeded on and the app believes it is."""
SEED = 7
EMPLOYEES = 120
POSTGRES_URL = os.environ.get("PERFHUB_TEST_DATABASE_URL")


async def _build_template(url: str) -> SeedSummary:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        return await build_demo(create_sessionmaker(engine), seed=SEED, employees=EMPLOYEES, today=TODAY)
    finally:
        await engine.dispose()


async def _admin(url: str, *statements: str) -> None:
    """Runs statements on the PostgreSQL server's maintenance database, outside a transaction."""
    admin_url = make_url(url).set(database="postgres")
    engine = create_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


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
        template = make_url(self.template_url).database
        asyncio.run(_admin(self.template_url, f'CREATE DATABASE "{database}" TEMPLATE "{template}"'))
        return make_url(self.template_url).set(database=database).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.name == "postgresql":
            database = make_url(url).database
            asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    return Backend("sqlite", url, asyncio.run(_build_template(url)))


@pytest.fixture(scope="session")
def postgresql_backend() -> Iterator[Backend]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL pass: PERFHUB_TEST_DATABASE_URL is not set")
    template = f"perfhub_template_{os.getpid()}"
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"'))
    url = make_url(POSTGRES_URL).set(database=template).render_as_string(hide_password=False)
    backend = Backend("postgresql", url, asyncio.run(_build_template(url)))
    yield backend
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture: Backend = request.getfixturevalue(f"{request.param}_backend")
    return fixture


@pytest.fixture
def database_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    url = backend.copy(tmp_path)
    yield url
    backend.drop(url)


@pytest.fixture
def seeded(backend: Backend) -> SeedSummary:
    return backend.summary


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, demo=False)


class StatementCounter:
    """Counts the SQL statements an engine executes while it is attached."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


class GraphQLClient:
    """Posts GraphQL documents to the app over in-process HTTP."""

    def __init__(self, http: httpx.AsyncClient, counter: StatementCounter) -> None:
        self.http = http
        self.sql = counter

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


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, clock=lambda: TODAY)
    async with app.router.lifespan_context(app):
        counter = StatementCounter()
        event.listen(app.state.resources.engine.sync_engine, "before_cursor_execute", counter)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfhub.test") as http:
            yield GraphQLClient(http, counter)
