"""A client closing its socket while an event is on its way ends the subscription quietly; other faults
in a socket's worker task are still logged as faults."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected

from hub.websocket import _client_went_away


@pytest.mark.parametrize(
    "error",
    [
        WebSocketDisconnected(),
        WebSocketDisconnect(1006),
        ConnectionResetError(),
        RuntimeError('Unexpected ASGI message "websocket.send", after sending "websocket.close"'),
    ],
)
def test_sending_to_a_closed_socket_is_the_client_going_away(error: BaseException) -> None:
    assert _client_went_away(error)


@pytest.mark.parametrize("error", [RuntimeError("a defect"), ValueError("bad value"), KeyError("id")])
def test_other_errors_are_faults(error: BaseException) -> None:
    assert not _client_went_away(error)
