"""One pooled connection per read-only operation: its sessions take turns on it instead of each checking out one.

A query's sibling fields and loader batches run at once, and each opens a session of its own (an AsyncSession
serves one task at a time). Each such session used to check out a pooled connection, so one operation held
several at once and N concurrent operations asked the pool for several times N: past the pool's size, every
operation waited in its queue mid-flight, holding what it already had, until the pool timeout answered them all
"database unavailable". Under a :class:`ConnectionLease` (``OPERATION_LEASE``, set by ``schema.operation_guard``
for queries) every :class:`OperationSession` the operation opens is bound to the lease's one connection per
engine (the primary, or the replica its principal reads), one session after the other. Each session still runs
its own transaction on it, so the statement timeout of ``hub.db.engine.WRITE_STATEMENT_TIMEOUT`` (a SET LOCAL in
``after_begin``), the read timeout of the connection and a failed statement's rollback stay each session's own.

Mutations are never leased: their transactions are as they were. A session opened while the same task already
holds the lease (a nested session, or a loader batch started from inside a session) opens a connection of its
own, as before, since waiting for the lease there would wait for itself; so does one that waited longer than the
pool timeout for its turn, which is logged, since it means a session held the lease while it waited for another.

While the operation waits on something that is not its database (a business system: ``away_from_the_database``),
the lease gives back each connection no session is using, and the operation's place at the process's door (its
:class:`Seat`, ``hub.admission``) once it holds none: a slow system then delays only the queries that wait for it,
not every query that finds the door full. The operation's next session takes its turn at the door again before it
checks out a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """The lease's connection to one engine, and the turn of the session using it."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    connection: AsyncConnection | None = None
    waiting: int = 0
    """Sessions waiting for the turn: while any does, the connection stays with the lease for them."""


class Seat(Protocol):
    """An operation's place among those a process lets hold a connection at once (``hub.admission.Place``)."""

    async def come_back(self) -> None:
        """Takes the place again if it was left (waiting for it as long as the door lets one wait)."""

    def leave(self) -> None:
        """Gives the place up until :meth:`come_back`; nothing when it is not held."""


class ConnectionLease:
    """The connections one operation reads through: at most one per engine, checked out at the first session that
    needs it and returned to the pool by :meth:`close`, at the operation's end."""

    def __init__(self, patience: float, seat: Seat | None = None) -> None:
        self.patience = patience
        """How long a session waits for its turn before it takes a connection of its own (the pool timeout)."""
        self.seat = seat
        """The operation's place at the door, left while it waits elsewhere holding no connection; None: no door."""
        self._away = 0
        """How many of the operation's waits on something other than the database are under way."""
        self.checkouts = 0
        """Connections this lease took from the pool (one per engine, plus one per connection that broke)."""
        self._slots: dict[AsyncEngine, _Slot] = {}
        self._closed = False
        self._lost: BaseException | None = None
        """What broke the lease's connection or kept it from connecting: its later sessions fail at once with it."""

    async def borrow(self, engine: AsyncEngine) -> AsyncConnection | None:
        """Waits for the turn on the lease's connection to ``engine`` and returns it, checked out if need be; None
        when the lease is closed or the turn did not come within ``patience``. Every connection returned is handed
        back with :meth:`give_back`."""
        if self._closed:
            return None
        slot = self._slots.setdefault(engine, _Slot())
        slot.waiting += 1
        try:
            async with asyncio.timeout(self.patience):
                await slot.turn.acquire()
        except TimeoutError:
            log.warning(
                "a session waited %.1f s for its operation's connection: it takes one of its own", self.patience
            )
            return None
        finally:
            slot.waiting -= 1
        if self._lost is not None:
            # The sessions wait in turn, so each would wait out the connect or statement timeout again: during an
            # outage the operation would take that many times longer than its sessions took at once before.
            slot.turn.release()
            raise DatabaseLost("the operation's database connection failed earlier") from self._lost
        if slot.connection is None and self.seat is not None:
            try:
                await self.seat.come_back()  # left while the operation waited on a business system
            except BaseException:
                slot.turn.release()
                raise
        try:
            if slot.connection is None:
                slot.connection = await engine.connect()
                self.checkouts += 1
        except Exception as error:
            self._lost = error
            slot.turn.release()
            raise
        except BaseException:
            slot.turn.release()
            raise
        return slot.connection

    async def give_back(self, engine: AsyncEngine, error: BaseException | None = None) -> None:
        """Ends the turn taken by :meth:`borrow`, whose session ended with ``error`` (None: it did not fail). A
        connection that broke meanwhile (invalidated) goes back to the pool; when a cancellation broke it (a field
        cancelled as a null propagated), the next session checks out another, otherwise the database is away and
        the operation's next sessions fail at once."""
        slot = self._slots[engine]
        connection = slot.connection
        try:
            broken = connection is not None and (connection.invalidated or connection.closed)
            if broken and isinstance(error, Exception):
                self._lost = error
            # While the operation waits elsewhere, a connection no session waits for goes back to the pool.
            idle = self._away > 0 and slot.waiting == 0
            if connection is not None and (broken or self._closed or idle):
                slot.connection = None
                await _close(connection)
        finally:
            slot.turn.release()
            self._leave_if_idle()

    @contextlib.asynccontextmanager
    async def away(self) -> AsyncIterator[None]:
        """For the ``async with`` block the operation waits on something other than its database: the connections
        no session is using go back to the pool, and the seat with them once none is held."""
        self._away += 1
        try:
            for slot in list(self._slots.values()):
                if slot.turn.locked() or slot.waiting:
                    continue  # a session is using it or is next in turn: give_back returns it after the last
                async with slot.turn:
                    connection, slot.connection = slot.connection, None
                    if connection is not None:
                        await _close(connection)
            self._leave_if_idle()
            yield
        finally:
            self._away -= 1

    def _leave_if_idle(self) -> None:
        """Leaves the seat when the operation waits elsewhere and neither holds nor is about to use a connection."""
        if self.seat is None or self._away == 0:
            return
        if all(
            slot.connection is None and not slot.turn.locked() and slot.waiting == 0 for slot in self._slots.values()
        ):
            self.seat.leave()

    async def close(self) -> None:
        """Returns the lease's connections to the pool, each once the session using it (a batch no field awaits any
        more, say) is done with it. Shielded: a cancelled operation still gives its connections back."""
        self._closed = True
        await asyncio.shield(asyncio.gather(*(self._close_slot(slot) for slot in self._slots.values())))

    async def _close_slot(self, slot: _Slot) -> None:
        async with slot.turn:
            connection, slot.connection = slot.connection, None
            if connection is not None:
                await _close(connection)


async def _close(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception:  # a broken connection's goodbye may fail too: the pool has it back either way
        log.debug("closing a leased connection failed", exc_info=True)


class DatabaseLost(Exception):
    """A session of an operation whose connection was lost earlier, raised from what lost it (so that
    ``hub.db.engine.unavailable_reason`` reads the reason from its cause)."""


@contextlib.asynccontextmanager
async def away_from_the_database() -> AsyncIterator[None]:
    """Marks the ``async with`` block as the current operation's wait on something other than its database (a
    business system): see :meth:`ConnectionLease.away`. Nothing happens outside a leased operation, or inside an
    open session, whose connection stays bound to it."""
    lease = OPERATION_LEASE.get()
    if lease is None or _HOLDING.get() is lease:
        yield
        return
    async with lease.away():
        yield


SEAT: ContextVar[Seat | None] = ContextVar("door_seat", default=None)
"""The current request's place at the process's door (set by ``hub.admission.Door.entered``); the operation's
lease leaves and retakes it. A context variable, as the lease's is, so that the tasks of the operation see it."""

OPERATION_LEASE: ContextVar[ConnectionLease | None] = ContextVar("operation_lease", default=None)
"""The lease of the operation the current task works for; None: every session checks out its own connection.
A context variable, so that the tasks an operation starts (its fields, its loaders' batches) inherit it."""

_HOLDING: ContextVar[ConnectionLease | None] = ContextVar("holding_lease", default=None)
"""The lease whose connection the current task's open session is bound to (tasks started inside inherit it)."""


class OperationSession(AsyncSession):
    """An AsyncSession that, opened with ``async with`` under an operation's lease, is bound to the lease's
    connection for its lifetime; otherwise an ordinary session on its engine."""

    _lease: ConnectionLease | None = None
    _engine: AsyncEngine | None = None
    _holding: ConnectionLease | None = None

    async def __aenter__(self) -> Self:
        lease = OPERATION_LEASE.get()
        engine = self.bind
        if lease is None or not isinstance(engine, AsyncEngine) or _HOLDING.get() is lease:
            return self
        connection = await lease.borrow(engine)
        if connection is None:
            return self
        self.bind = connection  # before the session's first statement: it begins its transaction on it
        self._lease, self._engine = lease, engine
        self._holding = _HOLDING.get()
        _HOLDING.set(lease)
        return self

    async def __aexit__(
        self, type_: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        lease, engine = self._lease, self._engine
        if lease is None or engine is None:
            await super().__aexit__(type_, value, traceback)
            return
        self._lease = self._engine = None
        try:
            await super().__aexit__(type_, value, traceback)  # ends this session's transaction on the connection
        finally:
            _HOLDING.set(self._holding)
            self.bind = engine
            await lease.give_back(engine, value)
