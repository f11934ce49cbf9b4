"""The async engine and session factory, built by the app's lifespan or the CLI, never at import time.

Every wait on the database is bounded (:class:`DatabaseTimeouts`), so that a database that is away costs a
request seconds, not the length of the outage; :func:`unavailable_reason` tells such a failure apart from a
bug, for the API to answer ``DATABASE_UNAVAILABLE`` instead of a masked internal error.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from sqlalchemy import Connection, event, make_url
from sqlalchemy.engine.interfaces import AdaptedConnection, DBAPIConnection, ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from hub.db.lease import OperationSession

if TYPE_CHECKING:
    from hub.config import Settings

COMMAND_GRACE_SECONDS = 1.0
"""How much longer than the server's statement_timeout the client waits on a statement: long enough for the
server's own cancellation to arrive (the connection stays usable), short enough that a silent connection,
a partition, is given up soon after."""


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the hub waits for the database, in seconds; the defaults are those of ``Settings``."""

    connect: float = 5.0
    """Opening a connection (TCP, TLS, authentication), and checking a pooled one before use."""
    pool: float = 5.0
    """Waiting for a free connection from the pool."""
    statement: float | None = 30.0
    """One statement; on SQLite, the wait for a lock. None: no limit (batch work, see :func:`create_engine`)."""
    read_statement: float = 10.0
    """One statement of a transaction that does not raise its own limit (PostgreSQL; at most ``statement``):
    the API's queries and subscriptions. Mutations run under ``statement`` (WRITE_STATEMENT_TIMEOUT)."""
    ping_after_idle: float = 5.0
    """How long a pooled connection may have sat idle before its next checkout pings it first (PostgreSQL). A
    connection checked in moments ago has just worked: pinging it would cost every request a round trip per
    connection. One that sat out a quiet spell may have been closed by a restart or a partition meanwhile; the
    ping finds that within ``connect``. A connection that breaks between two busy moments fails its statement
    instead, which invalidates the whole pool (SQLAlchemy's handling of a disconnect), so that the requests
    after it reconnect."""

    @classmethod
    def of(cls, settings: Settings) -> DatabaseTimeouts:
        return cls(
            connect=settings.database_connect_timeout_seconds,
            pool=settings.database_pool_timeout_seconds,
            statement=settings.database_statement_timeout_seconds,
            read_statement=settings.read_statement_timeout_seconds,
        )


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def is_in_memory(url: str) -> bool:
    """A SQLite database that lives in one process's memory: no other process can open it."""
    if not is_sqlite(url):
        return False
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in database


def _sqlite_pragmas(
    busy_timeout_ms: int, read_only: bool = False
) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # WAL lets the loaders' concurrent sessions read while a mutation writes; foreign keys are off
        # by default in SQLite. The busy timeout is SQLite's only wait on anyone else: a writer waiting
        # for the lock, bounded like a statement.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return on_connect


SQLITE_UNBOUNDED_BUSY_SECONDS = 10.0
"""SQLite's wait for the write lock when statements have no limit."""
BATCH = DatabaseTimeouts(statement=None)


def _asyncpg_connect_args(timeouts: DatabaseTimeouts) -> dict[str, object]:
    # asyncpg's own default is 60 s to connect and no limit at all on a command.
    args: dict[str, object] = {"timeout": timeouts.connect}
    if timeouts.statement is not None:
        # The client-side limit on every command: a partition leaves a connection silent, and only the
        # client can notice that.
        args["command_timeout"] = timeouts.statement + COMMAND_GRACE_SECONDS
        # The server-side limit, which cancels a slow statement cleanly and keeps the connection: the read
        # timeout by default, a write transaction raises it to ``statement`` (one SET LOCAL per mutation,
        # rather than one per loader batch of every query).
        read = min(timeouts.read_statement, timeouts.statement)
        args["server_settings"] = {"statement_timeout": str(round(read * 1000))}
    return args


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    """An async engine for batch work (migrations, seeding, the CLI's computations, tests): connecting and
    the pool are bounded as in :class:`DatabaseTimeouts`, statements are not, since a migration or a large
    scoring run may rightly take minutes. The served hub bounds them too (:func:`create_bounded_engine`)."""
    return create_bounded_engine(url, BATCH, **kwargs)


