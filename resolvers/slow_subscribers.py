"""Ending a result stream whose consumer stopped reading its socket: a clear error, then a close code.

The process's reader (``hub.events.watcher``) keeps the newest events for its subscriptions; one that falls
behind all of them reads the outbox itself, and one that has also not taken an event for
``PERFHUB_SUBSCRIPTION_STALL_SECONDS`` (its client stopped reading) is ended: its stream raises
``SUBSCRIBER_TOO_SLOW`` with ``lastCursor`` at its next step, and the socket closes with
``TOO_SLOW_CLOSE_CODE`` after that error was sent (``hub.websocket``). A stream stuck in a send to a client that
does not read never takes that step: its socket is closed under it, the close frame queued behind the event
being sent, its reason naming the cursor to resume after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from graphql import GraphQLError
from starlette.websockets import WebSocket

from resolvers.context import Context

SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
TOO_SLOW_CLOSE_CODE = 4413
"""The WebSocket close code of a socket whose subscriber stopped reading (``SubscriberTooSlow``)."""
STUCK_SECONDS = 1.0
"""How long a too-slow stream may take to end by itself before its socket is closed under it."""

log = logging.getLogger("perfhub.events")
_closing: set[asyncio.Task[None]] = set()
"""The closing tasks in flight (asyncio keeps only weak references to tasks)."""


class SubscriberTooSlow(GraphQLError):
    """The stream ends because its consumer stopped reading; ``lastCursor`` is where to resume."""

    def __init__(self, last_cursor: str | None) -> None:
        super().__init__(
            "the subscriber stopped reading while the stream ran past what the hub keeps for it; "
            "resume with after = extensions.lastCursor",
            extensions={"code": SUBSCRIBER_TOO_SLOW, "lastCursor": last_cursor},
        )


def too_slow_reason(context: Context) -> str | None:
    """The close reason of a socket whose stream ended as too slow; None otherwise."""
    socket = context.request
    reason = getattr(socket.state, "perfhub_too_slow", None) if isinstance(socket, WebSocket) else None
    return reason if isinstance(reason, str) else None


def end_too_slow(context: Context, delivered: str | None, ended: asyncio.Event) -> None:
    """Marks the stream's socket for its close code, and closes it if the stream has not ended (``ended``)
    within ``STUCK_SECONDS``: stuck in a send."""
    socket = context.request
    if isinstance(socket, WebSocket):
        reason = f"{SUBSCRIBER_TOO_SLOW}: resume after {delivered or 'the start'}"[:120]
        socket.state.perfhub_too_slow = reason
        task = asyncio.create_task(_close_if_stuck(socket, reason, ended))
        _closing.add(task)
        task.add_done_callback(_closing.discard)


async def _close_if_stuck(socket: WebSocket, reason: str, ended: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ended.wait(), STUCK_SECONDS)
    if not ended.is_set():
        # The close frame queues behind the event being sent: a consumer that reads again gets both.
        log.info("result stream: closing a stalled subscriber's socket (%d): %s", TOO_SLOW_CLOSE_CODE, reason)
        with contextlib.suppress(Exception):
            await socket.close(code=TOO_SLOW_CLOSE_CODE, reason=reason)
