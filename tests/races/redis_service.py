"""The Redis of the tests that wake hub processes through it: PERFHUB_TEST_REDIS_URL, else the local default.

A test skips, saying so in one line, when no Redis answers, and fails when PERFHUB_TEST_REDIS_URL names one
that does not. Every test takes a channel of its own, so that tests running side by side on one Redis never
wake each other's hubs.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest
import redis

CONFIGURED_REDIS_URL = os.environ.get("PERFHUB_TEST_REDIS_URL")
REDIS_URL = CONFIGURED_REDIS_URL or "redis://127.0.0.1:6379/0"


def answering_redis() -> str:
    """The tests' Redis URL, once it answered a PING."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        if CONFIGURED_REDIS_URL:
            pytest.fail(f"PERFHUB_TEST_REDIS_URL is set but Redis does not answer at {REDIS_URL}")
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL


def address(url: str) -> tuple[str, int]:
    """Host and port of a redis:// URL (for a proxy in front of it)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def through(url: str, port: int) -> str:
    """The same Redis URL (database, password) pointing at a proxy on loopback ``port``."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return parts._replace(netloc=netloc).geturl()


def fresh_channel() -> str:
    return f"perfhub-test:{uuid.uuid4().hex}:outbox"
