"""A streamed export whose client stops reading gives its place up (insider review F1): two stalled clients
used to hold both of a process's export places for ever, refusing every other export with EXPORTS_BUSY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from starlette.types import Message

from hub.export import endpoint


async def _chunks(closed: list[bool] | None = None) -> AsyncGenerator[bytes, None]:
    try:
        for _ in range(100):
            yield b"x" * 1024
    finally:
        if closed is not None:
            closed.append(True)


async def test_a_client_that_takes_nothing_is_dropped_and_its_place_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoint, "SEND_TIMEOUT_SECONDS", 0.2)
    places = asyncio.Semaphore(1)
    await places.acquire()
    never = asyncio.Event()
    sent: list[Message] = []

    async def stalled_send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await never.wait()  # the transport's buffer is full and the client reads nothing

    async def receive() -> Message:
        await never.wait()
        return {"type": "http.disconnect"}

    closed: list[bool] = []

    def give_back() -> None:
        # The body (and with it the export's session and cursor) is closed before the place is given back.
        assert closed == [True], "the export's place went back while its reader still held its connection"
        places.release()

    response = endpoint._Streamed(_chunks(closed), media_type="text/csv", headers={}, done=give_back)
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "method": "GET"}
    await asyncio.wait_for(response(scope, receive, stalled_send), 5)
    assert not places.locked(), "the export's place was not given back"
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]


async def test_a_client_that_reads_gets_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endpoint, "SEND_TIMEOUT_SECONDS", 0.2)
    released: list[bool] = []
    received = bytearray()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            received.extend(message.get("body", b""))

    async def receive() -> Message:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    response = endpoint._Streamed(_chunks(), media_type="text/csv", headers={}, done=lambda: released.append(True))
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "method": "GET"}
    await asyncio.wait_for(response(scope, receive, send), 5)
    assert len(received) == 100 * 1024 and released == [True]
