"""One business system's HTTP access (``HttpPort``): auth, timeout, concurrency limit, circuit breaker, retries.

Every HTTP attempt runs under the system's semaphore and breaker; the retry loop around the attempts
sleeps outside the semaphore so that a backing-off call does not hold a slot another call could use.
Whether any attempt of a logical call was retried is recorded in the contextvar-scoped tracker that
``track_retries()`` opens, so the source that made the call can say so in its provenance.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Self

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from connectors.base import BadResponse, ConnectorError, SystemTimeout, SystemUnavailable
from connectors.breaker import BreakerState, CircuitBreaker, CircuitOpen
from connectors.config import SystemConfig
from connectors.credentials import Credentials, credentials_for
from connectors.responses import check_status, decode_json, send

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Now = Callable[[], dt.datetime]
Params = Mapping[str, str | Sequence[str]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ClosedOnExit(ABC):
    """``async with`` for what owns connections (a system's client, the registry of them): however the block
    ends, ``aclose`` releases them."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None: ...


class RetryTracker:
    """Whether any HTTP request retried while this tracker was current; marks its enclosing trackers too."""

    def __init__(self, parent: RetryTracker | None) -> None:
        self.retried = False
        self._parent = parent

    def mark(self) -> None:
        tracker: RetryTracker | None = self
        while tracker is not None:
            tracker.retried = True
            tracker = tracker._parent


_current_tracker: ContextVar[RetryTracker | None] = ContextVar("connectors_retry_tracker", default=None)


@contextmanager
def track_retries() -> Iterator[RetryTracker]:
    """Scopes a logical call: tasks started inside it share the tracker (contextvars are copied by reference)."""
    tracker = RetryTracker(_current_tracker.get())
    token = _current_tracker.set(tracker)
    try:
        yield tracker
    finally:
        _current_tracker.reset(token)


def _note_retry(_: RetryCallState) -> None:
    tracker = _current_tracker.get()
    if tracker is not None:
        tracker.mark()


def _transient(error: BaseException) -> bool:
    """Worth another attempt: the system may answer next time. An open circuit will not, by design."""
    return isinstance(error, SystemTimeout | SystemUnavailable) and not isinstance(error, CircuitOpen)


def _retry_after_of(state: RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome is not None else None
    return error.retry_after if isinstance(error, ConnectorError) else None


class SystemClient(ClosedOnExit):
    """``HttpPort`` for one system. Owns its ``httpx.AsyncClient`` unless given one (with base URL and timeout set)."""

    def __init__(
        self,
        config: SystemConfig,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        now: Now = utcnow,
    ) -> None:
        self.system = config.name
        self._policy = config.policy
        self._owns_client = client is None
        if client is None:
            client = httpx.AsyncClient(base_url=config.base_url, timeout=config.policy.timeout, transport=transport)
        self._client = client
        self._origin = httpx.URL(config.base_url)
        self._sleep = sleep
        self._now = now
        self._limit = asyncio.Semaphore(config.policy.concurrency)
        self.breaker = CircuitBreaker(
            config.name, failures=config.policy.breaker_failures, reset=config.policy.breaker_reset, clock=clock
        )
        self._credentials: Credentials = credentials_for(config, self._client, clock=clock, now=now)
        self._backoff = wait_exponential_jitter(
            multiplier=config.policy.backoff, max=config.policy.max_backoff, jitter=config.policy.backoff
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def get(
        self, url: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.request("GET", url, params=params, headers=headers)

    async def get_json(
        self, url: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> object:
        return decode_json(self.system, await self.get(url, params=params, headers=headers))

    async def request(
        self, method: str, url: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One logical call: attempts until success, a permanent error, or the retries run out."""
        self._check_origin(url)
        query = None if params is None else httpx.QueryParams([(k, v) for k, vs in params.items() for v in _values(vs)])
        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(_transient),
            sleep=self._sleep,
            before_sleep=_note_retry,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await self._attempt(method, url, query, headers)
        except ConnectorError as error:
            error.retried = attempts > 1
            raise
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    async def _attempt(
        self, method: str, url: str, query: httpx.QueryParams | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        self.breaker.check()  # an open circuit refuses before queueing for a slot
        async with self._limit:
            self.breaker.enter()
            try:
                response = await self._authorised(method, url, query, headers)
            except BaseException as error:
                if _transient(error):
                    self.breaker.failed()
                elif isinstance(error, ConnectorError):
                    self.breaker.succeeded()
                else:
                    self.breaker.abandoned()
                raise
            self.breaker.succeeded()
            return response

    async def _authorised(
        self, method: str, url: str, query: httpx.QueryParams | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        auth_headers = await self._credentials.headers()
        response = await self._send(method, url, query, {**auth_headers, **(headers or {})})
        if response.status_code == 401 and self._credentials.renewable:
            # An access token can be revoked or expire early; fetch a new one once, then give up.
            auth_headers = await self._credentials.headers(rejected=auth_headers)
            response = await self._send(method, url, query, {**auth_headers, **(headers or {})})
        check_status(self.system, response, self._now())
        return response

    async def _send(
        self, method: str, url: str, query: httpx.QueryParams | None, headers: Mapping[str, str]
    ) -> httpx.Response:
        request = self._client.build_request(method, url, params=query, headers=headers)
        return await send(self.system, self._client, request)

    def _check_origin(self, url: str) -> None:
        """A server-given absolute URL must stay on the system's own origin: our credentials go with it."""
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise BadResponse(self.system, "an invalid URL") from None
        if target.is_relative_url:
            return
        if _origin(target) != _origin(self._origin):
            raise BadResponse(self.system, f"refusing to follow a link to another host: {target.host}")

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self._policy.retries or self.breaker.state is BreakerState.OPEN:
            return True
        # Waiting longer than max_backoff would hold the caller's request hostage; fail now instead.
        retry_after = _retry_after_of(state)
        return retry_after is not None and retry_after > self._policy.max_backoff

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        retry_after = _retry_after_of(state)
        return backoff if retry_after is None else max(backoff, retry_after)


def _values(value: str | Sequence[str]) -> Sequence[str]:
    return (value,) if isinstance(value, str) else value


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme))
