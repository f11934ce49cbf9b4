"""Fixtures of the race and fault tests: PostgreSQL databases for served hubs to share and to crash on.

``postgresql_backend`` (tests/conftest.py) is the 120-employee demo; ``large_backend`` is the same demo
organisation with 2,000 employees, large enough that scoring and publishing take a noticeable time, so
that a hub killed a few milliseconds into them dies inside their transaction.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from tests.conftest import POSTGRES_URL, SEED, TODAY, Backend, _admin
from tests.races.harness import Hubs

LARGE = 2000
"""Employees of the large demo organisation: scoring it takes about a second, publishing a few tenths."""


async def _build(url: str, employees: int) -> Backend:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        summary = await build_demo(create_sessionmaker(engine), seed=SEED, employees=employees, today=TODAY)
    finally:
        await engine.dispose()
    return Backend("postgresql", url, summary)


@pytest.fixture(scope="session")
def large_backend() -> Iterator[Backend]:
    """The demo organisation with 2,000 employees, seeded once per run into a template database."""
    if not POSTGRES_URL:
        pytest.skip("races run on PostgreSQL only: PERFHUB_TEST_DATABASE_URL is not set")
    template = f"perfhub_large_{os.getpid()}"
    asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"'))
    url = make_url(POSTGRES_URL).set(database=template).render_as_string(hide_password=False)
    try:
        yield asyncio.run(_build(url, LARGE))
    finally:
        asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))


@pytest.fixture
def demo_database(postgresql_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the 120-employee demo for one test."""
    url = postgresql_backend.copy(tmp_path)
    try:
        yield url
    finally:
        postgresql_backend.drop(url)


@pytest.fixture
def large_database(large_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the 2,000-employee demo for one test."""
    url = large_backend.copy(tmp_path)
    try:
        yield url
    finally:
        large_backend.drop(url)


def _hubs(database_url: str, folder: Path) -> Iterator[Hubs]:
    hubs = Hubs(database_url, folder)
    try:
        yield hubs
    finally:
        hubs.stop_all()
    hubs.check_logs()


@pytest.fixture
def demo_hubs(demo_database: str, tmp_path: Path) -> Iterator[Hubs]:
    """Hubs a test starts, kills and restarts on its copy of the 120-employee demo."""
    yield from _hubs(demo_database, tmp_path)


@pytest.fixture
def large_hubs(large_database: str, tmp_path: Path) -> Iterator[Hubs]:
    """Hubs a test starts, kills and restarts on its copy of the 2,000-employee demo."""
    yield from _hubs(large_database, tmp_path)
