"""The cache in front of the sources: fresh hits skip the system, failures fall back to stale answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

import httpx
import pytest

from connectors.base import (
    BadResponse,
    CompensationRecord,
    MetricBatch,
    MetricSource,
    Period,
    Provenance,
    RecordBatch,
    SystemNotConfigured,
    SystemTimeout,
    SystemUnavailable,
    TrainingRecord,
    TrainingSource,
    configured,
)
from connectors.cache import MemoryCache
from connectors.http import SystemClient
from connectors.resilient import (
    CachedCompensationSource,
    CachedMetricSource,
    CachedTrainingSource,
    cache_key,
    decode_record,
    encode_record,
)
from connectors.rest import RestMetricSource
from tests.connectors.conftest import NOW, POLICY, FakeClock, FakeSleep, metric, system

R = TypeVar("R", TrainingRecord, CompensationRecord)

PERIOD = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
TRAINING = TrainingRecord("t1", "E1", "Fire safety", dt.date(2026, 3, 2), 4.0, 92.5, "lrs", Provenance("lrs", NOW))
PAY = CompensationRecord("c1", "E2", dt.date(2026, 4, 1), 52000.0, None, "EUR", "MERIT", Provenance("payroll", NOW))


class FakeMetrics:
    """A MetricSource whose answers a test sets; counts upstream calls."""

    system = "finance"

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Exception | None = None
        self.value = 1.0

    def metrics(self) -> frozenset[str]:
        return frozenset({"voucher_error_rate"})

    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: Period, *, refresh: bool = False
    ) -> MetricBatch:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        values = dict.fromkeys(employee_numbers, self.value)
        return MetricBatch(metric, values, Provenance(self.system, NOW + dt.timedelta(seconds=self.calls)))


class FakeRecords:
    """Training and compensation from memory; like a careless source, it leaves out employees without records."""

    system = "hr"

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def _answer(self, records: dict[str, list[R]], outage: Exception) -> RecordBatch[R]:
        """Counts the call, then raises ``outage`` while down."""
        self.calls += 1
        if self.down:
            raise outage
        return RecordBatch(records, Provenance(self.system, NOW))

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]:
        return self._answer({"E1": [TRAINING]}, SystemTimeout(self.system, "slow"))

    async def fetch_compensation(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[CompensationRecord]:
        return self._answer({"E2": [PAY]}, SystemUnavailable(self.system, "down"))


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def cached(metrics: FakeMetrics, clock: FakeClock) -> CachedMetricSource:
    return CachedMetricSource(metrics, MemoryCache(clock=clock), POLICY)


def test_the_cache_key_ignores_order_and_duplicates_of_employees() -> None:
    """The same batch in another order is the same question."""
    assert cache_key("s", "c", ["E2", "E1", "E1"], PERIOD) == cache_key("s", "c", ["E1", "E2"], PERIOD)
    assert cache_key("s", "c", ["E1"], PERIOD) != cache_key("s", "c", ["E1"], None)
    assert cache_key("s", "c", ["E1"], PERIOD) != cache_key("s", "d", ["E1"], PERIOD)


def test_records_round_trip_through_json_with_iso_dates() -> None:
    """Dates travel as ISO strings and come back as dates."""
    assert encode_record(TRAINING)["completed_on"] == "2026-03-02"
    assert decode_record(TrainingRecord, encode_record(TRAINING), TRAINING.provenance) == TRAINING
    assert decode_record(CompensationRecord, encode_record(PAY), PAY.provenance) == PAY


async def test_a_fresh_entry_answers_without_calling_the_system(
    cached: CachedMetricSource, metrics: FakeMetrics, clock: FakeClock
) -> None:
    """Within cache_ttl the system is asked once, with the original fetch time kept."""
    assert isinstance(cached, MetricSource)
    first = await cached.fetch_metric("voucher_error_rate", ["E1", "E2"], PERIOD)
    clock.advance(POLICY.cache_ttl - 1)
    second = await cached.fetch_metric("voucher_error_rate", ["E2", "E1"], PERIOD)
    assert metrics.calls == 1
    assert second == first
    assert not second.provenance.stale


async def test_an_expired_entry_is_refreshed(
    cached: CachedMetricSource, metrics: FakeMetrics, clock: FakeClock
) -> None:
    """After cache_ttl a healthy system is asked again and the new answer wins."""
    await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    clock.advance(POLICY.cache_ttl)
    metrics.value = 2.0
    batch = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert metrics.calls == 2
    assert batch.values == {"E1": 2.0}
    assert not batch.provenance.stale


async def test_a_stale_entry_is_served_flagged_when_the_system_is_down(
    cached: CachedMetricSource, metrics: FakeMetrics, clock: FakeClock
) -> None:
    """The old answer, stale=True, fetched_at when it was really fetched."""
    fresh = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    clock.advance(POLICY.cache_ttl + 10)
    metrics.failure = SystemUnavailable("finance", "down", retried=True)
    batch = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert metrics.calls == 2
    assert batch.values == fresh.values
    assert batch.provenance.stale
    assert batch.provenance.retried
    assert batch.provenance.fetched_at == fresh.provenance.fetched_at


async def test_an_answer_the_source_trips_over_is_a_bad_response_and_falls_back_to_stale(
    cached: CachedMetricSource, metrics: FakeMetrics, clock: FakeClock
) -> None:
    """A parser's OverflowError (or any other surprise) is the system's bad answer, never an internal error."""
    metrics.failure = OverflowError("date value out of range")
    with pytest.raises(BadResponse) as raised:
        await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert raised.value.system == "finance" and "OverflowError" in raised.value.message
    metrics.failure = None
    fresh = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    clock.advance(POLICY.cache_ttl + 10)
    metrics.failure = RecursionError("maximum recursion depth exceeded")
    stale = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert stale.provenance.stale and stale.values == fresh.values


async def test_without_an_entry_the_error_goes_up(cached: CachedMetricSource, metrics: FakeMetrics) -> None:
    """Nothing to fall back on: the caller sees the system's error."""
    metrics.failure = SystemTimeout("finance", "slow")
    with pytest.raises(SystemTimeout):
        await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)


