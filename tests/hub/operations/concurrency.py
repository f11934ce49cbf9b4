"""Tools for making races deterministic: a gate that holds transactions at a chosen point, and a way to
see that another transaction waits on a lock (PostgreSQL) instead of guessing with sleeps.

A race test pauses one transaction at the point where the race would bite (``Gate``, patched into the
operation), starts the competing one, waits until that one is either held at the same gate or blocked
on a lock (``until_held``), then lets everything go and checks that the outcome is a typed answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

T = TypeVar("T")
DEADLINE = 20.0
"""Seconds any wait of a race test may take before the test fails (never hangs)."""
SQLITE_GRACE = 0.5
"""SQLite cannot show who waits on its lock: the time given to a competitor to reach it."""


class Gate:
    """Holds every task that reaches it until it is opened; counts the arrivals."""

    def __init__(self) -> None:
        self.arrivals = 0
        self._open = asyncio.Event()

    async def reach(self) -> None:
        self.arrivals += 1
        await asyncio.wait_for(self._open.wait(), DEADLINE)

    def open(self) -> None:
        self._open.set()


def hold_before(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, gate: Gate) -> Callable[..., Awaitable[Any]]:
    """Replaces ``module.name`` with a function that waits at ``gate`` and then calls the original."""
    original: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def held(*args: Any, **kwargs: Any) -> Any:
        await gate.reach()
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return original


def hold_after(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, gate: Gate) -> None:
    """Replaces ``module.name`` with a function that calls the original and then waits at ``gate``."""
    original: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def held(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        await gate.reach()
        return result

    monkeypatch.setattr(module, name, held)


async def until_arrived(gate: Gate, expected: int, *competitors: asyncio.Future[Any]) -> None:
    """Waits until ``expected`` transactions are held at the gate (a competitor that ends instead fails the test)."""
    deadline = time.monotonic() + DEADLINE
    while gate.arrivals < expected:
        for task in competitors:
            assert not task.done(), f"finished before reaching the gate: {task.result()!r}"
        assert time.monotonic() < deadline, f"only {gate.arrivals} of {expected} at the gate"
        await asyncio.sleep(0.01)


async def lock_waiters(engine: AsyncEngine) -> int:
    """How many sessions of this PostgreSQL database wait for a lock right now."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(count or 0)


async def until_held(engine: AsyncEngine, gate: Gate, expected: int, *competitors: asyncio.Future[Any]) -> None:
    """Waits until ``expected`` transactions are held, at the gate or (PostgreSQL) behind a lock, or
    until a competitor has finished (it did not wait for anything: the test's checks say if that was right).

    On SQLite a transaction that waits for the write lock is invisible; after a grace period the
    test goes on, which can only make the race less likely, never the check wrong.
    """
    deadline = time.monotonic() + DEADLINE
    postgres = engine.dialect.name == "postgresql"
    grace = time.monotonic() + SQLITE_GRACE
    while True:
        waiting = await lock_waiters(engine) if postgres else 0
        if gate.arrivals + waiting >= expected or any(task.done() for task in competitors):
            return
        if not postgres and time.monotonic() >= grace:
            return
        assert time.monotonic() < deadline, f"only {gate.arrivals} at the gate and {waiting} waiting"
        await asyncio.sleep(0.02)


async def until_blocked(engine: AsyncEngine, query_prefix: str) -> int:
    """The process id of the PostgreSQL session that waits for a lock running ``query_prefix...``."""
    deadline = time.monotonic() + DEADLINE
    while True:
        async with engine.connect() as connection:
            pid = await connection.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE :prefix"
                ),
                {"prefix": f"{query_prefix}%"},
            )
        if pid is not None:
            return int(pid)
        assert time.monotonic() < deadline, f"nobody waits on a lock running {query_prefix!r}"
        await asyncio.sleep(0.02)


async def outcome(work: Awaitable[T]) -> T | Exception:
    """What a competitor ended with: its value, or the exception it raised (checked by the test)."""
    try:
        return await asyncio.wait_for(work, DEADLINE)
    except Exception as error:
        return error


@dataclass(frozen=True)
class Race:
    """A race between the test's hub process and a second one on the same database (``other``, with its
    own engine), with the test's monkeypatch to put gates into the operations both run."""

    other: async_sessionmaker[AsyncSession]
    other_engine: AsyncEngine
    monkeypatch: pytest.MonkeyPatch

    def gate_before(self, module: Any, name: str) -> Gate:
        """A gate every call of ``module.name`` waits at before it runs."""
        gate = Gate()
        hold_before(self.monkeypatch, module, name, gate)
        return gate

    def gate_after(self, module: Any, name: str) -> Gate:
        """A gate every call of ``module.name`` waits at once it has run."""
        gate = Gate()
        hold_after(self.monkeypatch, module, name, gate)
        return gate

    async def until_held(self, gate: Gate, expected: int, *competitors: asyncio.Future[Any]) -> None:
        """:func:`until_held`, seeing the lock waits of the second process's database."""
        await until_held(self.other_engine, gate, expected, *competitors)
