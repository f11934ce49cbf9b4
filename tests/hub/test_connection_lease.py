"""``hub.db.lease``: a query's sessions take turns on one pooled connection, given back at the operation's end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.engine import REFUSED, create_engine, create_sessionmaker, unavailable_reason
from hub.db.lease import OPERATION_LEASE, ConnectionLease, DatabaseLost, away_from_the_database

# Each test sets OPERATION_LEASE in its own task's context, as OperationGuard does for a query: it leaks nowhere.


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lease.db'}")
    yield engine
    await engine.dispose()


def _count_checkouts(engine: AsyncEngine) -> list[int]:
    checkouts = [0]

    def checked_out(*_args: Any) -> None:
        checkouts[0] += 1

    event.listen(engine.sync_engine, "checkout", checked_out)
    return checkouts


async def test_concurrent_sessions_of_an_operation_check_out_one_connection(engine: AsyncEngine) -> None:
    """Five sessions opened at once, as sibling fields open them, run one after the other on one connection, and
    the operation's end gives it back to the pool."""
    sessionmaker = create_sessionmaker(engine)
    checkouts = _count_checkouts(engine)
    lease = ConnectionLease(patience=30)
    OPERATION_LEASE.set(lease)

    async def read(n: int) -> int:
        async with sessionmaker() as session:
            value: int = (await session.execute(text(f"SELECT {n}"))).scalar_one()
            await asyncio.sleep(0)  # another session's turn would interleave here if turns were not kept
            return value

    assert await asyncio.gather(*(read(n) for n in range(5))) == list(range(5))
    assert checkouts[0] == 1 and lease.checkouts == 1
    await lease.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_without_a_lease_each_session_checks_out_its_own(engine: AsyncEngine) -> None:
    """The comparison that gives the test above its teeth: the same sessions outside an operation's lease."""
    sessionmaker = create_sessionmaker(engine)
    checkouts = _count_checkouts(engine)
    OPERATION_LEASE.set(None)

    async def read() -> None:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0)

    await asyncio.gather(*(read() for _ in range(3)))
    assert checkouts[0] == 3


async def test_a_session_opened_inside_another_takes_its_own_connection_instead_of_waiting_for_itself(
    engine: AsyncEngine,
) -> None:
    """Nested in the same task, a session cannot wait for the lease its task holds: it checks out its own."""
    sessionmaker = create_sessionmaker(engine)
    checkouts = _count_checkouts(engine)
    lease = ConnectionLease(patience=30)
    OPERATION_LEASE.set(lease)
    async with sessionmaker() as outer:
        await outer.execute(text("SELECT 1"))
        async with sessionmaker() as inner:
            assert (await inner.execute(text("SELECT 2"))).scalar_one() == 2
    assert checkouts[0] == 2
    await lease.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_failed_statement_fails_its_session_only(engine: AsyncEngine) -> None:
    """Each session has its own transaction on the connection: the next one reads as if nothing happened."""
    sessionmaker = create_sessionmaker(engine)
    lease = ConnectionLease(patience=30)
    OPERATION_LEASE.set(lease)
    with pytest.raises(OperationalError):
        async with sessionmaker() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    async with sessionmaker() as session:
        assert (await session.execute(text("SELECT 3"))).scalar_one() == 3
    await lease.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_cancelled_operation_gives_its_connection_back(engine: AsyncEngine) -> None:
    """A client that leaves mid-operation: its task is cancelled while a session holds the turn, and the lease's
    close still returns the connection to the pool."""
    sessionmaker = create_sessionmaker(engine)
    lease = ConnectionLease(patience=30)
    OPERATION_LEASE.set(lease)
    holding = asyncio.Event()

    async def read_forever() -> None:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(read_forever())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await lease.close()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_once_the_database_is_found_away_the_operations_next_sessions_fail_at_once(tmp_path: Path) -> None:
    """A connection that cannot be opened fails its session; the sessions after it fail with it as their cause
    (DATABASE_UNAVAILABLE) instead of each waiting out the connect timeout again, one after the other."""
    threads_before = set(threading.enumerate())
    missing = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    sessionmaker = create_sessionmaker(missing)
    attempts = _count_checkouts(missing)
    lease = ConnectionLease(patience=30)
    OPERATION_LEASE.set(lease)
    with pytest.raises(OperationalError):
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    with pytest.raises(DatabaseLost) as lost:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    assert unavailable_reason(lost.value) == REFUSED
    assert attempts[0] == 0
    await lease.close()
    await missing.dispose()
    await _aiosqlite_threads_ended(threads_before)


