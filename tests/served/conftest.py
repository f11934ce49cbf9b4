"""Fixtures for the tests against the served hub: a `perfhub serve` subprocess per test, on a fresh copy of
the seeded database (SQLite always; PostgreSQL too when PERFHUB_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served.hub_process import ServedHub


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    """The hub as users run it, with the rate limit off (tests fire faster than people)."""
    with ServedHub(database_url, tmp_path, {"PERFHUB_RATE_LIMIT_PER_SECOND": "0"}) as hub:
        yield hub
    log = hub.log()
    assert "Traceback" not in log, f"the served hub logged a traceback:\n{log[-4000:]}"
