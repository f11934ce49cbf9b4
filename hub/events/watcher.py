"""One watcher of the outbox per hub process, so that idle subscribers cost nothing.

Every live subscription used to look for new events on its own, one statement per subscriber per poll:
641 idle subscriptions spent half a core. Now one task per process reads the outbox's newest id and wakes
the subscriptions waiting on it when it grows. It is also the process's one reader of the outbox
(``hub.events.fanout``): it reads each new page of events once, with the rows every subscriber needs, into
the log the subscriptions take their events from, and ends those that stopped reading their socket while
the stream ran past what the log holds. The watcher wakes on PostgreSQL ``LISTEN`` (publishing and
correcting send ``NOTIFY`` in their transactions, delivered on commit, to every hub process on the database),
on a Redis channel when ``PERFHUB_EVENTS_REDIS_URL`` is set (``hub.events.redis_wake``: published after the
commit, so several processes on SQLite wake each other too) and, as the fallback, on a slow poll (one
statement: the page after the log's end, empty while idle). A lost notification or message, or a listening
connection that dropped, only delays: the poll still finds the new id, and the outbox stays the source of
truth. SQLite has no notifications: Redis, if configured, and the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db.models import ResultEvent
from hub.events.fanout import PAGE, EventLog, Subscriber, read_page, stalled
from hub.events.redis_wake import RedisWake, announce_after_commit

CHANNEL = "perfhub_outbox"
"""The PostgreSQL notification channel of new outbox events."""

log = logging.getLogger("perfhub.events")


async def notify_new_events(session: AsyncSession) -> None:
    """In the transaction that appends events: every watcher on the database hears of them at commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))
    announce_after_commit(session)


class OutboxWatcher:
    """Knows the outbox's newest event id (``latest``) and wakes the readers waiting for it to grow."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        poll_seconds: float,
        *,
        buffer: int = 10_000,
        stall_seconds: float = 30.0,
        redis: RedisWake | None = None,
    ):
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._poll_seconds = poll_seconds
        self._stall_seconds = stall_seconds
        self.latest: int = 0
        self.log = EventLog(0, buffer)
        """The process's recent events, shared by its subscriptions (``hub.events.fanout``)."""
        self.subscribers: set[Subscriber] = set()
        self._started = False
        self._grown = asyncio.Condition()
        self._heard = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.redis = redis
        """The Redis channel this process publishes on and listens to (``hub.events.redis_wake``); None: unset."""
        self._task: asyncio.Task[None] | None = None
        self.reads = 0
        """Statements run to look for new events (for the tests' counts)."""

    async def wait_beyond(self, seen: int, within: float) -> bool:
        """Waits until the newest id is beyond ``seen``, at most ``within`` seconds: whether it is."""
        if self.latest > seen:
            return True
        async with self._grown:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._grown.wait_for(lambda: self.latest > seen), within)
        return self.latest > seen

    def subscribe(self, position: int, on_too_slow: Callable[[], None]) -> Subscriber:
        """Registers a live subscription at ``position``; ``on_too_slow`` is called once if it has to end."""
        subscriber = Subscriber(position, on_too_slow)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def check(self) -> None:
        """Reads the outbox's new events, a page at a time, into the log; wakes the waiting readers if it grew.

        The first check of a watcher only learns the newest id: the subscriptions read what came before
        themselves (their cursors are theirs), and the log starts there.
        """
        if not self._started:
            self.reads += 1
            async with self._sessionmaker() as session:
                newest = await session.scalar(select(func.max(ResultEvent.id))) or 0
            self.log = EventLog(newest, self.log.capacity)
            self._started = True
            await self._grew(newest)
            return
        while True:
            self.reads += 1  # counted as it starts, as a statement counter on the engine counts it
            page = await read_page(self._sessionmaker, after=self.log.end)
            self.reads += page.statements - 1
            if not page.events:
                return
            self.log.append(page)
            for subscriber in self.subscribers:
                subscriber.wake.set()
            await self._grew(page.last)
            if len(page.events) < PAGE:
                return

    async def _grew(self, newest: int) -> None:
        if newest > self.latest:
            async with self._grown:
                self.latest = newest
                self._grown.notify_all()

    def end_stalled(self) -> None:
        """Ends the subscriptions that stopped reading their socket while the stream ran past the log."""
        for subscriber in stalled(list(self.subscribers), self.log, self._stall_seconds):
            subscriber.too_slow = True
            subscriber.wake.set()
            subscriber.on_too_slow()

    async def _listen(self) -> None:
        """Opens the LISTEN connection if there is none (PostgreSQL only); a failure leaves the poll alone."""
        if self._listener is not None and not self._listener.is_closed():
            return
        url = self._engine.url
        if url.get_backend_name() != "postgresql":
            return
        try:
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = await asyncpg.connect(dsn, timeout=max(self._poll_seconds, 2.0))
            await self._listener.add_listener(CHANNEL, lambda *_: self._heard.set())
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            self._listener = None
            log.warning(
                "outbox watcher: cannot listen for new events (%s); polling every %ss", error, self._poll_seconds
            )

    async def run(self) -> None:
        while True:
            await self._listen()
            try:
                await self.check()
            except Exception as error:  # the database away: the readers wait, the next round retries
                log.warning("outbox watcher: reading the newest event failed: %s", str(error).partition("\n")[0])
            self.end_stalled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), self._poll_seconds)
            self._heard.clear()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxWatcher]:
        """The watcher's task for as long as the block runs (the app's lifespan). The newest id is read once
        first, so that the first subscriptions do not take the first reading for news."""
        with contextlib.suppress(Exception):  # the database away at start-up: the task's rounds retry
            await self.check()
        self._task = asyncio.create_task(self.run(), name="perfhub outbox watcher")
        redis_task = None
        if self.redis is not None:
            self.redis.attach(self._engine.sync_engine)
            redis_task = asyncio.create_task(self.redis.listen(self._heard.set), name="perfhub outbox redis")
        try:
            yield self
        finally:
            for task in (self._task, redis_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if self.redis is not None:
                self.redis.detach(self._engine.sync_engine)
                await self.redis.aclose()
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close(timeout=2.0)
