"""The served hub's WebSockets from a client's side: the result stream through gql, as the README's
consumers read it, and the close frame a refused socket ends with."""

from __future__ import annotations

import asyncio

import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.served.hub_process import ServedHub

RESULT_STREAM = """
subscription($after: String) {
  resultPublished(after: $after) { cursor eventId type cycle { id } result { id grade } }
}
"""


def socket_client(hub: ServedHub, role: str) -> Client:
    """A gql client of ``hub``'s WebSocket (graphql-transport-ws), authenticated as ``role``."""
    transport = WebsocketsTransport(
        url=hub.ws_url,
        init_payload={"Authorization": f"Bearer {hub.token(role)}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    return Client(transport=transport)


async def nothing_more(hub: ServedHub, role: str, after: str | None, within: float) -> None:
    """No event beyond the cursor ``after`` arrives on the result stream within ``within`` seconds."""
    async with socket_client(hub, role) as session:
        stream = session.subscribe(GraphQLRequest(RESULT_STREAM, variable_values={"after": after}))
        try:
            extra = await asyncio.wait_for(anext(stream), within)
        except TimeoutError:
            return
        finally:
            await stream.aclose()
    raise AssertionError(f"an event beyond the last one: {extra}")


def closed_with(socket: ClientConnection, frames_at_most: int = 10) -> tuple[int, str]:
    """The close code and reason the server ends the socket with (up to ``frames_at_most`` frames before it
    are skipped: a flood's answers may still be on their way)."""
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(frames_at_most):
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None, "the server dropped the socket without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason
