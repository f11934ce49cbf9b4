"""Hub processes waking each other through Redis (``hub.events.redis_wake``), in process against a real Redis.

A transaction that appends outbox events publishes on the channel once it committed, never before and never
when it rolled back; a listener hears it. Redis going away (refused, or silent behind a partition) costs the
listener its subscription, never an exception out of it, and it subscribes again when Redis is back; a publish
to a Redis that is away gives up quietly. Each test uses a channel of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.db.engine import create_sessionmaker
from hub.events import redis_wake
from hub.events.redis_wake import RedisWake
from hub.events.watcher import notify_new_events
from tests.races.redis_service import address, answering_redis, fresh_channel, through
from tests.tcp_proxy import Mode, TcpProxy

GUARD = 20.0
"""The longest any wait of these tests may take before it fails (never hangs)."""


@dataclass
class Listening:
    """A listener's task and what it called back: once per (re)opened subscription plus once per message."""

    wake: RedisWake
    calls: int = 0
    task: asyncio.Task[None] | None = None

    def heard(self) -> None:
        self.calls += 1

    async def until(self, check: Callable[[], bool], what: str) -> None:
        deadline = asyncio.get_running_loop().time() + GUARD
        while not check():
            assert asyncio.get_running_loop().time() < deadline, f"not in time: {what}"
            await asyncio.sleep(0.02)


@pytest.fixture
def redis_url() -> str:
    return answering_redis()


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite://")
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def listening(url: str, channel: str) -> Listening:
    listener = Listening(RedisWake(url, channel))
    listener.task = asyncio.create_task(listener.wake.listen(listener.heard))
    await listener.until(lambda: listener.calls == 1, "the subscription opened")
    return listener


async def stop(*listeners: Listening) -> None:
    for listener in listeners:
        if listener.task is not None:
            listener.task.cancel()
            await asyncio.gather(listener.task, return_exceptions=True)
        await listener.wake.aclose()


async def test_a_commit_that_appends_events_publishes_once_after_it_and_a_rollback_nothing(
    redis_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    channel = fresh_channel()
    publisher = RedisWake(redis_url, channel)
    publisher.attach(engine.sync_engine)
    other = await listening(redis_url, channel)
    try:
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await notify_new_events(session)
                raise RuntimeError("the publishing transaction fails")
        async with sessions() as session, session.begin():
            await notify_new_events(session)
            await notify_new_events(session)  # publishing, then its training needs: one transaction, one message
            await asyncio.sleep(0.3)
            assert (publisher.published, other.wake.heard) == (0, 0), "published before the commit"
        await other.until(lambda: other.wake.heard == 1, "the commit's message heard")
        async with sessions() as session, session.begin():
            pass  # a transaction that appends nothing publishes nothing
        await asyncio.sleep(0.3)
        assert (publisher.published, other.wake.heard, other.calls) == (1, 1, 2)
    finally:
        publisher.detach(engine.sync_engine)
        await publisher.aclose()
        await stop(other)


async def test_a_listener_subscribes_again_after_redis_refused_and_after_a_partition(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(redis_wake, "KEEPALIVE_SECONDS", 0.3)
    monkeypatch.setattr(redis_wake, "RETRY_SECONDS", 0.2)
    channel = fresh_channel()
    proxy = await TcpProxy(*address(redis_url)).start()
    publisher = RedisWake(redis_url, channel)
    caplog.set_level(logging.INFO, logger="perfhub.events")
    behind = await listening(through(redis_url, proxy.port), channel)
    try:
        publisher.announce()
        await behind.until(lambda: behind.wake.heard == 1, "heard through the proxy")

        await proxy.set_mode(Mode.REFUSE)
        behind.wake.announce()  # its own publish, through the proxy: gives up without raising
        await behind.until(lambda: "cannot publish on Redis" in caplog.text, "the failed publish logged")
        await behind.until(lambda: "Redis subscription lost" in caplog.text, "the lost subscription logged")
        await proxy.set_mode(Mode.PASS)
        await behind.until(lambda: behind.calls == 3, "subscribed again after the refusal")
        publisher.announce()
        await behind.until(lambda: behind.wake.heard == 2, "heard after the refusal")

        await proxy.set_mode(Mode.BLACK_HOLE)  # open connections fall silent: only the unanswered PING tells
        caplog.clear()
        await behind.until(lambda: "Redis subscription lost" in caplog.text, "the silent subscription given up")
        await proxy.set_mode(Mode.PASS)
        await behind.until(lambda: "listening on Redis again" in caplog.text, "subscribed again after the partition")
        publisher.announce()
        await behind.until(lambda: behind.wake.heard == 3, "heard after the partition")
        assert behind.task is not None and not behind.task.done()
    finally:
        await publisher.aclose()
        await stop(behind)
        await proxy.close()
