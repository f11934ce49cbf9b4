"""Token buckets that make abuse cost the abuser: per person, counted in estimated cost, optionally shared.

A bucket holds ``burst`` tokens and refills at ``rate`` per second. An operation takes one token when it
arrives and, once its estimated cost is known, ``ceil(cost / unit) - 1`` more (schema/limits.py), so an
expensive query drains its caller's bucket and nobody else's. The key is the person the token binds
(``person:<employee number>``), not the token: several tokens of one person share one bucket.

In process by default: N hub processes then each allow the rate. With ``PERFHUB_RATE_LIMIT_REDIS_URL`` the
buckets live in Redis, one per key for every process; when Redis does not answer, the process falls back
to its own buckets (a warning is logged) rather than refusing everyone.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hub.auth import Principal

log = logging.getLogger("perfhub")


def principal_key(principal: Principal, address: str | None) -> str:
    """The bucket a principal's operations draw from: the person, the system's subject, or the client address."""
    if principal.employee_number is not None:
        return f"person:{principal.employee_number}"
    if principal.is_anonymous:  # anonymous callers share no bucket with each other, only with their address
        return f"anonymous:{address or '-'}"
    return f"subject:{principal.subject}"


def tokens_for(cost: int, unit: int) -> int:
    """How many tokens an operation of estimated ``cost`` takes: one per ``unit`` started, at least one."""
    return max(1, math.ceil(cost / max(unit, 1)))


class Buckets(Protocol):
    """What the hub asks of a set of token buckets, in process or in Redis."""

    @property
    def enabled(self) -> bool: ...

    async def take(self, key: str, amount: float = 1.0) -> float:
        """Takes ``amount`` tokens (at most the burst): 0.0 when taken, else the seconds until they are there."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows ``burst`` tokens at once per key, refilled at ``rate`` per second; in this process."""

    def __init__(
        self, rate: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self.max_keys = max_keys
        self.clock = clock
        # Least recently used first, so that a flood of distinct keys cannot grow memory without bound.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: str, amount: float = 1.0, *, need: float | None = None) -> float:
        """Takes ``amount`` tokens for ``key`` when the bucket holds ``need`` (default: the amount).

        Returns 0.0 when allowed, else the seconds until the bucket holds what was needed. An amount
        above the burst is clamped to it, so that the costliest admissible operation can still run.
        """
        if not self.enabled:
            return 0.0
        amount = min(amount, float(self.burst))
        need = amount if need is None else min(need, float(self.burst))
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= need:
            bucket.tokens -= amount
            return 0.0
        return (need - bucket.tokens) / self.rate

    async def take(self, key: str, amount: float = 1.0) -> float:
        return self.acquire(key, amount)


# KEYS[1]: the bucket; ARGV: rate, burst, amount, need. Redis's own clock, so that processes on hosts with
# skewed clocks agree; the bucket expires once it would be full again.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local amount, need = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil or updated == nil then
  tokens, updated = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= need then
  tokens = tokens - amount
else
  wait = (need - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same buckets, kept in Redis so that every hub process draws from one bucket per key."""

    def __init__(self, url: str, rate: float, burst: int, *, prefix: str = "perfhub:ratelimit:") -> None:
        from redis.asyncio import Redis

        self.rate = rate
        self.burst = max(burst, 1)
        self.prefix = prefix
        # Short timeouts: a rate limit that waits on a stuck Redis would slow every request down.
        self.redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self.redis.register_script(_TAKE)
        self.fallback = RateLimiter(rate, burst)
        self._warned_at = -math.inf

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def _run(self, key: str, amount: float, need: float) -> float:
        if not self.enabled:
            return 0.0
        amount = min(amount, float(self.burst))
        need = min(need, float(self.burst))
        try:
            wait = await self._script(keys=[self.prefix + key], args=[self.rate, self.burst, amount, need])
            return float(wait)
        except Exception as error:  # any Redis failure: this process's own buckets, never a refusal of everyone
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning("rate limit: Redis unavailable (%s), limiting in process", type(error).__name__)
            return self.fallback.acquire(key, amount, need=need)

    async def take(self, key: str, amount: float = 1.0) -> float:
        return await self._run(key, amount, amount)

    async def close(self) -> None:
        await self.redis.aclose()


def make_buckets(rate: float, burst: int, redis_url: str | None, *, prefix: str) -> RateLimiter | RedisRateLimiter:
    """Buckets in Redis when a URL is configured, else in this process."""
    if redis_url:
        return RedisRateLimiter(redis_url, rate, burst, prefix=prefix)
    return RateLimiter(rate, burst)


class SubscriptionSlots:
    """Counts the live subscriptions per principal key and in this process; refuses past either cap."""

    def __init__(self, per_principal: int, per_process: int) -> None:
        self.per_principal = per_principal
        self.per_process = per_process
        self._held: dict[str, int] = {}
        self.total = 0

    def acquire(self, key: str) -> str | None:
        """Takes a slot for ``key``: None when taken, else which cap refused it (``max_subscriptions...``)."""
        if self.per_principal > 0 and self._held.get(key, 0) >= self.per_principal:
            return "max_subscriptions"
        if self.per_process > 0 and self.total >= self.per_process:
            return "max_subscriptions_per_process"
        self._held[key] = self._held.get(key, 0) + 1
        self.total += 1
        return None

    def release(self, key: str) -> None:
        held = self._held.get(key, 0) - 1
        if held <= 0:
            self._held.pop(key, None)
        else:
            self._held[key] = held
        self.total = max(0, self.total - 1)

    def held(self, key: str) -> int:
        return self._held.get(key, 0)
