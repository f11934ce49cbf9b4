"""SystemClient: requests relative to the base URL, retries only where they can help, errors mapped."""

from __future__ import annotations

import email.utils
from typing import Any, TypeVar

import httpx
import pytest

from connectors.base import BadResponse, ConnectorError, SystemTimeout, SystemUnavailable, Unauthorised
from connectors.config import BearerAuth
from connectors.http import SystemClient, track_retries
from tests.connectors.conftest import NOW, FakeClock, FakeSleep, Script, http_client, ok, system

E = TypeVar("E", bound=ConnectorError)


async def test_paths_are_relative_to_the_base_url_and_params_repeat(sleep: FakeSleep, clock: FakeClock) -> None:
    """A sequence parameter becomes repeated query parameters."""
    script = Script(httpx.Response(200, json=[]))
    config = system(base_url="https://finance.test/api/v1")
    async with SystemClient(config, transport=httpx.MockTransport(script), sleep=sleep, clock=clock) as port:
        await port.get("/metrics", params={"employee": ["E1", "E2"], "from": "2026-01-01"})
    assert str(script.requests[0].url) == "https://finance.test/api/v1/metrics?employee=E1&employee=E2&from=2026-01-01"


async def test_a_5xx_then_success_is_retried_and_says_so(sleep: FakeSleep, clock: FakeClock) -> None:
    """A transient failure costs one retry; the tracker of the logical call records it."""
    script = Script(httpx.Response(502), httpx.Response(200, json={"ok": True}))
    async with http_client(script, sleep, clock) as port:
        with track_retries() as tracker:
            assert await port.get_json("/x") == {"ok": True}
    assert len(script.requests) == 2
    assert len(sleep.calls) == 1
    assert tracker.retried


async def test_a_first_time_success_is_not_marked_retried(sleep: FakeSleep, clock: FakeClock) -> None:
    """retried means more than one attempt, nothing else."""
    async with http_client(ok, sleep, clock) as port:
        with track_retries() as tracker:
            await port.get_json("/x")
    assert not tracker.retried
    assert sleep.calls == []


async def test_429_waits_as_long_as_retry_after_says(sleep: FakeSleep, clock: FakeClock) -> None:
    """Retry-After in seconds replaces the (shorter) exponential backoff."""
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    async with http_client(script, sleep, clock) as port:
        await port.get_json("/x")
    assert sleep.calls == [7.0]
    assert len(script.requests) == 2


async def test_503_retry_after_may_be_an_http_date(sleep: FakeSleep, clock: FakeClock) -> None:
    """Retry-After as an HTTP-date is measured from now."""
    later = email.utils.format_datetime(NOW.replace(second=4), usegmt=True)
    script = Script(httpx.Response(503, headers={"Retry-After": later}), httpx.Response(200, json={}))
    async with http_client(script, sleep, clock) as port:
        await port.get_json("/x")
    assert sleep.calls == [4.0]


async def get_fails(error: type[E], script: Script, sleep: FakeSleep, clock: FakeClock, **policy: Any) -> E:
    """The ``error`` that ``GET /x`` through a port on ``script`` raises (the test fails on any other end)."""
    async with http_client(script, sleep, clock, **policy) as port:
        with pytest.raises(error) as caught:
            await port.get("/x")
    return caught.value


async def test_a_retry_after_beyond_max_backoff_fails_at_once(sleep: FakeSleep, clock: FakeClock) -> None:
    """Waiting an hour inside a GraphQL request helps nobody: give up and pass the hint on."""
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    caught = await get_fails(SystemUnavailable, script, sleep, clock)
    assert caught.retry_after == 3600.0
    assert not caught.retried
    assert len(script.requests) == 1
    assert sleep.calls == []


async def test_timeouts_are_retried_then_raised_as_system_timeout(sleep: FakeSleep, clock: FakeClock) -> None:
    """retries = 3 means four attempts; the error says it was retried."""
    script = Script(httpx.ReadTimeout("slow"))
    caught = await get_fails(SystemTimeout, script, sleep, clock, retries=3)
    assert len(script.requests) == 4
    assert len(sleep.calls) == 3
    assert caught.retried
    assert caught.system == "finance"


async def test_backoff_grows_exponentially_within_max_backoff(sleep: FakeSleep, clock: FakeClock) -> None:
    """Each wait is backoff * 2**n plus jitter of at most backoff, never above max_backoff."""
    script = Script(httpx.ConnectError("refused"))
    await get_fails(SystemUnavailable, script, sleep, clock, retries=4, backoff=1.0, max_backoff=5.0)
    lows, highs = [1, 2, 4, 5], [2, 3, 5, 5]
    assert all(low <= wait <= high for wait, low, high in zip(sleep.calls, lows, highs, strict=True))


async def test_a_refused_connection_is_system_unavailable(sleep: FakeSleep, clock: FakeClock) -> None:
    """Connection errors are transient: retried, then SystemUnavailable."""
    script = Script(httpx.ConnectError("refused"))
    caught = await get_fails(SystemUnavailable, script, sleep, clock, retries=1)
    assert len(script.requests) == 2
    assert caught.retried


@pytest.mark.parametrize(
    ("status", "error"), [(401, Unauthorised), (403, Unauthorised), (404, BadResponse), (400, BadResponse)]
)
async def test_4xx_is_never_retried(
    status: int, error: type[ConnectorError], sleep: FakeSleep, clock: FakeClock
) -> None:
    """Asking again with the same credentials or the same request gets the same answer."""
    script = Script(httpx.Response(status))
    caught = await get_fails(error, script, sleep, clock)
    assert len(script.requests) == 1
    assert sleep.calls == []
    assert not caught.retried


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b'{"truncated": '])
async def test_a_body_that_is_not_json_is_a_bad_response(body: bytes, sleep: FakeSleep, clock: FakeClock) -> None:
    """Garbage is not retried: the system answered, badly."""
    script = Script(httpx.Response(200, content=body))
    async with http_client(script, sleep, clock) as port:
        with pytest.raises(BadResponse):
            await port.get_json("/x")
    assert len(script.requests) == 1


async def test_a_link_to_another_host_is_refused_without_a_request(sleep: FakeSleep, clock: FakeClock) -> None:
    """A server-given next link must not carry our credentials elsewhere."""
    script = Script(httpx.Response(200, json={}))
    async with http_client(script, sleep, clock, auth=BearerAuth(token="t")) as port:
        with pytest.raises(BadResponse, match="another host"):
            await port.get("https://evil.test/steal")
        await port.get("https://finance.test:443/page2")
    assert [str(request.url) for request in script.requests] == ["https://finance.test/page2"]
