"""Waking every hub process's outbox watcher through a Redis channel (``PERFHUB_EVENTS_REDIS_URL``).

PostgreSQL's ``NOTIFY`` reaches every process on the database; SQLite has nothing like it, so several hub
processes on one SQLite file used to hear of each other's events only at the slow poll. With a Redis URL set,
a process that committed new outbox events PUBLISHes an empty message on the channel once the commit returned
(not before: a watcher woken earlier would read nothing new and sleep until its poll), and each process's
watcher SUBSCRIBEs and reads the outbox when it hears one. The message carries nothing: the outbox stays the
source of truth. Redis away, a message lost or a subscription reconnecting only delays an event until the
watcher's slow poll; publishing never makes a mutation wait (it runs in a task of its own, with a short
timeout), and a subscription that hears nothing, not even the answer to its PING, is opened again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncSession

from hub.config import Settings

log = logging.getLogger("perfhub.events")

KEEPALIVE_SECONDS = 5.0
"""A subscription that received nothing for this long sends a PING; no answer within as long again: reopened."""
RETRY_SECONDS = 2.0
"""The pause before subscribing again after Redis failed (refused, reset or silent)."""
_ANNOUNCING = "perfhub.redis_wake"
"""``Session.info`` key: the session will publish when its transaction commits."""

_wakes: weakref.WeakKeyDictionary[Engine, RedisWake] = weakref.WeakKeyDictionary()
"""The wake of each engine's process: how the publishing code, which holds only a session, finds it."""


class RedisWake:
    """One Redis client that publishes on and subscribes to the channel of new outbox events."""

    def __init__(self, url: str, channel: str, *, timeout: float = 0.5) -> None:
        self.channel = channel
        # A short socket timeout: a publish to a Redis that went silent gives up quickly, and nothing waits on it.
        self._redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._sending: set[asyncio.Task[None]] = set()
        self._publish_failing = False
        self.published = 0
        """Messages published (for the tests' counts)."""
        self.heard = 0
        """Messages heard on the channel (for the tests' counts)."""

    @classmethod
    def of(cls, settings: Settings) -> RedisWake | None:
        """The configured wake (``PERFHUB_EVENTS_REDIS_URL``), or None."""
        url = settings.events_redis_url
        return cls(url, settings.events_redis_channel) if url else None

    def attach(self, engine: Engine) -> None:
        """Makes the outbox's writers on ``engine`` (this process's) publish here after they commit."""
        _wakes[engine] = self

    def detach(self, engine: Engine) -> None:
        if _wakes.get(engine) is self:
            del _wakes[engine]

    def announce(self) -> None:
        """Publishes on the channel in a task of its own (called from the committed session's hook)."""
        task = asyncio.get_running_loop().create_task(self._publish(), name="perfhub outbox publish")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self) -> None:
        try:
            await self._redis.publish(self.channel, b"")
        except (RedisError, OSError) as error:
            if not self._publish_failing:  # once per outage, not once per event
                log.warning("outbox: cannot publish on Redis (%s); other processes find the events by polling", error)
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("outbox: publishing on Redis again")
        self._publish_failing = False
        self.published += 1

    async def listen(self, heard: Callable[[], None]) -> None:
        """Calls ``heard`` for every message on the channel, until cancelled; subscribes again after a failure.

        ``heard`` is also called each time the subscription (re)opens: what was published while there was
        none is looked for at once rather than at the next poll.
        """
        failing = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if failing:
                    log.info("outbox watcher: listening on Redis again")
                failing = False
                heard()
                await self._receive(pubsub, heard)
            except (RedisError, OSError, TimeoutError) as error:
                if not failing:
                    log.warning("outbox watcher: Redis subscription lost (%s); polling until it is back", error)
                failing = True
            finally:
                close: Callable[[], Awaitable[None]] = pubsub.aclose  # untyped in redis-py
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await asyncio.wait_for(close(), RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)

    async def _receive(self, pubsub: PubSub, heard: Callable[[], None]) -> None:
        pinged = False
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS)
            if message is None:
                if pinged:  # a partition: the connection is open but nothing crosses
                    raise TimeoutError(f"no answer to PING within {KEEPALIVE_SECONDS:g} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                self.heard += 1
                heard()

    async def aclose(self) -> None:
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        await self._redis.aclose()


def announce_after_commit(session: AsyncSession) -> None:
    """In a transaction that appends events: this process's Redis wake (if any) publishes once it commits.

    A rolled-back transaction publishes nothing; a hook left behind by one fires at the session's next commit,
    a needless wake at worst (sessions here live for one transaction).
    """
    bind = session.get_bind()
    wake = _wakes.get(bind) if isinstance(bind, Engine) else None
    if wake is None or session.info.get(_ANNOUNCING):
        return
    session.info[_ANNOUNCING] = True

    def committed(_session: object) -> None:
        session.info.pop(_ANNOUNCING, None)
        wake.announce()

    event.listen(session.sync_session, "after_commit", committed, once=True)