def create_bounded_engine(url: str, timeouts: DatabaseTimeouts, **kwargs: object) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings perfhub relies on, every wait bounded by
    ``timeouts``; ``kwargs`` go to SQLAlchemy and win over ours (a test's tiny pool, say)."""
    return _bounded_engine(url, timeouts, False, kwargs)


def create_read_only_engine(url: str, timeouts: DatabaseTimeouts, **kwargs: object) -> AsyncEngine:
    """The same for a read replica (PERFHUB_READ_DATABASE_URL): every transaction on it is read-only, so a write
    sent there by mistake fails loudly instead of making the replica differ from the primary."""
    return _bounded_engine(url, timeouts, True, kwargs)


def _bounded_engine(url: str, timeouts: DatabaseTimeouts, read_only: bool, kwargs: dict[str, object]) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            kwargs.setdefault("pool_timeout", timeouts.pool)  # a file database gets a queue pool
        engine = create_async_engine(url, **kwargs)
        busy = SQLITE_UNBOUNDED_BUSY_SECONDS if timeouts.statement is None else timeouts.statement
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(round(busy * 1000), read_only))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", timeouts.pool)
    if make_url(url).get_driver_name() != "asyncpg":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    given = kwargs.get("connect_args", {})
    if not isinstance(given, Mapping):
        raise TypeError(f"connect_args must be a mapping, not {type(given).__name__}")
    connect_args = _asyncpg_connect_args(timeouts)
    if read_only:
        server_settings = connect_args.get("server_settings", {})
        assert isinstance(server_settings, dict)
        connect_args["server_settings"] = {**server_settings, "default_transaction_read_only": "on"}
    kwargs["connect_args"] = {**connect_args, **given}
    engine = create_async_engine(url, **kwargs)
    # Broken connections are found on checkout (after an idle spell, ``ping_after_idle``) and replaced, so the
    # hub recovers from an outage without a restart. Not SQLAlchemy's pool_pre_ping: it pings on every
    # checkout, and its ping waits as long as any statement, so a partition would hold every checkout for the
    # whole statement timeout.
    event.listen(engine.sync_engine, "connect", _mark_fresh)
    event.listen(engine.sync_engine, "checkin", _mark_idle)
    event.listen(engine.sync_engine, "checkout", _ping_on_checkout(timeouts.connect, timeouts.ping_after_idle))
    event.listen(engine.sync_engine, "handle_error", _abort_timed_out_connection)
    return engine


_FRESH = "perfhub_fresh"
_IDLE_SINCE = "perfhub_idle_since"


