"""Delivering the outbox through a database that can fail for a moment.

A subscriber must never be moved past an event it was not given. Two tools serve that:
``read_with_retries`` retries the reads a stream makes before it hands an event over (a short blip or
a pool timeout costs a pause, not an event), and ``WatchedSessions`` tells the stream whether any read
made after the hand-over (the client's selection, resolved by loaders) failed, so that it stops there
instead of going on to the next event.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")
log = logging.getLogger("perfhub.events")


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a stream's read is tried before the stream gives up."""

    attempts: int = 5
    first_delay: float = 0.1
    max_delay: float = 1.0

    def delay(self, failed_attempts: int) -> float:
        """Exponential backoff with jitter: the many subscribers one blip interrupts do not return in step."""
        ceiling = min(self.max_delay, self.first_delay * 2.0 ** (failed_attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class ReadFailed(Exception):
    """A read failed on every attempt; the last error is the ``__cause__``."""

    def __init__(self, what: str, attempts: int) -> None:
        super().__init__(f"{what} failed {attempts} times")
        self.what = what
        self.attempts = attempts


async def read_with_retries(read: Callable[[], Awaitable[T]], policy: RetryPolicy, what: str) -> T:
    """The result of ``read``, tried up to ``policy.attempts`` times; ``ReadFailed`` when none succeeds.

    Every exception is retried, not only the ones known to be transient: the drivers do not agree on
    what a dropped connection raises (asyncpg raises its own errors or OSError while connecting), and
    a read that fails for good costs only the few seconds of the policy before the stream ends.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return await read()
        except Exception as error:
            if attempt == policy.attempts:
                raise ReadFailed(what, attempt) from error
            log.warning(
                "result stream: %s failed (attempt %d of %d), retrying: %s: %s",
                what,
                attempt,
                policy.attempts,
                type(error).__name__,
                str(error).partition("\n")[0],  # not the statement and parameters SQLAlchemy appends
            )
            await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


class SessionWatch:
    """Counts the sessions that ended in an error; a stream compares the count around one delivery."""

    def __init__(self) -> None:
        self.failures = 0


class _WatchedSession(AsyncSession):
    watch: SessionWatch | None = None

    async def __aexit__(
        self, type_: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # An error escaping the ``async with`` body (a statement, a pool timeout, a dropped connection)
        # or the close itself; errors the body handled do not count.
        failed = isinstance(value, Exception)
        try:
            await super().__aexit__(type_, value, traceback)
        except Exception:
            failed = True
            raise
        finally:
            if failed and self.watch is not None:
                self.watch.failures += 1


class WatchedSessions(async_sessionmaker[AsyncSession]):
    """A sessionmaker configured like ``inner`` whose sessions report to ``watch`` when they fail.

    Loaders open a session per batch from whatever sessionmaker the request's context holds, so giving
    a context this one lets a stream see a failure in any field resolved for its event without touching
    the resolvers. ``inner`` stays available for reads the stream handles itself.
    """

    def __init__(self, inner: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(class_=_WatchedSession, **inner.kw)
        self.inner = inner
        self.watch = SessionWatch()

    def __call__(self, **local_kw: object) -> AsyncSession:
        session = super().__call__(**local_kw)
        if isinstance(session, _WatchedSession):
            session.watch = self.watch
        return session
