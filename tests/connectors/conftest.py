"""Test doubles for the connector framework: a recording sleep, a hand-driven clock, small configs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any

import httpx
import pytest

from connectors.config import (
    Auth,
    IdsParam,
    NoAuth,
    Pagination,
    PeriodParams,
    ResiliencePolicy,
    RestConfig,
    RestMetric,
    SystemConfig,
)
from connectors.http import SystemClient

Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
NO_AUTH = NoAuth()
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
"""The wall-clock time tests believe it is."""

POLICY = ResiliencePolicy(
    timeout=5.0,
    retries=3,
    backoff=0.01,
    max_backoff=10.0,
    concurrency=4,
    cache_ttl=300.0,
    stale_ttl=3600.0,
    breaker_failures=5,
    breaker_reset=30.0,
)


class FakeSleep:
    """Records what the retry loop would have slept, and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def metric(name: str = "voucher_error_rate", **overrides: Any) -> RestMetric:
    base = RestMetric(
        name=name,
        path=f"/api/{name}",
        ids=IdsParam(param="employees", style="csv"),
        map="data[].{employee: employee_no, value: value}",
        period=PeriodParams(start="from", end="to"),
        page=Pagination(style="none"),
    )
    return replace(base, **overrides)


def system(
    name: str = "finance",
    *,
    base_url: str = "https://finance.test",
    auth: Auth = NO_AUTH,
    metrics: Mapping[str, RestMetric] | None = None,
    **policy: Any,
) -> SystemConfig:
    return SystemConfig(
        name=name,
        kind="rest",
        base_url=base_url,
        auth=auth,
        policy=replace(POLICY, **policy),
        details=RestConfig(metrics=metrics if metrics is not None else {"voucher_error_rate": metric()}),
    )


def http_client(
    handler: Handler, sleep: FakeSleep, clock: FakeClock, *, auth: Auth | None = None, **policy: Any
) -> SystemClient:
    config = system(auth=auth, **policy) if auth is not None else system(**policy)
    return SystemClient(config, transport=httpx.MockTransport(handler), sleep=sleep, clock=clock, now=lambda: NOW)


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"path": request.url.path})


class Script:
    """A mock upstream: answers with the given responses (or raises the given exceptions) in turn, counting calls."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step
