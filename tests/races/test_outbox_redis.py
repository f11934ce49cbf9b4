"""Two hub processes on one SQLite database wake each other through Redis (PERFHUB_EVENTS_REDIS_URL).

SQLite has no LISTEN/NOTIFY: before the Redis channel, a subscriber of one process heard of an event committed
through the other only at its poll. Here both hubs poll the outbox once a minute, so a correction through hub A
that reaches a subscriber of hub B well before that was woken by Redis; the deadline guards against waiting for
the poll, far from the machine's speed. Then Redis goes away (the hubs reach it through a TCP proxy the test
cuts): the correction still answers at once, the event still arrives (by the poll, frequent in that test), both
hubs say in their logs that Redis is lost and, once it is back, that they listen again. Each test publishes on
a channel of its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.races.harness import ENV, WITHIN, Hubs, running_hubs
from tests.races.hearing import correct_and_hear
from tests.races.redis_service import address, answering_redis, fresh_channel, through
from tests.served.hub_process import ServedHub
from tests.tcp_proxy import Mode, ProxyThread

SLOW_POLL = 60.0
"""Seconds between the watchers' polls in the first test: far longer than it waits for the event."""
REASON = "the Redis wake test"


def hubs_on_sqlite(backend: Backend, folder: Path, env: dict[str, str]) -> Iterator[Hubs]:
    for url in backend.fresh_copy(folder):
        with running_hubs(url, folder, env) as hubs:
            yield hubs


@pytest.fixture
def slow_hubs(sqlite_backend: Backend, tmp_path: Path) -> Iterator[Hubs]:
    env = {
        **ENV,
        "PERFHUB_EVENT_POLL_SECONDS": str(SLOW_POLL),
        "PERFHUB_EVENTS_REDIS_URL": answering_redis(),
        "PERFHUB_EVENTS_REDIS_CHANNEL": fresh_channel(),
    }
    yield from hubs_on_sqlite(sqlite_backend, tmp_path, env)


async def test_an_event_through_one_hub_on_sqlite_wakes_a_subscriber_of_the_other_through_redis(
    slow_hubs: Hubs,
) -> None:
    first, second = slow_hubs.start_together("hub-a", "hub-b")
    async with httpx.AsyncClient(timeout=WITHIN) as client:
        await correct_and_hear(client, first, second, REASON, SLOW_POLL / 3)
        await correct_and_hear(client, second, first, REASON, SLOW_POLL / 3)  # and the other way round


async def until_logged(hub: ServedHub, pattern: str) -> None:
    deadline = asyncio.get_running_loop().time() + WITHIN
    while not re.search(pattern, hub.log()):
        assert asyncio.get_running_loop().time() < deadline, f"{pattern!r} not logged:\n{hub.log()[-3000:]}"
        await asyncio.sleep(0.1)


async def test_with_redis_gone_the_hubs_deliver_by_the_poll_and_listen_again_when_it_is_back(
    sqlite_backend: Backend, tmp_path: Path
) -> None:
    url = answering_redis()
    with ProxyThread(*address(url)) as proxy:
        env = {
            **ENV,
            "PERFHUB_EVENT_POLL_SECONDS": "1.0",
            "PERFHUB_EVENTS_REDIS_URL": through(url, proxy.port),
            "PERFHUB_EVENTS_REDIS_CHANNEL": fresh_channel(),
        }
        for hubs in hubs_on_sqlite(sqlite_backend, tmp_path, env):
            first, second = hubs.start_together("hub-a", "hub-b")
            async with httpx.AsyncClient(timeout=WITHIN) as client:
                await correct_and_hear(client, first, second, REASON, SLOW_POLL / 3)
                proxy.set_mode(Mode.REFUSE)
                await correct_and_hear(client, first, second, REASON, SLOW_POLL / 3)
                await until_logged(first, "cannot publish on Redis")
                for hub in (first, second):
                    await until_logged(hub, "Redis subscription lost")
                proxy.set_mode(Mode.PASS)
                for hub in (first, second):
                    await until_logged(hub, "listening on Redis again")
                await correct_and_hear(client, second, first, REASON, SLOW_POLL / 3)
