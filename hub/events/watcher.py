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
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import ResultEvent
from hub.events.fanout import PAGE, EventLog, Subscriber, read_page, stalled
from hub.events.redis_wake import RedisWake, announce_after_commit

CHANNEL = "perfhub_outbox"
"""The PostgreSQL notification channel of new outbox events."""
LISTEN_RETRY_SECONDS = 60.0
"""After the LISTEN connection could not be opened (refused, bad credentials), how long the watcher only polls
before it tries again: an outage costs one connection attempt a minute, not one a poll."""

log = logging.getLogger("perfhub.events")


async def notify_new_events(session: AsyncSession) -> None:
    """In the transaction that appends events: every watcher on the database hears of them at commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))
    announce_after_commit(session)


STOP_SECONDS = 5.0
"""How long the app's shutdown waits for the watcher's round under way before it cancels it."""


class OutboxWatcher:
    """Reads the outbox's new events into ``log`` (its ``end``: the newest id read) and wakes the readers
    waiting for it to grow."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        poll_seconds: float,
        *,
        buffer: int,
        stall_seconds: float,
        redis: RedisWake | None = None,
    ):
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._poll_seconds = poll_seconds
        self._stall_seconds = stall_seconds
        self.log = EventLog(0, buffer)
        """The process's recent events, shared by its subscriptions (``hub.events.fanout``)."""
        self.subscribers: set[Subscriber] = set()
        self._started = False
        self._grown = asyncio.Event()
        """Pulsed (set, then cleared) when the log grows: it wakes whoever waits at that moment (``wait_beyond``)."""
        self._heard = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._listen_failed_at: float | None = None
        """When the last attempt to open the LISTEN connection failed (monotonic); None while it has not."""
        self.redis = redis
        """The Redis channel this process publishes on and listens to (``hub.events.redis_wake``); None: unset."""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.reads = 0
        """Statements run to look for new events (for the tests' counts)."""

    @classmethod
    def of(
        cls, settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> OutboxWatcher:
        """The watcher the settings configure: their poll, subscription buffer and stall limit, and the Redis
        channel when one is set."""
        return cls(
            engine,
            sessionmaker,
            settings.event_poll_seconds,
            buffer=settings.subscription_buffer,
            stall_seconds=settings.subscription_stall_seconds,
            redis=RedisWake.of(settings),
        )

    async def wait_beyond(self, seen: int, within: float) -> bool:
        """Waits until the newest id read is beyond ``seen``, at most ``within`` seconds: whether it is.

        No growth is missed between the check and the wait: ``Event.wait`` is awaited in this task (not wrapped
        in one of its own, as ``asyncio.wait_for`` does on Python 3.11, which starts it a loop turn later), so it
        is among the waiters before anything else runs; and the log only grows, so the first pulse after the
        check means it is beyond ``seen``."""
        if self.log.end <= seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._grown.wait()
        return self.log.end > seen

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
            grew = newest > self.log.end
            self.log = EventLog(newest, self.log.capacity)
            self._started = True
            if grew:
                self._grew()
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
            self._grew()
            if len(page.events) < PAGE:
                return

    def _grew(self) -> None:
        # set() hands every current waiter its wake-up; clearing at once leaves the next waiters to wait for
        # the next growth.
        self._grown.set()
        self._grown.clear()

    def end_stalled(self) -> None:
        """Ends the subscriptions that stopped reading their socket while the stream ran past the log."""
        for subscriber in stalled(list(self.subscribers), self.log, self._stall_seconds):
            subscriber.too_slow = True
            subscriber.wake.set()
            subscriber.on_too_slow()

    async def _listen(self) -> None:
        """Opens the LISTEN connection if there is none (PostgreSQL only); a failure leaves the poll alone.

        After a failed attempt it tries again only once ``LISTEN_RETRY_SECONDS`` have passed, and it warns once
        per outage (the first failure), not once per attempt; it says so when it listens again."""
        if self._listener is not None and not self._listener.is_closed():
            return
        url = self._engine.url
        if url.get_backend_name() != "postgresql":
            return
        now = time.monotonic()
        if self._listen_failed_at is not None and now - self._listen_failed_at < LISTEN_RETRY_SECONDS:
            return
        listener: asyncpg.Connection | None = None
        try:
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            listener = await asyncpg.connect(dsn, timeout=max(self._poll_seconds, 2.0))
            await listener.add_listener(CHANNEL, lambda *_: self._heard.set())
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            self._listener = None
            if listener is not None:  # connected, but LISTEN failed: the connection is of no use
                with contextlib.suppress(Exception):
                    await listener.close(timeout=2.0)
            if self._listen_failed_at is None:
                log.warning(
                    "outbox watcher: cannot listen for new events (%s); polling every %ss, trying again every %ss",
                    error,
                    self._poll_seconds,
                    LISTEN_RETRY_SECONDS,
                )
            self._listen_failed_at = now
            return
        self._listener = listener
        if self._listen_failed_at is not None:
            self._listen_failed_at = None
            log.info("outbox watcher: listening for new events again")

    async def run(self) -> None:
        while not self._stopping:
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
            # The round under way finishes rather than being cancelled: a read cancelled inside its transaction
            # leaves the pool logging its failed rollback as a traceback (seen on SQLite at shutdown).
            self._stopping = True
            self._heard.set()
            await asyncio.wait([self._task], timeout=STOP_SECONDS)
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
