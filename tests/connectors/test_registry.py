"""Systems: one client per system, metrics routed to the system that measures them, everything cached."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from connectors.base import CompensationSource, MetricSource, Period, SystemUnavailable, TrainingSource
from connectors.cache import MemoryCache
from connectors.config import SystemsConfig, parse_systems
from connectors.registry import Systems
from connectors.resilient import CachedCompensationSource, CachedMetricSource, CachedTrainingSource
from tests.connectors.conftest import FakeClock, FakeSleep

PERIOD = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
ENVIRON = {"FINANCE_TOKEN": "fin", "SECURITY_KEY": "sec", "LRS_USER": "u", "LRS_PASSWORD": "p"}


def rest_system(host: str, auth: dict[str, str], metrics: list[str]) -> dict[str, Any]:
    return {
        "kind": "rest",
        "base_url": f"https://{host}",
        "auth": auth,
        "retries": 1,
        "metrics": {
            name: {
                "path": f"/metrics/{name}",
                "ids": {"param": "employees"},
                "period": {"start": "from", "end": "to"},
                "map": "data[].{employee: employee_no, value: value}",
            }
            for name in metrics
        },
    }


REST_ONLY: dict[str, Any] = {
    "defaults": {"cache_ttl": 60, "stale_ttl": 600},
    "systems": {
        "finance": rest_system(
            "finance.test", {"type": "bearer", "token_env": "FINANCE_TOKEN"}, ["voucher_error_rate", "cycle_days"]
        ),
        "security": rest_system(
            "security.test", {"type": "api_key", "header": "X-Key", "key_env": "SECURITY_KEY"}, ["patrol_rate"]
        ),
    },
}
WITH_RECORDS: dict[str, Any] = {
    "systems": {
        **REST_ONLY["systems"],
        "training": {
            "kind": "xapi",
            "base_url": "https://lrs.test/xapi",
            "auth": {"type": "basic", "username_env": "LRS_USER", "password_env": "LRS_PASSWORD"},
            "verb": "http://adlnet.gov/expapi/verbs/completed",
            "account_home_page": "https://hr.test",
        },
        "payroll": {
            "kind": "odata",
            "base_url": "https://payroll.test/odata/v2",
            "auth": {"type": "none"},
            "entity_set": "EmpCompensation",
            "ids_per_request": 10,
        },
    }
}


class Upstream:
    """Every system on one mock transport; answers by host, counting calls per host."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.down: set[str] = set()
        self.auth: dict[str, dict[str, str]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.calls[host] = self.calls.get(host, 0) + 1
        self.auth[host] = {k: v for k, v in request.headers.items() if k in {"authorization", "x-key"}}
        if host in self.down:
            return httpx.Response(503)
        employees = request.url.params["employees"].split(",")
        value = float(len(request.url.path))
        return httpx.Response(200, json={"data": [{"employee_no": e, "value": value} for e in employees]})


def config(data: dict[str, Any]) -> SystemsConfig:
    return parse_systems(data, ENVIRON)


def systems(data: dict[str, Any], upstream: Upstream, sleep: FakeSleep, clock: FakeClock, **kwargs: Any) -> Systems:
    return Systems(config(data), transport=httpx.MockTransport(upstream), sleep=sleep, clock=clock, **kwargs)


async def test_each_metric_goes_to_the_system_that_measures_it(sleep: FakeSleep, clock: FakeClock) -> None:
    """metric_source routes by metric name; each system gets its own credentials."""
    upstream = Upstream()
    async with systems(REST_ONLY, upstream, sleep, clock) as registry:
        assert registry.metric_names() == frozenset({"voucher_error_rate", "cycle_days", "patrol_rate"})
        voucher = registry.metric_source("voucher_error_rate")
        patrol = registry.metric_source("patrol_rate")
        assert isinstance(voucher, MetricSource) and isinstance(patrol, MetricSource)
        assert isinstance(voucher, CachedMetricSource)
        assert (voucher.system, patrol.system) == ("finance", "security")
        assert registry.metric_source("unknown") is None
        batch = await patrol.fetch_metric("patrol_rate", ["E1", "E2"], PERIOD)
        await voucher.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert batch.values == {"E1": 20.0, "E2": 20.0}
    assert upstream.calls == {"security.test": 1, "finance.test": 1}
    assert upstream.auth["finance.test"] == {"authorization": "Bearer fin"}
    assert upstream.auth["security.test"] == {"x-key": "sec"}


async def test_without_training_or_payroll_systems_those_sources_are_none(sleep: FakeSleep, clock: FakeClock) -> None:
    """A hub may run with REST systems only."""
    async with systems(REST_ONLY, Upstream(), sleep, clock) as registry:
        assert registry.training is None
        assert registry.compensation is None


async def test_xapi_and_odata_systems_become_cached_training_and_compensation_sources(
    sleep: FakeSleep, clock: FakeClock
) -> None:
    """The kind decides the connector; the cache wraps it like any other source."""
    from connectors.payroll.odata import ODataCompensationSource
    from connectors.training.xapi import XapiTrainingSource

    async with systems(WITH_RECORDS, Upstream(), sleep, clock) as registry:
        training, compensation = registry.training, registry.compensation
        assert isinstance(training, CachedTrainingSource) and isinstance(training, TrainingSource)
        assert isinstance(compensation, CachedCompensationSource) and isinstance(compensation, CompensationSource)
        assert isinstance(training.source, XapiTrainingSource)
        assert isinstance(compensation.source, ODataCompensationSource)
        assert (training.system, compensation.system) == ("training", "payroll")


async def test_answers_are_cached_and_served_stale_while_a_system_is_down(sleep: FakeSleep, clock: FakeClock) -> None:
    """Through the registry: a repeat hits the cache, and a failing system falls back to the stale entry."""
    upstream = Upstream()
    wall = FakeClock()
    async with systems(REST_ONLY, upstream, sleep, clock, cache=MemoryCache(clock=wall)) as registry:
        source = registry.metric_source("cycle_days")
        assert source is not None
        first = await source.fetch_metric("cycle_days", ["E1"], PERIOD)
        await source.fetch_metric("cycle_days", ["E1"], PERIOD)
        assert upstream.calls == {"finance.test": 1}
        wall.advance(60)
        upstream.down.add("finance.test")
        stale = await source.fetch_metric("cycle_days", ["E1"], PERIOD)
        assert stale.values == first.values
        assert stale.provenance.stale
        with pytest.raises(SystemUnavailable):
            await source.fetch_metric("cycle_days", ["E2"], PERIOD)
    assert upstream.calls == {"finance.test": 1 + 2 + 2}


async def test_each_system_has_its_own_breaker(sleep: FakeSleep, clock: FakeClock) -> None:
    """One system's outage does not open another system's circuit."""
    upstream = Upstream()
    upstream.down.add("finance.test")
    async with systems(REST_ONLY, upstream, sleep, clock) as registry:
        source = registry.metric_source("voucher_error_rate")
        assert source is not None
        for n in range(3):
            with pytest.raises(SystemUnavailable):
                await source.fetch_metric("voucher_error_rate", [f"E{n}"], PERIOD)
        assert registry.client("finance").breaker.state.value == "open"
        assert registry.client("security").breaker.state.value == "closed"


async def test_a_closed_registry_refuses_use(sleep: FakeSleep, clock: FakeClock) -> None:
    """Sources exist only between open() and aclose(): the app's lifespan owns them."""
    registry = systems(REST_ONLY, Upstream(), sleep, clock)
    with pytest.raises(RuntimeError, match="not open"):
        registry.metric_source("voucher_error_rate")
    await registry.open()
    assert registry.metric_source("voucher_error_rate") is not None
    await registry.aclose()
    with pytest.raises(RuntimeError, match="not open"):
        _ = registry.training


async def test_a_given_cache_is_left_open_for_its_owner(sleep: FakeSleep, clock: FakeClock) -> None:
    """The caller that made a (Redis) cache closes it; the registry only closes the one it made."""
    cache = MemoryCache(clock=clock)
    async with systems(REST_ONLY, Upstream(), sleep, clock, cache=cache) as registry:
        source = registry.metric_source("patrol_rate")
        assert source is not None
        await source.fetch_metric("patrol_rate", ["E1"], PERIOD)
    assert len(cache) == 1
