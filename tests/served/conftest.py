"""Fixtures for the tests against the served hub: a `perfhub serve` subprocess per test, on a fresh copy of
the seeded database (SQLite always; PostgreSQL too when PERFHUB_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Backend
from tests.served.hub_process import ServedHub
from tests.served.node import NodeJS, find_node

NO_RATE_LIMIT = {"PERFHUB_RATE_LIMIT_PER_SECOND": "0"}  # tests fire faster than people


def _no_traceback(hub: ServedHub) -> None:
    log = hub.log()
    assert "Traceback" not in log, f"the served hub logged a traceback:\n{log[-4000:]}"


def hub_of_its_own(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    """A hub for one test on ``database_url``, checked for tracebacks when it stops (a fixture yields from it)."""
    with ServedHub(database_url, tmp_path, NO_RATE_LIMIT) as hub:
        yield hub
    _no_traceback(hub)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    """The hub as users run it, on a database of the test's own."""
    yield from hub_of_its_own(database_url, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served_to_read(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    """One hub for a module of tests that only read, or that each write only rows no other test of the module
    reads (they take it as ``served_shared``): started once per backend (~4 s of CPU each), not once per test."""
    backend: Backend = request.getfixturevalue(f"{request.param}_backend")
    folder = tmp_path_factory.mktemp("served")
    url = backend.copy(folder)
    try:
        with ServedHub(url, folder, NO_RATE_LIMIT) as hub:
            yield hub
        _no_traceback(hub)
    finally:
        backend.drop(url)


@pytest.fixture
def served_shared(served_to_read: ServedHub) -> Iterator[ServedHub]:
    """The module's hub for one test, which fails on a traceback the hub logged while it ran, as it would on
    a hub of its own (the module's hub is checked once more when the module is done)."""
    logged_before = len(served_to_read.log())
    yield served_to_read
    logged = served_to_read.log()[logged_before:]
    assert "Traceback" not in logged, f"the served hub logged a traceback during the test:\n{logged[-4000:]}"


@pytest.fixture(scope="session")
def node() -> NodeJS:
    """Node.js with tests/served/js/ installed from its lock (once per run, whatever the xdist workers)."""
    found = find_node()
    if isinstance(found, str):
        pytest.skip(found)
    found.install()
    return found
