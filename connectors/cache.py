"""Where connector answers are kept: fresh for a while, then stale but servable while a system is down.

Values are JSON-able, so the same entries live in process (``MemoryCache``) or in Redis
(``RedisCache``), where every hub process shares them. Times are wall-clock epoch seconds because
Redis entries outlive a process and are read by other hosts.

A cache is an optimisation and a fallback, never a reason to fail: when Redis cannot be reached the
Redis cache logs it and behaves as an empty cache.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
import redis.exceptions

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    value: object
    """JSON as ``json.loads`` gives it back: the reader checks its shape."""
    fetched_at: dt.datetime
    fresh: bool
    """False once the entry's fresh time is over: serve it only when the system cannot answer."""


class Cache(Protocol):
    async def get(self, key: str) -> CacheEntry | None:
        """The entry while it may still be served (fresh or stale); ``None`` when absent or too old."""
        ...

    async def put(
        self, key: str, value: object, *, fetched_at: dt.datetime, fresh_for: float, stale_for: float
    ) -> None:
        """Keeps ``value`` fresh for ``fresh_for`` seconds and servable-when-stale for ``stale_for`` more."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Stored:
    value: object
    fetched_at: dt.datetime
    fresh_until: float
    stale_until: float

    def entry(self, now: float) -> CacheEntry | None:
        if now >= self.stale_until:
            return None
        return CacheEntry(value=self.value, fetched_at=self.fetched_at, fresh=now < self.fresh_until)


class MemoryCache:
    """An in-process cache, bounded so that a long-running hub does not grow without end."""

    def __init__(self, *, max_entries: int = 10_000, clock: Clock = time.time) -> None:
        self._entries: OrderedDict[str, _Stored] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CacheEntry | None:
        stored = self._entries.get(key)
        if stored is None:
            return None
        entry = stored.entry(self._clock())
        if entry is None:
            del self._entries[key]
        return entry

    async def put(
        self, key: str, value: object, *, fetched_at: dt.datetime, fresh_for: float, stale_for: float
    ) -> None:
        now = self._clock()
        # A copy through JSON: callers must not be able to change what the cache holds, and a value
        # that would not survive Redis should fail here too.
        value = json.loads(json.dumps(value))
        self._entries.pop(key, None)
        self._entries[key] = _Stored(value, fetched_at, now + fresh_for, now + fresh_for + stale_for)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def clear(self) -> None:
        self._entries.clear()

    async def aclose(self) -> None:
        self._entries.clear()


class RedisCache:
    """A cache shared by every hub process, in Redis; keys carry ``prefix`` so deployments can share a server."""

    def __init__(
        self,
        url: str,
        prefix: str = "perfhub:connectors:",
        *,
        clock: Clock = time.time,
        timeout: float = 1.0,
        client: redis.asyncio.Redis | None = None,
    ) -> None:
        # A short socket timeout: a cache that hangs would turn into the slow system it should hide.
        if client is None:
            client = redis.asyncio.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    async def get(self, key: str) -> CacheEntry | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except (redis.exceptions.RedisError, OSError) as error:
            log.warning("connector cache unavailable, reading %s: %s", key, error)
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            stored = _Stored(
                value=data["value"],
                fetched_at=dt.datetime.fromisoformat(data["fetched_at"]),
                fresh_until=float(data["fresh_until"]),
                stale_until=float(data["stale_until"]),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("connector cache entry %s is unreadable; ignoring it", key)
            return None
        return stored.entry(self._clock())

    async def put(
        self, key: str, value: object, *, fetched_at: dt.datetime, fresh_for: float, stale_for: float
    ) -> None:
        now = self._clock()
        keep_for = fresh_for + stale_for
        if keep_for <= 0:
            return
        payload = json.dumps(
            {
                "value": value,
                "fetched_at": fetched_at.isoformat(),
                "fresh_until": now + fresh_for,
                "stale_until": now + keep_for,
            }
        )
        try:
            # Redis forgets the entry when it could no longer be served, so nothing needs sweeping.
            await self._redis.set(self._prefix + key, payload, px=max(1, int(keep_for * 1000)))
        except (redis.exceptions.RedisError, OSError) as error:
            log.warning("connector cache unavailable, writing %s: %s", key, error)

    async def clear(self) -> None:
        """Deletes every entry under this cache's prefix (tests, and operators after a bad deploy)."""
        keys = [key async for key in self._redis.scan_iter(match=_glob_escape(self._prefix) + "*")]
        if keys:
            await self._redis.delete(*keys)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis.exceptions.RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()


def _glob_escape(text: str) -> str:
    """A literal prefix for Redis's glob-style MATCH."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
