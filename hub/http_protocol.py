"""uvicorn's HTTP/1.1 protocol with a deadline on request headers, for ``perfhub serve``.

uvicorn bounds the idle time between two requests of a keep-alive connection (``timeout_keep_alive``),
but any byte received cancels that timer, and nothing bounds a fresh connection: a client that sends its
headers a byte at a time, or nothing at all, holds a connection (and a file descriptor) for ever. Four
hundred such clients are a cheap way to exhaust a hub. Here every connection must complete its request
headers within ``header_timeout`` seconds of opening, or of its previous response; else it is closed
with one log line. (The body has its own deadline, in the app: hub.guards.BodySizeLimit.)
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("perfhub")


class HeaderTimeoutH11Protocol(H11Protocol):
    """H11Protocol closing a connection whose request headers are not complete within ``header_timeout``."""

    header_timeout: float = 10.0

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    _partial_headers = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in: the request is the app's now
            self._cancel_header_deadline()
            self._partial_headers = False
        else:
            self._partial_headers = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:  # waiting for the next request's headers (keep-alive)
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None and self._partial_headers:
            log.info("%s left before completing its request headers", self._client_name())
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _client_name(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_timed_out(self) -> None:
        self._header_deadline = None
        # An upgraded connection (WebSocket) belongs to another protocol object now.
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.conn.their_state is not h11.IDLE:
            return
        log.info(
            "closed the connection of %s: no complete request headers within %g s",
            self._client_name(),
            self.header_timeout,
        )
        self.transport.close()


def header_timeout_protocol(header_timeout: float) -> type[HeaderTimeoutH11Protocol]:
    """The protocol class for uvicorn's ``http`` option, with this deadline."""
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": header_timeout})
