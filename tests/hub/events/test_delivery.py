"""The delivery tools of the result stream: bounded retries with backoff, and sessions that report failing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.events.delivery import ReadFailed, RetryPolicy, WatchedSessions, read_with_retries

QUICK = RetryPolicy(attempts=3, first_delay=0.001, max_delay=0.002)


def blip() -> OperationalError:
    return OperationalError("SELECT 1", None, ConnectionResetError("connection reset by peer"))


def test_the_backoff_doubles_up_to_its_ceiling_with_jitter() -> None:
    policy = RetryPolicy(attempts=6, first_delay=0.1, max_delay=0.5)
    for failed, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (5, 0.5)]:
        delays = [policy.delay(failed) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1  # jittered: subscribers hit by one blip do not come back in step


async def test_a_read_is_retried_until_it_succeeds() -> None:
    failures = [blip(), blip()]

    async def read() -> str:
        if failures:
            raise failures.pop()
        return "page"

    assert await read_with_retries(read, QUICK, "reading") == "page"


async def test_a_read_that_fails_every_time_gives_up_after_the_attempts_with_the_last_error() -> None:
    attempts = 0
    last = blip()

    async def read() -> str:
        nonlocal attempts
        attempts += 1
        raise last

    with pytest.raises(ReadFailed) as raised:
        await read_with_retries(read, QUICK, "reading the outbox")
    assert attempts == QUICK.attempts
    assert raised.value.__cause__ is last
    assert str(raised.value) == "reading the outbox failed 3 times"


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite://")
    yield engine
    await engine.dispose()


async def test_watched_sessions_count_the_sessions_that_end_in_an_error(engine: AsyncEngine) -> None:
    inner = async_sessionmaker(engine, expire_on_commit=False)
    sessions = WatchedSessions(inner)
    async with sessions() as session:
        assert await session.scalar(text("SELECT 1")) == 1
    assert sessions.watch.failures == 0

    with pytest.raises(OperationalError):
        async with sessions() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    assert sessions.watch.failures == 1

    with pytest.raises(OperationalError):
        async with sessions.begin() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    assert sessions.watch.failures == 2

    async with sessions() as session:  # an error the body handles is not a failure
        try:
            await session.execute(text("SELECT * FROM no_such_table"))
        except OperationalError:
            await session.rollback()
    assert sessions.watch.failures == 2


async def test_watched_sessions_are_configured_like_the_inner_ones_which_stay_unwatched(engine: AsyncEngine) -> None:
    inner = async_sessionmaker(engine, expire_on_commit=False)
    sessions = WatchedSessions(inner)
    async with sessions() as session:
        assert isinstance(session, AsyncSession)
        assert session.bind is engine
        assert session.sync_session.expire_on_commit is False
    with pytest.raises(OperationalError):
        async with sessions.inner() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    assert sessions.watch.failures == 0
