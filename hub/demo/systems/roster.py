"""Who the demo business systems know: the employee numbers of the organisation the hub holds.

A real finance or payroll system knows the organisation's staff, whatever their number. The demo's
systems derive every value from (seed, employee number) alone (:mod:`hub.demo.values`), so all they
need besides is the roster: which numbers exist. ``perfhub serve`` and ``perfhub collect`` take it from
the hub's own database (:class:`DatabaseRoster`), so that the systems know every seeded employee
however many ``perfhub seed --employees N`` made; tests and benchmarks name a size instead
(:meth:`Roster.numbered`, the seed's numbering ``E000001``...).

The database is read when a system first needs the roster, not when the systems start: a hub may
start its demo systems before its database answers, or before the organisation is seeded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.db.engine import create_engine, create_sessionmaker, is_sqlite
from hub.db.models import Employee

T = TypeVar("T")


class Roster:
    """The employee numbers a demo system knows, in order. Compared by identity: caches key on it."""

    __slots__ = ("_known", "numbers")

    def __init__(self, numbers: Iterable[str]) -> None:
        self.numbers: tuple[str, ...] = tuple(sorted(set(numbers)))
        self._known = frozenset(self.numbers)

    @classmethod
    def numbered(cls, employees: int) -> Roster:
        """``E000001`` .. ``E{employees:06d}``: the numbers ``seed_demo`` gives that many employees."""
        return cls(f"E{i:06d}" for i in range(1, employees + 1))

    def knows(self, number: str) -> bool:
        return number in self._known

    def __len__(self) -> int:
        return len(self.numbers)


RosterSource = Callable[[], Awaitable[Roster]]
"""Gives the current roster; raises :class:`RosterUnavailable` when it cannot be read."""


class RosterUnavailable(Exception):
    """The roster could not be read (the database is down, or not migrated yet)."""


def roster_source(employees: int | RosterSource) -> RosterSource:
    """A size becomes a fixed roster of the seed's numbering; a source is used as it is."""
    if not isinstance(employees, int):
        return employees
    roster = Roster.numbered(employees)

    async def fixed() -> Roster:
        return roster

    return fixed


class PerRoster(Generic[T]):
    """A value built from the roster in a worker thread, once per roster, shared by concurrent askers.

    For what a system must compute about everyone at once (an index of every learner's statements,
    every employee's pay history): seconds for 100,000 employees, which must neither hold up the
    event loop the systems share with the hub nor be repeated per request. A failed build is tried
    again by the next request; a request that gives up waiting leaves the build running for the next.
    """

    def __init__(self, build: Callable[[Roster], T]) -> None:
        self._build = build
        self._roster: Roster | None = None
        self._task: asyncio.Future[T] | None = None

    async def get(self, roster: Roster) -> T:
        task = self._task
        failed = task is not None and task.done() and (task.cancelled() or task.exception() is not None)
        if task is None or failed or self._roster is not roster:
            self._roster = roster
            self._task = task = asyncio.ensure_future(asyncio.to_thread(self._build, roster))
        return await asyncio.shield(task)


class DatabaseRoster:
    """The employee numbers in the hub's database, read once when first asked for.

    An empty roster is not kept: the systems of a hub whose database is not seeded yet learn the
    organisation once it is. Employees are only ever added by seeding an empty database, so a roster
    read from a seeded one stays complete.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._roster: Roster | None = None
        self._lock = asyncio.Lock()  # concurrent first requests read the table once

    async def __call__(self) -> Roster:
        if self._roster is not None:
            return self._roster
        async with self._lock:
            if self._roster is not None:
                return self._roster
            try:
                async with self._sessionmaker() as session:
                    numbers = (await session.scalars(select(Employee.employee_no))).all()
            except (SQLAlchemyError, OSError) as error:
                raise RosterUnavailable(f"cannot read the organisation's employees: {type(error).__name__}") from error
            roster = Roster(numbers)
            if roster.numbers:
                self._roster = roster
            return roster


@contextlib.asynccontextmanager
async def database_roster(database_url: str) -> AsyncIterator[DatabaseRoster]:
    """A :class:`DatabaseRoster` of ``database_url`` on an engine of its own, disposed on exit."""
    # One connection at most on a server: the roster is read once and should not hold a pool open.
    engine = create_engine(database_url, **({} if is_sqlite(database_url) else {"pool_size": 1, "max_overflow": 0}))
    try:
        yield DatabaseRoster(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _unavailable(request: Request, exc: Exception) -> Response:
    # What a real system answers when its own directory is down: 503, which the hub's connectors
    # retry and then report as the system being unavailable.
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "1"})


ExceptionHandlers = dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]
ROSTER_HANDLERS: ExceptionHandlers = {RosterUnavailable: _unavailable}
"""Starlette exception handlers answering :class:`RosterUnavailable` with a 503."""
