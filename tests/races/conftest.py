"""Fixtures of the race and fault tests: PostgreSQL databases for served hubs to share and to crash on.

``postgresql_backend`` (tests/conftest.py) is the 120-employee demo; ``large_backend`` is the same demo
organisation with 2,000 employees, large enough that scoring and publishing take a noticeable time, so
that a hub killed a few milliseconds into them dies inside their transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Backend, postgresql_template
from tests.races.harness import Hubs

LARGE = 2000
"""Employees of the large demo organisation: scoring it takes about a second, publishing a few tenths."""


@pytest.fixture(scope="session")
def large_backend() -> Iterator[Backend]:
    """The demo organisation with 2,000 employees, seeded once per run into a template database."""
    yield from postgresql_template(
        "perfhub_large", LARGE, "races run on PostgreSQL only: PERFHUB_TEST_DATABASE_URL is not set"
    )


@pytest.fixture
def demo_database(postgresql_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the 120-employee demo for one test."""
    yield from postgresql_backend.fresh_copy(tmp_path)


@pytest.fixture
def large_database(large_backend: Backend, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the 2,000-employee demo for one test."""
    yield from large_backend.fresh_copy(tmp_path)


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
