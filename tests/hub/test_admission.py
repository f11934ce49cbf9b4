"""The door of ``hub.admission``: as many requests inside as the pool serves; the rest wait, or learn when to retry."""

from __future__ import annotations

import asyncio
import json

import pytest

from hub import admission


def test_a_process_lets_in_one_request_per_pooled_connection_but_one() -> None:
    """A pool of 32 lets 31 in (one connection stays for the outbox's poll and webhook deliveries); SQLite, no limit."""
    assert admission.capacity({"pool_size": 32, "max_overflow": 0}) == 31
    assert admission.capacity({"pool_size": 1, "max_overflow": 0}) == 1
    assert admission.capacity({}) is None


async def test_a_request_waits_for_its_turn_and_enters_when_one_leaves() -> None:
    """The second request waits while the first is inside, and enters as soon as it leaves."""
    door = admission.Door(1, patience=60)
    entered: list[str] = []
    leave = asyncio.Event()

    async def request(name: str) -> None:
        async with door.entered():
            entered.append(name)
            await leave.wait()

    first = asyncio.create_task(request("first"))
    second = asyncio.create_task(request("second"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert entered == ["first"]
    leave.set()
    await asyncio.gather(first, second)
    assert entered == ["first", "second"]


async def test_a_request_whose_turn_does_not_come_is_refused_503_with_retry_after() -> None:
    """Past its patience a request is refused SERVER_BUSY, with Retry-After; the one inside is not disturbed."""
    door = admission.Door(1, patience=0.01)
    async with door.entered():
        with pytest.raises(admission.Busy) as refused:
            async with door.entered():
                pytest.fail("two requests inside a door for one")
    response = admission.busy(refused.value)
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(admission.RETRY_AFTER_SECONDS)
    assert json.loads(bytes(response.body))["errors"][0]["extensions"]["code"] == "SERVER_BUSY"
    async with door.entered():  # the place was given back
        pass


async def test_without_a_capacity_everyone_enters() -> None:
    door = admission.Door(None, patience=0.01)
    async with door.entered(), door.entered():
        pass
