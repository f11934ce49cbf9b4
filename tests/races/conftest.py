"""Fixtures of the race and fault tests: PostgreSQL databases for served hubs to share and to crash on.

``postgresql_backend`` (tests/conftest.py) is the 120-employee demo; ``large_backend`` is the same demo
organisation with 2,000 employees, large enough that scoring and publishing take a noticeable time, so
that a hub killed a few milliseconds into them dies inside their transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Backend, postgresql_template
from tests.races.harness import WITHIN, Hubs, reader, running_hubs
from tests.served.hub_process import ServedHub

if TYPE_CHECKING:
    from tests.races.test_two_hubs import Demo

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


@pytest.fixture
def demo_hubs(demo_database: str, tmp_path: Path) -> Iterator[Hubs]:
    """Hubs a test starts, kills and restarts on its copy of the 120-employee demo."""
    with running_hubs(demo_database, tmp_path) as hubs:
        yield hubs


@pytest.fixture
def large_hubs(large_database: str, tmp_path: Path) -> Iterator[Hubs]:
    """Hubs a test starts, kills and restarts on its copy of the 2,000-employee demo."""
    with running_hubs(large_database, tmp_path) as hubs:
        yield hubs


@dataclass
class Pair:
    """Two hubs on one database (one pair per test module), and what the module's tests found in it."""

    hubs: tuple[ServedHub, ServedHub]
    database_url: str
    demo: Demo | None = None
    seen: Counter[str] = field(default_factory=Counter)

    def hub(self, round_: int, which: int) -> ServedHub:
        """The hub that gets mutation ``which`` (0 or 1) in a round: the two swap every round."""
        return self.hubs[(round_ + which) % 2]


@pytest.fixture(scope="module")
def pair(postgresql_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("two-hubs")
    url = postgresql_backend.copy(folder)
    try:
        with running_hubs(url, folder) as hubs:
            first, second = hubs.start_together("hub-a", "hub-b")
            yield Pair((first, second), url)
    finally:
        postgresql_backend.drop(url)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=WITHIN) as http:
        yield http


@pytest.fixture
async def engine(pair: Pair) -> AsyncIterator[AsyncEngine]:
    checks = reader(pair.database_url)
    yield checks
    await checks.dispose()
