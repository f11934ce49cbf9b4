"""Idle subscribers cost nothing: one watcher per process looks for new events, the subscriptions wait on it.

Forty live subscriptions, caught up and idle, run through the schema with the process's watcher in their
context; every SQL statement on the engine is counted. While idle, the watcher's own reads are all there is
(before the watcher, each subscription read the outbox every poll: forty times as many). A publish then
reaches every one of them.

The webhook worker waits on the watcher too: growth that comes between its look at the newest id and its wait
must wake it. A LISTEN connection that cannot be opened costs one attempt a minute and one warning per outage,
not an attempt and a warning every poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

import asyncpg
import pytest
import strawberry
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth import Principal, Role
from hub.config import Settings
from hub.db.engine import create_sessionmaker
from hub.demo.organisation import SeedSummary
from hub.events import watcher as watcher_module
from hub.events.fanout import Page
from hub.events.watcher import OutboxWatcher
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY, opened_engine
from tests.tcp_proxy import Mode, TcpProxy

SUBSCRIBERS = 40
POLL = 0.05
LIVE = "subscription($after: String) { resultPublished(after: $after) { cursor cycle { id } } }"
LAST = "{ resultEvents(first: 500) { cursor } }"


class Statements:
    """Counts the statements the engine runs while it is attached."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> Statements:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self)


async def settled(statements: Statements, watcher: OutboxWatcher) -> None:
    """Until four poll intervals pass with no statement but the watcher's (two of them at least): every
    subscription is waiting."""
    while True:
        before, reads = statements.count, watcher.reads
        await asyncio.sleep(4 * POLL)
        if statements.count - before == watcher.reads - reads >= 2:
            return


async def test_idle_subscribers_run_no_statement_and_all_hear_a_publish(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    seeded: SeedSummary,
) -> None:
    schema: strawberry.Schema = build_schema()
    fast = settings.model_copy(update={"event_poll_seconds": POLL})
    watcher = OutboxWatcher.of(fast, engine, sessionmaker)
    payroll = Principal("payroll", frozenset({Role.PAYROLL}))

    def context() -> Context:
        return Context(fast, sessionmaker, TODAY, payroll, request_id="watch", outbox=watcher)

    last = (await schema.execute(LAST, context_value=context())).data
    assert last is not None
    after = last["resultEvents"][-1]["cursor"]
    streams: list[AsyncGenerator[Any, None]] = []
    async with watcher.running():
        for _ in range(SUBSCRIBERS):
            stream = await schema.subscribe(LIVE, variable_values={"after": after}, context_value=context())
            assert isinstance(stream, AsyncGenerator)
            streams.append(stream)
        waiting = [asyncio.ensure_future(anext(stream)) for stream in streams]
        try:
            with Statements(engine) as statements:
                await settled(statements, watcher)
                before, reads = statements.count, watcher.reads
                await asyncio.sleep(20 * POLL)
                idle, polls = statements.count - before, watcher.reads - reads
            # Twenty poll intervals idle: the watcher's reads, and nothing from the forty subscriptions.
            assert polls >= 5 and idle == polls
            assert not any(task.done() for task in waiting)

            await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
            await close_calibration(sessionmaker, CycleCloseCalibration(seeded.current_cycle_id), Caller("test"))
            await publish_cycle(sessionmaker, CyclePublish(seeded.current_cycle_id), Caller("test"))
            async with asyncio.timeout(30):
                first = await asyncio.gather(*waiting)
            assert all(not result.errors for result in first)
            cycles = {result.data["resultPublished"]["cycle"]["id"] for result in first}
            assert cycles == {str(seeded.current_cycle_id)}
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            for stream in streams:
                await stream.aclose()


async def test_a_waiter_hears_growth_that_comes_in_the_loop_turn_it_starts_waiting() -> None:
    """The webhook worker looks at the newest id, finds nothing to do and waits: growth right then must wake it.
    (A wait wrapped in a task of its own, as ``asyncio.wait_for`` does on Python 3.11, starts a loop turn later
    and would miss this pulse, then sleep its whole interval.)"""
    async with opened_engine("sqlite+aiosqlite://") as engine:  # never connected: the growth is played here
        watcher = OutboxWatcher(engine, create_sessionmaker(engine), POLL, buffer=10, stall_seconds=30.0)
        seen = watcher.log.end
        waiting = asyncio.create_task(watcher.wait_beyond(seen, within=30.0))
        await asyncio.sleep(0)  # the waiter has looked and waits; its loop turn is not over
        watcher.log.append(Page(seen, seen + 1, (), 1))
        watcher._grew()
        async with asyncio.timeout(30):
            assert await waiting
        assert not await watcher.wait_beyond(seen + 1, within=POLL), "no growth since: the wait runs out"


async def until(check: Callable[[], bool]) -> None:
    """Until ``check`` holds (the test's ``asyncio.timeout`` guards the wait)."""
    while True:
        if check():
            return
        await asyncio.sleep(POLL)


async def rounds(watcher: OutboxWatcher, count: int) -> None:
    """Until the watcher has run ``count`` more rounds (an idle round reads the outbox once)."""
    target = watcher.reads + count
    await until(lambda: watcher.reads >= target)


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records if record.name == "perfhub.events")


async def test_a_listen_connection_that_cannot_open_is_tried_once_a_minute_and_warned_of_once(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The watcher reads the outbox on the database itself, and listens through a proxy that refuses: twenty
    rounds make one connection attempt and one warning (each round used to make one of each). Once the minute
    is over and the proxy passes again, it listens again and says so."""
    caplog.set_level(logging.INFO, logger="perfhub.events")
    database = make_url(postgresql_url)
    proxy = await TcpProxy(database.host or "127.0.0.1", database.port or 5432).start()
    proxied = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    attempts: list[str] = []
    connect = asyncpg.connect

    async def counted(*args: Any, **kwargs: Any) -> Any:
        if args and f":{proxy.port}/" in str(args[0]):  # the watcher's (SQLAlchemy connects by keywords)
            attempts.append(args[0])
        return await connect(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "connect", counted)
    try:
        await proxy.set_mode(Mode.REFUSE)
        async with opened_engine(postgresql_url) as engine, opened_engine(proxied) as listen_to:
            watcher = OutboxWatcher(listen_to, create_sessionmaker(engine), POLL, buffer=10, stall_seconds=30.0)
            async with asyncio.timeout(60), watcher.running():
                await rounds(watcher, 20)
                assert len(attempts) == 1
                assert logged(caplog, "cannot listen for new events") == 1
                await proxy.set_mode(Mode.PASS)
                await rounds(watcher, 5)
                assert len(attempts) == 1, "within the minute: no attempt, even with the database back"
                monkeypatch.setattr(watcher_module, "LISTEN_RETRY_SECONDS", 0.0)  # the minute is over
                await until(lambda: logged(caplog, "listening for new events again") > 0)
                await rounds(watcher, 5)
        assert len(attempts) == 2
        assert proxy.accepted == 1, "the listening connection opened once, and stayed open"
        assert logged(caplog, "cannot listen for new events") == 1
        assert logged(caplog, "listening for new events again") == 1
    finally:
        await proxy.close()
