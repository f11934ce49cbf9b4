"""Two hub processes on one PostgreSQL: an event committed through one reaches a subscriber of the other by
notification, not by the poll (PostgreSQL only).

Both hubs poll the outbox only once a minute here; a correction through hub A (its ``result.revised``
event) must reach a subscriber of hub B well before that: publishing and correcting send ``NOTIFY`` in their
transactions, and every hub's outbox watcher ``LISTEN``s. The deadline is a guard against waiting for the
poll, far from the machine's speed (a notification takes milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.races.harness import ENV, WITHIN, Hubs, needs_postgres, running_hubs
from tests.races.hearing import correct_and_hear

pytestmark = needs_postgres

SLOW_POLL = 60.0
"""Seconds between the watchers' polls: far longer than the test waits for the event."""


@pytest.fixture
def slow_hubs(postgresql_backend: Backend, tmp_path: Path) -> Iterator[Hubs]:
    for url in postgresql_backend.fresh_copy(tmp_path):
        with running_hubs(url, tmp_path, {**ENV, "PERFHUB_EVENT_POLL_SECONDS": str(SLOW_POLL)}) as hubs:
            yield hubs


async def test_an_event_through_one_hub_wakes_a_subscriber_of_the_other(slow_hubs: Hubs) -> None:
    first, second = slow_hubs.start_together("hub-a", "hub-b")
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        await correct_and_hear(client, first, second, "the notification test", SLOW_POLL / 3)
