"""How many GraphQL requests a process executes at once: no more than its pool has connections; the others wait.

A query reads through one pooled connection (``hub.db.lease``), so a process whose pool holds N connections
executes N requests at once (but ``RESERVED_CONNECTIONS``, kept for its own work) without any of them waiting for
the pool. A request beyond those waits at the door once its body is in, before it executes or takes a connection,
in arrival order, and is answered 503 ``SERVER_BUSY`` with ``Retry-After`` only when its turn has not come within
``PERFHUB_OPERATION_QUEUE_TIMEOUT_SECONDS``: a burst is served late rather than refused, and nothing waits
mid-flight for a connection while it holds one another request needs.

A place inside is a right to a connection, so a query gives it up while it waits on a business system holding no
connection (``hub.db.lease.away_from_the_database``) and takes its turn again before it next reads: one slow
system no longer keeps every other query of the process waiting at the door. A query whose turn does not come back
in time fails the field that needed the database with ``DATABASE_UNAVAILABLE``, as a pool timeout would.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from starlette.responses import Response

from hub import guards
from hub.db.engine import POOL_EXHAUSTED, DatabaseUnavailable
from hub.db.lease import SEAT

RESERVED_CONNECTIONS = 1
"""Pooled connections left to the process's own work: the outbox's poll, webhook deliveries, the audit's writes."""

RETRY_AFTER_SECONDS = 2
"""What a refused request is told to wait: a moment, since the others inside finish in well under a second each."""


def capacity(pool: dict[str, object]) -> int | None:
    """How many requests a process with ``pool`` (``hub.db.engine.served_pool``) lets in at once; None: no limit (a
    SQLite database, whose pool is SQLAlchemy's own)."""
    size = pool.get("pool_size")
    return max(1, size - RESERVED_CONNECTIONS) if isinstance(size, int) else None


class Busy(Exception):
    """The request's turn did not come in time: answered with :func:`busy`."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"no turn within {waited:.1f} s")
        self.waited = waited


class Door:
    """At most ``capacity`` requests of this process inside at once (None: no limit); the others wait their turn,
    each for at most ``patience`` seconds."""

    def __init__(self, capacity: int | None, patience: float) -> None:
        self.capacity = capacity
        self.patience = patience
        self._inside = asyncio.Semaphore(capacity) if capacity is not None else None

    @contextlib.asynccontextmanager
    async def entered(self) -> AsyncIterator[None]:
        """Inside for the ``async with`` block (but while its operation leaves its :class:`Place`); raises
        :class:`Busy` when the turn does not come in time."""
        inside = self._inside
        if inside is None:
            yield
            return
        place = Place(inside, self.patience)
        await place.enter()
        token = SEAT.set(place)
        try:
            yield
        finally:
            SEAT.reset(token)
            place.leave()


class Place:
    """One request's place inside a :class:`Door` (a ``hub.db.lease.Seat``): held from its entry, left and taken
    again by its operation's lease, given up at the end."""

    def __init__(self, inside: asyncio.Semaphore, patience: float) -> None:
        self._inside = inside
        self._patience = patience
        self.held = False

    async def enter(self) -> None:
        """Takes the place, waiting at most the door's patience; raises :class:`Busy` after that."""
        if self.held:
            return
        try:
            async with asyncio.timeout(self._patience):
                await self._inside.acquire()
        except TimeoutError:
            raise Busy(self._patience) from None
        self.held = True

    async def come_back(self) -> None:
        """:meth:`enter` for an operation under way: its field fails as one the pool had no connection for."""
        try:
            await self.enter()
        except Busy:
            raise DatabaseUnavailable(POOL_EXHAUSTED) from None

    def leave(self) -> None:
        if self.held:
            self.held = False
            self._inside.release()


def busy(refused: Busy) -> Response:
    """503 ``SERVER_BUSY``: every connection of the process was in use for as long as a request may wait."""
    waited = math.ceil(refused.waited)
    return guards.error_response(
        503,
        f"the hub is busy: your request waited {waited} s for its turn; retry after {RETRY_AFTER_SECONDS} s",
        "SERVER_BUSY",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
