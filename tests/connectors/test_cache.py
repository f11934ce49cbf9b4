"""The caches: fresh, then stale-but-servable, then gone; in process and in a real Redis."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from connectors.cache import Cache, Clock, MemoryCache, RedisCache
from tests.connectors.conftest import NOW, FakeClock

# Set by .ci/run when a Redis answers: then an unreachable Redis fails the tests instead of skipping them.
CONFIGURED_REDIS_URL = os.environ.get("PERFHUB_TEST_REDIS_URL")
REDIS_URL = CONFIGURED_REDIS_URL or "redis://127.0.0.1:6379/0"


@contextlib.asynccontextmanager
async def redis_for_tests(clock: Clock = time.time) -> AsyncIterator[RedisCache]:
    """A Redis cache under a prefix of its own, emptied and closed on exit; the test skips without a Redis
    (fails, when PERFHUB_TEST_REDIS_URL says there is one)."""
    cache = RedisCache(REDIS_URL, prefix=f"perfhub-test:{uuid.uuid4().hex}:", clock=clock)
    if not await cache.ping():
        await cache.aclose()
        if CONFIGURED_REDIS_URL:
            pytest.fail(f"PERFHUB_TEST_REDIS_URL is set but Redis does not answer at {REDIS_URL}")
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    try:
        yield cache
    finally:
        await cache.clear()
        await cache.aclose()


@pytest.fixture
async def redis_cache(clock: FakeClock) -> AsyncIterator[RedisCache]:
    async with redis_for_tests(clock) as cache:
        yield cache


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest, clock: FakeClock) -> Cache:
    if request.param == "memory":
        return MemoryCache(clock=clock)
    redis_cache: RedisCache = request.getfixturevalue("redis_cache")
    return redis_cache


async def test_an_entry_is_fresh_then_stale_then_gone(cache: Cache, clock: FakeClock) -> None:
    """fresh_for seconds fresh, stale_for more seconds servable, then absent."""
    await cache.put("finance:k", {"values": {"E1": 1.5}}, fetched_at=NOW, fresh_for=60, stale_for=600)
    entry = await cache.get("finance:k")
    assert entry is not None
    assert (entry.value, entry.fetched_at, entry.fresh) == ({"values": {"E1": 1.5}}, NOW, True)
    clock.advance(60)
    entry = await cache.get("finance:k")
    assert entry is not None
    assert not entry.fresh
    clock.advance(599)
    assert await cache.get("finance:k") is not None
    clock.advance(1)
    assert await cache.get("finance:k") is None


async def test_a_missing_key_is_none(cache: Cache) -> None:
    """Nothing stored, nothing served."""
    assert await cache.get("finance:absent") is None


async def test_a_newer_answer_replaces_the_older(cache: Cache) -> None:
    """put overwrites, with the new fetch time."""
    later = NOW + dt.timedelta(minutes=5)
    await cache.put("k", [1], fetched_at=NOW, fresh_for=60, stale_for=60)
    await cache.put("k", [2], fetched_at=later, fresh_for=60, stale_for=60)
    entry = await cache.get("k")
    assert entry is not None
    assert (entry.value, entry.fetched_at) == ([2], later)


async def test_the_memory_cache_keeps_a_copy_and_stays_bounded(clock: FakeClock) -> None:
    """Changing a value after put does not change the cache; the oldest entries go first."""
    cache = MemoryCache(max_entries=2, clock=clock)
    value = {"values": {"E1": 1.0}}
    await cache.put("a", value, fetched_at=NOW, fresh_for=60, stale_for=60)
    value["values"]["E1"] = 99.0
    entry = await cache.get("a")
    assert entry is not None
    assert entry.value == {"values": {"E1": 1.0}}
    await cache.put("b", 2, fetched_at=NOW, fresh_for=60, stale_for=60)
    await cache.put("c", 3, fetched_at=NOW, fresh_for=60, stale_for=60)
    assert len(cache) == 2
    assert await cache.get("a") is None


async def test_redis_entries_expire_in_redis_too(redis_cache: RedisCache) -> None:
    """Redis drops an entry when it could no longer be served: nothing to sweep."""
    await redis_cache.put("k", 1, fetched_at=NOW, fresh_for=60, stale_for=600)
    ttl = await redis_cache._redis.pttl(redis_cache._prefix + "k")
    assert 0 < ttl <= 660_000


async def test_redis_keys_are_namespaced_and_clear_removes_only_ours(redis_cache: RedisCache, clock: FakeClock) -> None:
    """Two caches with different prefixes on one server do not see each other."""
    other = RedisCache(REDIS_URL, prefix=f"perfhub-test:{uuid.uuid4().hex}:", clock=clock)
    try:
        await redis_cache.put("k", "mine", fetched_at=NOW, fresh_for=60, stale_for=60)
        await other.put("k", "theirs", fetched_at=NOW, fresh_for=60, stale_for=60)
        await redis_cache.clear()
        assert await redis_cache.get("k") is None
        entry = await other.get("k")
        assert entry is not None
        assert entry.value == "theirs"
    finally:
        await other.clear()
        await other.aclose()


async def test_a_corrupt_redis_entry_is_a_miss(redis_cache: RedisCache) -> None:
    """Whatever else wrote under our prefix, reading it never raises."""
    await redis_cache._redis.set(redis_cache._prefix + "k", b"not json", px=60_000)
    assert await redis_cache.get("k") is None


async def test_an_unreachable_redis_behaves_as_an_empty_cache(clock: FakeClock) -> None:
    """The cache is a fallback: a Redis outage must not fail requests the systems could answer."""
    cache = RedisCache("redis://127.0.0.1:1/0", prefix="perfhub-test:", clock=clock, timeout=0.5)
    try:
        await cache.put("k", 1, fetched_at=NOW, fresh_for=60, stale_for=60)
        assert await cache.get("k") is None
        assert not await cache.ping()
    finally:
        await cache.aclose()
