"""The pool pings a connection only after it sat idle, and a connection that broke in between fails one request,
not every one after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.config import Settings
from hub.db import engine as db
from hub.db.engine import DatabaseTimeouts, create_bounded_engine, served_pool, unavailable_reason
from tests.tcp_proxy import Mode, TcpProxy

PING = ";"
"""What the checkout's ping sends (the simple query protocol's empty statement)."""


class QueryLog:
    """What the driver sent on the connections it has seen, pings included."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._logged: dict[int, object] = {}  # the connections with our logger, held so that ids stay theirs

    async def watch(self, connection: AsyncConnection) -> None:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        if id(driver) not in self._logged:  # one logger per connection, however often it is reused
            driver.add_query_logger(lambda query: self.sent.append(query.query))
            self._logged[id(driver)] = driver


async def _select_one(engine: AsyncEngine, log: QueryLog) -> object:
    async with engine.connect() as connection:
        await log.watch(connection)
        return await connection.scalar(text("SELECT 1"))


@pytest.fixture
async def one_connection(postgresql_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines of one pooled connection each: one pings after a minute idle, one on every checkout."""
    engines = [
        create_bounded_engine(postgresql_url, DatabaseTimeouts(ping_after_idle=idle), pool_size=1, max_overflow=0)
        for idle in (60.0, 0.0)
    ]
    try:
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(
    one_connection: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """Busy: the same connection checked out four times sends no ping; idle past the limit, each checkout pings."""
    for engine, pings in zip(one_connection, (0, 3), strict=True):
        log = QueryLog()
        for _ in range(4):  # the first checkout connects: a fresh connection is never pinged
            assert await _select_one(engine, log) == 1
        assert log.sent.count(PING) == pings, log.sent
        # The ping is sent on checkout, before the logger of that checkout is in place: it shows from the second.


async def test_a_connection_broken_between_two_uses_fails_one_request_and_the_pool_reconnects(
    postgresql_url: str,
) -> None:
    """No ping (used a moment ago): the statement meets the reset connection and fails as an outage (LOST);
    SQLAlchemy then invalidates the whole pool, so every connection after it is a new one."""
    database = make_url(postgresql_url)
    proxy = await TcpProxy(database.host or "127.0.0.1", database.port or 5432).start()
    url = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = create_bounded_engine(url, DatabaseTimeouts(connect=2.0, pool=2.0, ping_after_idle=60.0))
    log = QueryLog()
    try:
        async with asyncio.timeout(60):
            assert await asyncio.gather(*(_select_one(engine, log) for _ in range(3))) == [1, 1, 1]
            await proxy.set_mode(Mode.REFUSE)  # resets the pooled connections
            await proxy.set_mode(Mode.PASS)
            with pytest.raises(Exception) as failed:
                await _select_one(engine, log)
            assert unavailable_reason(failed.value) == db.LOST
            assert await asyncio.gather(*(_select_one(engine, log) for _ in range(3))) == [1, 1, 1]
    finally:
        await engine.dispose()
        await proxy.close()
    assert PING not in log.sent


def test_the_served_pool_shares_the_connections_among_the_workers() -> None:
    """Each process pools its share, at least the four a page holds, and never opens overflow connections."""
    url = "postgresql+asyncpg://hub@db/hub"
    assert served_pool(Settings(database_url=url)) == {"pool_size": 32, "max_overflow": 0}
    assert served_pool(Settings(database_url=url, workers=4, database_connections=40)) == {
        "pool_size": 10,
        "max_overflow": 0,
    }
    assert served_pool(Settings(database_url=url, workers=8, database_connections=8))["pool_size"] == 4
    assert served_pool(Settings(database_url="sqlite+aiosqlite:///hub.db")) == {}