async def test_past_the_stale_window_the_error_goes_up(
    cached: CachedMetricSource, metrics: FakeMetrics, clock: FakeClock
) -> None:
    """stale_ttl bounds how old an answer may be."""
    await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    clock.advance(POLICY.cache_ttl + POLICY.stale_ttl)
    metrics.failure = SystemUnavailable("finance", "down")
    with pytest.raises(SystemUnavailable):
        await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)


async def test_a_different_batch_or_period_is_a_different_entry(
    cached: CachedMetricSource, metrics: FakeMetrics
) -> None:
    """Employees and period are part of the key."""
    await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    await cached.fetch_metric("voucher_error_rate", ["E1", "E2"], PERIOD)
    await cached.fetch_metric("voucher_error_rate", ["E1"], Period(PERIOD.start, dt.date(2026, 12, 31)))
    assert metrics.calls == 3


async def test_records_are_cached_complete_and_served_stale(clock: FakeClock) -> None:
    """Training and compensation: every employee asked about has an entry, also when served stale."""
    source = FakeRecords()
    cache = MemoryCache(clock=clock)
    training = CachedTrainingSource(source, cache, POLICY)
    compensation = CachedCompensationSource(source, cache, POLICY)
    batch = await training.fetch_training(["E1", "E3"])
    assert batch.records == {"E1": [TRAINING], "E3": []}
    pay = await compensation.fetch_compensation(["E2", "E3"], PERIOD)
    assert pay.records == {"E2": [PAY], "E3": []}
    clock.advance(POLICY.cache_ttl)
    source.down = True
    stale_training = await training.fetch_training(["E3", "E1"])
    stale_pay = await compensation.fetch_compensation(["E2", "E3"], PERIOD)
    assert stale_training.records == {"E1": [TRAINING], "E3": []}
    assert stale_pay.records == {"E2": [PAY], "E3": []}
    assert stale_training.provenance.stale and stale_pay.provenance.stale
    assert source.calls == 4