async def _aiosqlite_threads_ended(threads_before: set[threading.Thread]) -> None:
    """Waits for the worker threads of the aiosqlite connections opened since ``threads_before`` to end.

    A connection that fails to open stops its worker thread without awaiting it (aiosqlite's ``_connect``), and the
    thread then hands its last result to the test's event loop. When the test had ended and closed that loop first,
    the thread died of "Event loop is closed", and pytest failed whichever test of the worker ran next with an
    unhandled thread exception (tests/hub/test_persisted.py in one CI run). Call it once every connection the test
    opened is closed (its engine disposed), or it waits for ever."""
    for thread in set(threading.enumerate()) - threads_before:
        if thread.name.endswith("(_connection_worker_thread)"):  # threading names a thread after its target
            await asyncio.to_thread(thread.join)  # in a thread: the loop must run to take the thread's result


class _CountingSeat:
    """A door place that counts its comings and goings."""

    def __init__(self) -> None:
        self.held = True
        self.left = 0
        self.returned = 0

    async def come_back(self) -> None:
        if not self.held:
            self.held = True
            self.returned += 1

    def leave(self) -> None:
        if self.held:
            self.held = False
            self.left += 1


async def test_while_the_operation_waits_on_a_business_system_it_holds_no_connection_and_no_place(
    engine: AsyncEngine,
) -> None:
    """A read, then a wait elsewhere (``away_from_the_database``), then a read: during the wait the pool has the
    connection back and the door the place; the next read takes both again."""
    sessionmaker = create_sessionmaker(engine)
    checkouts = _count_checkouts(engine)
    seat = _CountingSeat()
    lease = ConnectionLease(patience=30, seat=seat)
    OPERATION_LEASE.set(lease)

    async def read() -> None:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    await read()
    async with away_from_the_database():
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert not seat.held
    assert not seat.held, "the place is taken again only when a read needs it"
    await read()
    assert (seat.left, seat.returned) == (1, 1) and checkouts[0] == 2
    await lease.close()


async def test_a_read_under_way_keeps_the_connection_and_the_place_until_it_ends(engine: AsyncEngine) -> None:
    """One field reads while a sibling waits on a business system: the read keeps its connection, and the place
    is left once it ends (the sibling still waiting)."""
    sessionmaker = create_sessionmaker(engine)
    seat = _CountingSeat()
    lease = ConnectionLease(patience=30, seat=seat)
    OPERATION_LEASE.set(lease)
    reading, waited = asyncio.Event(), asyncio.Event()

    async def read() -> None:
        async with sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            reading.set()
            await waited.wait()
            assert seat.held and engine.pool.checkedout() == 1  # type: ignore[attr-defined]

    async def wait_elsewhere() -> None:
        await reading.wait()
        async with away_from_the_database():
            waited.set()
            await asyncio.sleep(0.05)  # the read ends meanwhile
            assert not seat.held and engine.pool.checkedout() == 0  # type: ignore[attr-defined]

    await asyncio.gather(read(), wait_elsewhere())
    assert seat.left == 1
    await lease.close()


async def test_inside_an_open_session_a_wait_elsewhere_keeps_the_connection(engine: AsyncEngine) -> None:
    """A session that awaits a business system while open keeps its connection: it is bound to it."""
    sessionmaker = create_sessionmaker(engine)
    seat = _CountingSeat()
    lease = ConnectionLease(patience=30, seat=seat)
    OPERATION_LEASE.set(lease)
    async with sessionmaker() as session:
        await session.execute(text("SELECT 1"))
        async with away_from_the_database():
            assert seat.held and engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        await session.execute(text("SELECT 2"))
    await lease.close()
