"""Loader building blocks: one SQL statement per batch, in a session of the batch's own.

Most loaders are a declaration: the column their keys are values of, and the order of the rows, over the
table of that column (``DepartmentsByParentLoader``: ``Department.parent_id``, by ``Department.id``).

A page of records can also have a loader read its keys ahead of the fields that will ask for them, in a session
the page already holds (``SessionLoader.prefetch``, used by ``resolvers.loaders.prefetch``): the same statement,
the same rows, primed in the loader's cache, where a field finds them without waiting (``SharedLoader.peek``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Collection, Hashable, Sequence
from contextvars import ContextVar
from typing import ClassVar, Generic, Protocol, Self, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute

from hub.db.models import IndicatorVersion, SchemeVersion
from hub.db.rows import read_rows
from resolvers.scope import Scope

# Columns of any types: SQLAlchemy types a statement by its columns' types, and a loader's statement selects
# whatever columns its record kind has; the record kind (``R``) reads them by name.
RowsStatement = Select[*tuple[object, ...]]
"""A statement selecting the columns of a record kind (``resolvers.records``)."""
KeyColumn = QueryableAttribute[object]
"""The column a loader's keys are values of."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")
"""The record kind a loader's rows are read as (a Protocol of ``resolvers.records``)."""

# Bound parameters per statement stay far below SQLite's and asyncpg's limits (32,766 / 32,767).
MAX_BATCH_SIZE = 2000


class SharedLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader whose futures survive the cancellation of any one field that awaits them.

    A loader hands the same future to every field that asks for a key. When a null propagates through
    a response, graphql-core cancels the sibling fields still running, and a task cancelled while it
    awaits a future cancels that future too: every other field waiting for the key (and every later
    load of it, from the cache) would then fail with CancelledError. Each caller therefore awaits a
    shield of the shared future, which its own cancellation cannot reach.
    """

    def load(self, key: K) -> asyncio.Future[V]:
        return asyncio.shield(super().load(key))

    def peek(self, key: K) -> V | Missing:
        """The value of ``key`` if this loader already holds it (primed, or loaded earlier in the request), else
        ``MISSING``: a field that finds its value here returns it at once, with no task and no await."""
        future = self._cache.get(self.get_cache_key(key))
        if future is None or not future.done() or future.cancelled() or future.exception() is not None:
            return MISSING
        value: V = future.result()
        return value

    def peek_or_load(self, key: K) -> V | Awaitable[V]:
        """The value at once when the loader holds it, else the load to await (what a field resolver returns:
        graphql-core awaits only what is awaitable)."""
        value = self.peek(key)
        return self.load(key) if isinstance(value, Missing) else value


class Missing:
    """What ``SharedLoader.peek`` answers for a key it does not hold yet (None is a value: a key without a row)."""


MISSING = Missing()

_page_session: ContextVar[AsyncSession | None] = ContextVar("page_session", default=None)
"""The session a prefetch reads through (``SessionLoader.prefetch``), set only while its statement runs."""


class RequestFacts(Protocol):
    """What a request's loaders are made from (``resolvers.loaders.Loaders`` holds it)."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def today(self) -> dt.date: ...

    @property
    def scope(self) -> Scope: ...


