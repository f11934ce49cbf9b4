"""Idle subscribers cost nothing: one watcher per process looks for new events, the subscriptions wait on it.

Forty live subscriptions, caught up and idle, run through the schema with the process's watcher in their
context; every SQL statement on the engine is counted. While idle, the watcher's own reads are all there is
(before the watcher, each subscription read the outbox every poll: forty times as many). A publish then
reaches every one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth import Principal, Role
from hub.config import Settings
from hub.demo.organisation import SeedSummary
from hub.events.watcher import OutboxWatcher
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCloseCalibration, CyclePublish, close_calibration, publish_cycle
from hub.operations.scoring import CycleScore, score_cycle
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY

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
    watcher = OutboxWatcher(engine, sessionmaker, POLL)
    fast = settings.model_copy(update={"event_poll_seconds": POLL})
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
