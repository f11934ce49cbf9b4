"""The webhook worker: a task in the hub's process that enqueues, claims, posts and records.

Everything it knows is in the database (``hub/webhooks/queue.py``), so it can be stopped at any point:
a delivery it was posting keeps its lease until the lease runs out, then any worker (this process
restarted, or another hub process) posts it again as the next attempt. Delivery is at-least-once; the
receiver de-duplicates by ``webhook-id``, the event's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import utcnow
from hub.events.watcher import OutboxWatcher
from hub.webhooks.addresses import TargetPolicy, TargetRefused, Unresolvable
from hub.webhooks.queue import DEAD, DELIVERED, DISABLED, RETRYING, Claimed, Outcome, claim, enqueue, record
from hub.webhooks.signing import cloud_event, signature_headers

log = logging.getLogger("perfhub.webhooks")
CLAIM_BATCH = 20
"""Deliveries posted at once (to different endpoints: an endpoint has one due delivery at a time)."""
SOURCE = "/perfhub/results"
"""The CloudEvents ``source``: the hub's result stream."""
TIMEOUT, UNREACHABLE = "timeout", "unreachable"
"""The delivery log's words for an attempt that got no HTTP answer."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a failed delivery is tried again: the delays between tries, jittered, and Retry-After's ceiling."""

    retry_seconds: tuple[float, ...]
    max_retry_after: float

    def delay(self, tries: int) -> float | None:
        """The wait after the ``tries``-th failed try of a round; None after the last: the delivery is dead.

        Jittered down by up to a fifth, so that the many deliveries one outage failed do not all come back
        in the same second (never later than the schedule says: a receiver may plan on it).
        """
        if tries > len(self.retry_seconds):
            return None
        base = self.retry_seconds[tries - 1]
        return base * random.uniform(0.8, 1.0)

    def retry_after(self, response: httpx.Response, now: dt.datetime) -> float | None:
        """The receiver's Retry-After in seconds (delta or HTTP date) on 429 and 503, within the ceiling."""
        if response.status_code not in (429, 503):
            return None
        value = response.headers.get("retry-after", "").strip()
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = (when - now).total_seconds()
        return min(max(seconds, 0.0), self.max_retry_after)


class WebhookWorker:
    """Delivers until stopped; one per hub process (``run`` in the app's lifespan, or driven by ``step``)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        watcher: OutboxWatcher | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.watcher = watcher
        """The process's reader of the outbox: new events wake the worker at once instead of at its next poll."""
        self.schedule = Schedule(settings.webhook_retry_seconds, settings.webhook_max_retry_after_seconds)
        self.policy = TargetPolicy.of(settings)
        # No redirects: a signed body goes only where hr_admin pointed it.
        self.http = httpx.AsyncClient(
            transport=transport, timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def step(self) -> int:
        """One round: enqueue new events, claim what is due, post it all; how many attempts were made."""
        await enqueue(self.sessionmaker)
        claimed = await claim(self.sessionmaker, limit=CLAIM_BATCH, lease_seconds=self.settings.webhook_lease_seconds)
        # Every delivery runs to its end before a failure of one is raised: none is left running unwatched.
        outcomes = await asyncio.gather(*(self._deliver(one) for one in claimed), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(claimed)

    async def run(self) -> None:
        """Steps until cancelled; a round with nothing to do waits for new events (the process's watcher) or the
        poll interval, whichever comes first: due retries and replays have no notification of their own."""
        while True:
            seen = self.watcher.log.end if self.watcher is not None else 0
            try:
                made = await self.step()
            except Exception as error:
                # A database blip must not end delivery for the life of the process: the state is in the
                # database, so the next round picks up where this one failed. One line, not a traceback: an
                # outage is expected, and its statement and parameters do not belong in the log.
                log.warning(
                    "webhook worker: a round failed, trying again: %s: %s",
                    type(error).__name__,
                    str(error).partition("\n")[0],
                )
                made = 0
            if not made:
                if self.watcher is not None:
                    await self.watcher.wait_beyond(seen, self.settings.webhook_poll_seconds)
                else:
                    await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def _deliver(self, claimed: Claimed) -> None:
        outcome = await self._post(claimed)
        await record(self.sessionmaker, claimed, outcome)

    async def _post(self, claimed: Claimed) -> Outcome:
        body = cloud_event(
            event_id=claimed.event_id,
            event_type=claimed.event_type,
            source=SOURCE,
            occurred_at=claimed.occurred_at,
            outbox_id=claimed.outbox_id,
            data=claimed.data,
        )
        now = utcnow()
        headers = signature_headers(
            event_id=claimed.event_id, body=body, secrets_in_force=claimed.secrets, now=now, attempt=claimed.attempt
        )
        started = time.perf_counter()
        response: httpx.Response | None = None
        error: str | None = None
        # Connection-level failures are told only as "unreachable" or "timeout": the exception's class and
        # text tell a closed port from an open one, which would make the delivery log a port scanner.
        try:
            await self.policy.check(claimed.url)
            response = await self.http.post(claimed.url, content=body, headers=headers)
        except TargetRefused as refused:
            # Not retried: the address will not become public by waiting, and a retry storm at an internal
            # address is what the check is there to stop. hr_admin enables the endpoint once the URL is fixed.
            at = utcnow()
            return Outcome(DISABLED, None, str(refused), 0, at, at, disabled_reason=str(refused))
        except httpx.TimeoutException:
            error = TIMEOUT
        except (httpx.HTTPError, Unresolvable):
            error = UNREACHABLE
        at = utcnow()
        latency_ms = round((time.perf_counter() - started) * 1000)
        status = response.status_code if response is not None else None
        if response is not None and 200 <= response.status_code < 300:
            return Outcome(DELIVERED, status, None, latency_ms, at)
        if status == 410:
            return Outcome(
                DISABLED,
                status,
                "410 Gone: the endpoint is disabled",
                latency_ms,
                at,
                at,
                disabled_reason="the receiver answered 410 Gone",
            )
        if response is not None:
            error = f"HTTP {status}"
        wait = self.schedule.delay(claimed.tries)
        if wait is None:
            return Outcome(DEAD, status, error, latency_ms, at)
        asked = self.schedule.retry_after(response, at) if response is not None else None
        if asked is not None:
            wait = max(wait, asked)
        return Outcome(RETRYING, status, error, latency_ms, at, at + dt.timedelta(seconds=wait))


@contextlib.asynccontextmanager
async def running(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, watcher: OutboxWatcher | None = None
) -> AsyncIterator[WebhookWorker | None]:
    """The worker running as a task for the length of the block, when the settings switch it on."""
    if not settings.webhooks:
        yield None
        return
    worker = WebhookWorker(sessionmaker, settings, watcher=watcher)
    task = asyncio.create_task(worker.run(), name="perfhub-webhooks")
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.aclose()
