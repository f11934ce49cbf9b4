"""What the served hub's WebSocket refusals look like from a client: the close frame it ends a socket with."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection


def closed_with(socket: ClientConnection, frames_at_most: int = 10) -> tuple[int, str]:
    """The close code and reason the server ends the socket with (up to ``frames_at_most`` frames before it
    are skipped: a flood's answers may still be on their way)."""
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(frames_at_most):
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None, "the server dropped the socket without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason
