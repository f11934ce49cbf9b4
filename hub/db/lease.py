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
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """The lease's connection to one engine, and the turn of the session using it."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    connection: AsyncConnection | None = None


class ConnectionLease:
    """The connections one operation reads through: at most one per engine, checked out at the first session that
    needs it and returned to the pool by :meth:`close`, at the operation's end."""

    def __init__(self, patience: float) -> None:
        self.patience = patience
        """How long a session waits for its turn before it takes a connection of its own (the pool timeout)."""
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
        try:
            async with asyncio.timeout(self.patience):
                await slot.turn.acquire()
        except TimeoutError:
            log.warning(
                "a session waited %.1f s for its operation's connection: it takes one of its own", self.patience
            )
            return None
        if self._lost is not None:
            # The sessions wait in turn, so each would wait out the connect or statement timeout again: during an
            # outage the operation would take that many times longer than its sessions took at once before.
            slot.turn.release()
            raise DatabaseLost("the operation's database connection failed earlier") from self._lost
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
            if connection is not None and (broken or self._closed):
                slot.connection = None
                await _close(connection)
        finally:
            slot.turn.release()

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
