"""The circuit breaker and the concurrency limit, as a SystemClient applies them per HTTP attempt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.base import BadResponse, SystemUnavailable
from connectors.breaker import BreakerState, CircuitOpen
from connectors.http import SystemClient
from tests.connectors.conftest import FakeClock, FakeSleep, Script, http_client


def state(port: SystemClient) -> BreakerState:
    return port.breaker.state


async def test_the_breaker_opens_after_consecutive_failures_and_refuses_without_http(
    sleep: FakeSleep, clock: FakeClock
) -> None:
    """breaker_failures failed attempts open the circuit; then calls fail at once."""
    script = Script(httpx.Response(500))
    async with http_client(script, sleep, clock, retries=0, breaker_failures=3) as port:
        for _ in range(3):
            with pytest.raises(SystemUnavailable):
                await port.get("/x")
        assert state(port) is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await port.get("/x")
    assert len(script.requests) == 3


async def test_retries_stop_once_the_breaker_opens(sleep: FakeSleep, clock: FakeClock) -> None:
    """No point sleeping before an attempt the open circuit would refuse anyway."""
    script = Script(httpx.Response(500))
    async with http_client(script, sleep, clock, retries=5, breaker_failures=2) as port:
        with pytest.raises(SystemUnavailable) as caught:
            await port.get("/x")
    assert not isinstance(caught.value, CircuitOpen)
    assert len(script.requests) == 2
    assert len(sleep.calls) == 1


async def test_a_half_open_trial_that_succeeds_closes_the_circuit(sleep: FakeSleep, clock: FakeClock) -> None:
    """After breaker_reset one trial goes through; its success lets everything through again."""
    script = Script(httpx.Response(500), httpx.Response(500), httpx.Response(200, json={}))
    async with http_client(script, sleep, clock, retries=0, breaker_failures=2, breaker_reset=30.0) as port:
        for _ in range(2):
            with pytest.raises(SystemUnavailable):
                await port.get("/x")
        clock.advance(29.9)
        with pytest.raises(CircuitOpen):
            await port.get("/x")
        clock.advance(0.1)
        assert state(port) is BreakerState.HALF_OPEN
        await port.get("/x")
        assert state(port) is BreakerState.CLOSED
        await port.get("/x")
    assert len(script.requests) == 4


async def test_a_half_open_trial_that_fails_opens_the_circuit_again(sleep: FakeSleep, clock: FakeClock) -> None:
    """One failed trial is enough to wait another breaker_reset."""
    script = Script(httpx.Response(500))
    async with http_client(script, sleep, clock, retries=0, breaker_failures=2, breaker_reset=30.0) as port:
        for _ in range(2):
            with pytest.raises(SystemUnavailable):
                await port.get("/x")
        clock.advance(30)
        with pytest.raises(SystemUnavailable) as caught:
            await port.get("/x")
        assert not isinstance(caught.value, CircuitOpen)
        assert state(port) is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await port.get("/x")
    assert len(script.requests) == 3


async def test_a_half_open_circuit_lets_exactly_one_trial_through(sleep: FakeSleep, clock: FakeClock) -> None:
    """While the trial is in flight, other calls are refused at once."""
    release, trial_started = asyncio.Event(), asyncio.Event()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return httpx.Response(500)
        trial_started.set()
        await release.wait()
        return httpx.Response(200, json={})

    async with http_client(handler, sleep, clock, retries=0, breaker_failures=2) as port:
        for _ in range(2):
            with pytest.raises(SystemUnavailable):
                await port.get("/x")
        clock.advance(30)
        trial = asyncio.create_task(port.get("/x"))
        await trial_started.wait()
        with pytest.raises(CircuitOpen):
            await port.get("/x")
        release.set()
        await trial
    assert calls == 3


async def test_4xx_does_not_count_towards_opening_the_circuit(sleep: FakeSleep, clock: FakeClock) -> None:
    """A 404 proves the system is up."""
    script = Script(httpx.Response(404))
    async with http_client(script, sleep, clock, breaker_failures=2) as port:
        for _ in range(4):
            with pytest.raises(BadResponse):
                await port.get("/x")
        assert state(port) is BreakerState.CLOSED


async def test_no_more_requests_are_in_flight_than_the_concurrency_limit(sleep: FakeSleep, clock: FakeClock) -> None:
    """Twenty concurrent calls on a system with concurrency = 3 never have more than three in flight."""
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json={})

    async with http_client(handler, sleep, clock, concurrency=3) as port:
        await asyncio.gather(*(port.get_json(f"/x/{n}") for n in range(20)))
    assert peak == 3