async def test_a_real_system_going_down_serves_the_stale_answer(sleep: FakeSleep, clock: FakeClock) -> None:
    """End to end over HTTP: answer, cache expires, the system fails every retry, the stale answer comes back."""
    up = True
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if not up:
            return httpx.Response(503)
        return httpx.Response(200, json={"data": [{"employee_no": "E1", "value": 0.25}]})

    config = system(metrics={"voucher_error_rate": metric()})
    wall = FakeClock(start=NOW.timestamp())
    async with SystemClient(config, transport=httpx.MockTransport(handler), sleep=sleep, clock=clock) as port:
        rest = RestMetricSource("finance", port, config.details, now=lambda: NOW)  # type: ignore[arg-type]
        cached = CachedMetricSource(rest, MemoryCache(clock=wall), config.policy)
        fresh = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
        wall.advance(config.policy.cache_ttl)
        up = False
        stale = await cached.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert stale.values == fresh.values == {"E1": 0.25}
    assert stale.provenance == Provenance("finance", NOW, stale=True, retried=True)
    assert calls == 1 + 1 + POLICY.retries


async def test_retries_seen_by_the_tracker_reach_provenance_even_if_the_source_ignores_them(
    sleep: FakeSleep, clock: FakeClock
) -> None:
    """A source that builds provenance without retried still reports a retried answer."""
    answers = [httpx.Response(500), httpx.Response(200, json={"ok": True})]
    port = SystemClient(system(), transport=httpx.MockTransport(lambda r: answers.pop(0)), sleep=sleep, clock=clock)

    class Careless(FakeMetrics):
        async def fetch_metric(
            self, metric: str, employee_numbers: Sequence[str], period: Period, *, refresh: bool = False
        ) -> MetricBatch:
            await port.get_json("/x")
            return MetricBatch(metric, {}, Provenance(self.system, NOW))

    async with port:
        batch = await CachedMetricSource(Careless(), MemoryCache(clock=clock), POLICY).fetch_metric("m", ["E1"], PERIOD)
    assert batch.provenance.retried


class BrokenRecords(FakeRecords):
    """A source with a bug: whatever it is asked, it raises something that is no ConnectorError."""

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]:
        raise KeyError("statement")

    async def fetch_compensation(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[CompensationRecord]:
        raise ZeroDivisionError("frequency")


async def test_what_a_linked_source_raises_comes_out_of_the_connectors_as_a_connector_error(clock: FakeClock) -> None:
    """The loaders catch ConnectorError only: a source's surprise is its system's BadResponse, named after it."""
    cache = MemoryCache(clock=clock)
    with pytest.raises(BadResponse) as training:
        await CachedTrainingSource(BrokenRecords(), cache, POLICY).fetch_training(["E1"])
    with pytest.raises(BadResponse) as compensation:
        await CachedCompensationSource(BrokenRecords(), cache, POLICY).fetch_compensation(["E1"], PERIOD)
    assert training.value.system == compensation.value.system == "hr"
    assert "KeyError" in training.value.message and "ZeroDivisionError" in compensation.value.message


def test_a_missing_system_is_a_connector_error_too() -> None:
    """No system of a kind configured: the caller meets it as it meets a failing one, with its own code."""
    source: TrainingSource | None = None
    with pytest.raises(SystemNotConfigured) as missing:
        configured(source, "training")
    assert missing.value.code == "SYSTEM_NOT_CONFIGURED"
    assert (missing.value.system, missing.value.message) == ("training", "no training system is configured")
    records = FakeRecords()
    assert configured(records, "training") is records