def _mark_fresh(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info[_FRESH] = True  # just connected: no need to ask whether it still works


def _mark_idle(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_on_checkout(
    timeout: float, after_idle: float
) -> Callable[[DBAPIConnection, ConnectionPoolEntry, PoolProxiedConnection], None]:
    def checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        if record.info.pop(_FRESH, False):
            return
        if time.monotonic() - record.info.get(_IDLE_SINCE, float("-inf")) < after_idle:
            return  # back from its last use a moment ago: it worked then
        adapted = cast(AdaptedConnection, dbapi_connection)
        try:
            # The simple query protocol: nothing prepared, no transaction, one round trip.
            adapted.run_async(lambda connection: connection.execute(";", timeout=timeout))
        except Exception as error:  # closed, reset, silent: whatever it is, this connection is done
            _abort(adapted)
            # The pool invalidates the connection and opens a new one in its place (bounded by the
            # connect timeout); if that fails too, the checkout raises the connect error.
            raise DisconnectionError(f"pre-ping failed: {type(error).__name__}: {error}") from error
        except BaseException:
            # Cancelled mid-ping (a caller's deadline, /readyz's): the pool invalidates the connection, and
            # would wait, shielded from the cancellation, for a goodbye a silent server never sends.
            _abort(adapted)
            raise

    return checkout


def _abort_timed_out_connection(context: ExceptionContext) -> None:
    # A command that timed out client-side (command_timeout) ran on a silent connection, and one cancelled
    # mid-command is in a state nobody knows: SQLAlchemy invalidates either, but would first wait, shielded
    # from any cancellation, for a graceful goodbye that a silent server never sends. Abort it now.
    connection = context.connection
    if not isinstance(context.original_exception, TimeoutError | asyncio.CancelledError):
        return
    # Only a connection still holding its DBAPI connection: reading ``.connection`` otherwise reconnects.
    if connection is not None and not connection.closed and not connection.invalidated:
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None:
            _abort(cast(AdaptedConnection, dbapi_connection))


def _abort(adapted: AdaptedConnection) -> None:
    """Closes the driver's connection at once, without a goodbye (``asyncpg.Connection.terminate``)."""
    adapted.driver_connection.terminate()


WRITE_STATEMENT_TIMEOUT: ContextVar[float | None] = ContextVar("write_statement_timeout", default=None)
"""The statement timeout of the transactions the current task begins, in seconds, when it is not the
connection's (the read timeout, :class:`DatabaseTimeouts`); None: the connection's.

Set per GraphQL mutation (schema/operation_guard.py) to the full statement timeout, and per analyst query to
the analysts' shorter one. A context variable, so that the work an operation starts (its threads and tasks,
the loaders' batches) inherits it.
"""


class _Session(Session):
    """A session that applies WRITE_STATEMENT_TIMEOUT to each transaction it begins (PostgreSQL)."""


@event.listens_for(_Session, "after_begin")
def _write_statement_timeout(_session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    seconds = WRITE_STATEMENT_TIMEOUT.get()
    if seconds is not None and connection.dialect.name == "postgresql":
        # SET LOCAL: the transaction's own, gone at its end, so a pooled connection never carries it on.
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {round(seconds * 1000)}")


MIN_POOLED_CONNECTIONS = 4
"""The fewest connections a process pools: a query holds one at a time (``hub.db.lease``), but a mutation is not
leased, and holds one per session it has open at once."""


def served_pool(settings: Settings) -> dict[str, object]:
    """The pool of one of the served hub's processes: its share of ``database_connections`` and no overflow
    (an overflow connection is opened for one checkout and closed at its checkin: under load, one per
    request). SQLite keeps SQLAlchemy's own pool: its connections are files, not a server's sessions."""
    if is_sqlite(settings.database_url):
        return {}
    share = max(MIN_POOLED_CONNECTIONS, settings.database_connections // settings.workers)
    return {"pool_size": share, "max_overflow": 0}


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; opened with ``async with`` under a query's lease, on the lease's one connection."""
    return async_sessionmaker(engine, class_=OperationSession, expire_on_commit=False, sync_session_class=_Session)


# --- What an outage looks like --------------------------------------------------------------------------

REFUSED = "the database refused the connection or could not be reached"
TIMED_OUT = "the database did not answer in time"
POOL_EXHAUSTED = "no database connection became free in time"
LOST = "the connection to the database was lost"
BUSY = "the database is busy"
RESTARTING = "the database is shutting down or starting up"
FULL = "the database has no connection to spare"

_SQLSTATE_REASONS = {
    "57014": TIMED_OUT,  # query_canceled: statement_timeout (or an administrator's cancel)
    "57P01": RESTARTING,  # admin_shutdown
    "57P02": RESTARTING,  # crash_shutdown
    "57P03": RESTARTING,  # cannot_connect_now
    "57P05": LOST,  # idle_session_timeout
    "53300": FULL,  # too_many_connections
}
_SQLITE_REASONS = {"SQLITE_BUSY": BUSY, "SQLITE_LOCKED": BUSY, "SQLITE_CANTOPEN": REFUSED}
_DATABASE_LAYER = ("sqlalchemy.", "asyncpg.", "aiosqlite.")


class DatabaseUnavailable(Exception):
    """An outage another process of the hub (its worker, ``hub.worker``) met, carried back with its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unavailable_reason(error: BaseException) -> str | None:
    """Why ``error`` means the database cannot serve now (a phrase a client may read), or None.

    None is every other failure, a bug rather than an outage: a constraint violated, a bad statement, a
    missing table. Those stay internal errors. The drivers do not agree on what an outage raises, so
    this looks at several shapes:

    - the pool's TimeoutError (no connection free within the pool timeout);
    - a DBAPI error SQLAlchemy saw invalidate its connection, or whose SQLSTATE is a connection exception
      (class 08), a shutdown, a cancelled statement (statement_timeout) or too many connections; SQLite's
      busy, locked and cannot-open errors;
    - a bare OSError (connection refused or reset) or TimeoutError (asyncpg's connect timeout and
      command_timeout are not DBAPI errors, so SQLAlchemy passes them on unwrapped), but only when it
      was raised through the database layer, so that a timeout of anything else is not mistaken for one;
    - an error raised ``from`` one of these, and an exception group made only of them.
    """
    if isinstance(error, BaseExceptionGroup):
        reasons = [unavailable_reason(inner) for inner in error.exceptions]
        return reasons[0] if reasons and all(reasons) else None
    if isinstance(error, DatabaseUnavailable):
        return error.reason
    if isinstance(error, PoolTimeout):
        return POOL_EXHAUSTED
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return LOST
        reason = _driver_reason(error.orig)
    else:
        reason = _driver_reason(error)
    if reason is None and error.__cause__ is not None:
        return unavailable_reason(error.__cause__)
    return reason


QUERY_CANCELED = "57014"
"""PostgreSQL's SQLSTATE for a statement cancelled by ``statement_timeout`` (or an administrator)."""


def is_statement_timeout(error: BaseException) -> bool:
    """True when ``error`` (or what it was raised from) is the server cancelling a statement that ran past its
    ``statement_timeout``: the question was too expensive, the database is not away."""
    if isinstance(error, DBAPIError):
        inner: BaseException | None = error.orig
    else:
        inner = error
    if getattr(inner, "sqlstate", None) == QUERY_CANCELED:
        return True
    return error.__cause__ is not None and is_statement_timeout(error.__cause__)


def _driver_reason(error: BaseException | None) -> str | None:
    sqlstate = getattr(error, "sqlstate", None)  # asyncpg's errors, and SQLAlchemy's adaptations of them
    if isinstance(sqlstate, str):
        return LOST if sqlstate.startswith("08") else _SQLSTATE_REASONS.get(sqlstate)
    sqlite_name = getattr(error, "sqlite_errorname", None)  # sqlite3's, extended codes included
    if isinstance(sqlite_name, str):
        return next((reason for name, reason in _SQLITE_REASONS.items() if sqlite_name.startswith(name)), None)
    if isinstance(error, OSError | TimeoutError) and _raised_through_database_layer(error):
        return TIMED_OUT if isinstance(error, TimeoutError) else REFUSED
    return None


def _raised_through_database_layer(error: BaseException) -> bool:
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_LAYER)
        for frame, _line in traceback.walk_tb(error.__traceback__)
    )