class SessionLoader(SharedLoader[K, V], Generic[K, V, R]):
    """A DataLoader whose batch function reads the database through its own short-lived session.

    One AsyncSession must never serve concurrent tasks; sibling fields load at the same time, so each
    batch opens, uses and closes its own. Its rows are records of kind ``R``.
    """

    max_batch_size = MAX_BATCH_SIZE

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self.sessionmaker = sessionmaker

    @classmethod
    def for_request(cls, request: RequestFacts) -> Self:
        """This loader for one request (a loader that needs more than the sessionmaker says so here)."""
        return cls(request.sessionmaker)

    async def fetch(self, statement: RowsStatement) -> Sequence[R]:
        page_session = _page_session.get()
        if page_session is not None:
            rows = await read_rows(page_session, statement)
        else:
            async with self.sessionmaker() as session:
                rows = await read_rows(session, statement)
        # The one place rows become records. mypy cannot see that a Core row has the columns of ``R`` (a type
        # variable, where a Protocol would accept any row); the loader's statement selects them.
        return cast("Sequence[R]", rows)

    async def prefetch(self, session: AsyncSession, keys: Collection[K]) -> dict[K, V]:
        """Loads ``keys`` through ``session`` (one the caller holds and uses sequentially) with this loader's own
        batch function, so the same statement and the same access rules, and primes the loader with the values;
        keys the loader holds or is loading already are not read again. Returns the values of the keys it holds."""
        wanted = [key for key in dict.fromkeys(keys) if self.get_cache_key(key) not in self._cache]
        for start in range(0, len(wanted), MAX_BATCH_SIZE):
            chunk = wanted[start : start + MAX_BATCH_SIZE]
            # Set for this task only, and only around the batch function, which runs here and starts no task:
            # loads of other fields, batched in tasks of their own, keep their own sessions.
            token = _page_session.set(session)
            try:
                values = await self.batch_load_fn(chunk)
            finally:
                _page_session.reset(token)
            for key, value in zip(chunk, values, strict=True):
                self.prime(key, value)
        held: dict[K, V] = {}
        for key in keys:
            found = self.peek(key)
            if not isinstance(found, Missing):
                held[key] = found
        return held


class _ByKeyLoader(SessionLoader[K, V, R]):
    """Reads the rows whose ``key_column`` is among the batch's keys: by default the whole rows of that
    column's table, in ``order_by``; a loader that reads otherwise (scoped, joined) overrides ``statement``."""

    key_column: ClassVar[KeyColumn]
    order_by: ClassVar[tuple[QueryableAttribute[object], ...]] = ()

    def statement(self) -> RowsStatement:
        table = type(self).key_column.parent.mapper.local_table
        return select(*table.columns).order_by(*type(self).order_by)

    async def rows_of(self, keys: list[K]) -> tuple[str, Sequence[R]]:
        """The rows of the keys, and the name their key is read by."""
        # Read from the class: on an instance the ORM attribute would act as a descriptor.
        column = type(self).key_column
        return column.key, await self.fetch(self.statement().where(column.in_(set(keys))))


class RowByKeyLoader(_ByKeyLoader[K, R | None, R]):
    """Loads at most one row per key; missing keys give ``None``."""

    async def batch_load_fn(self, keys: list[K]) -> list[R | None]:
        key_name, rows = await self.rows_of(keys)
        by_key = {getattr(row, key_name): row for row in rows}
        return [by_key.get(key) for key in keys]


class RowsByKeyLoader(_ByKeyLoader[K, list[R], R]):
    """Loads a list of rows per key, in the statement's order; keys without rows give ``[]``."""

    async def batch_load_fn(self, keys: list[K]) -> list[list[R]]:
        key_name, rows = await self.rows_of(keys)
        grouped: defaultdict[K, list[R]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, key_name)].append(row)
        return [grouped.get(key, []) for key in keys]


class ScopedLoaderMixin:
    """For loaders of rows that not every principal may read: the scope's conditions join the statement."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], scope: Scope) -> None:
        super().__init__(sessionmaker)  # type: ignore[call-arg]
        self.scope = scope

    @classmethod
    def for_request(cls, request: RequestFacts) -> Self:
        return cls(request.sessionmaker, request.scope)


class VersionInForceLoader(RowByKeyLoader[int, R]):
    """The version in force on ``today`` per key (an indicator, a post): the highest-numbered one whose
    dates cover it."""

    versions: ClassVar[type[IndicatorVersion] | type[SchemeVersion]]

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], today: dt.date) -> None:
        super().__init__(sessionmaker)
        self.today = today

    @classmethod
    def for_request(cls, request: RequestFacts) -> Self:
        return cls(request.sessionmaker, request.today)

    def statement(self) -> RowsStatement:
        versions = type(self).versions
        in_force: ColumnElement[bool] = versions.effective_to.is_(None) | (versions.effective_to >= self.today)
        # Ordered by version: the last row read per key is the one in force, and it is the one kept.
        return select_rows(versions).where(versions.effective_from <= self.today, in_force).order_by(versions.version)


def select_rows(model: type[DeclarativeBase]) -> RowsStatement:
    """Selects a model's table as light Core rows (attribute access, no ORM identity map)."""
    return select(*model.__table__.columns)
