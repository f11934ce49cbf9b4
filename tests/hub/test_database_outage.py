"""When the database is away the hub says so, quickly: DATABASE_UNAVAILABLE, never a masked internal error.

Which failures count as the database being away (``hub.db.engine.unavailable_reason``) and which stay
internal errors (a violated constraint, a bad statement); how a query, a mutation and /readyz answer a
database that refuses connections or falls silent (a TCP proxy in the test plays the partition); the
status codes of GraphQL over HTTP; and the timeouts' settings. The served hub going through a whole
outage and back is in tests/served/test_database_outage.py.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLError
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

import hub.operations.cycles
from hub.app import PerfhubGraphQL
from hub.config import Settings
from hub.db import engine as db
from hub.db.engine import DatabaseTimeouts, create_bounded_engine, create_engine, unavailable_reason
from schema.masking import DATABASE_UNAVAILABLE, database_unavailable
from tests.conftest import Backend, make_settings, serving
from tests.tcp_proxy import Mode, TcpProxy

WITHIN = 20.0
"""The bound on every test here: an outage that hangs a test fails it instead."""
CYCLES = "{ cycles { id } }"
CREATE_CYCLE = """
mutation { cycleCreate(input: {name: "Outage", periodStart: "2027-01-01", periodEnd: "2027-12-31"}) { __typename } }
"""
GRAPHQL_RESPONSE = "application/graphql-response+json"


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_url(port: int) -> str:
    return f"postgresql+asyncpg://perfhub@127.0.0.1:{port}/perfhub"


def outage_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "database_connect_timeout_seconds": 0.5,
        "database_pool_timeout_seconds": 0.5,
        "database_statement_timeout_seconds": 1.0,
        "readiness_timeout_seconds": 0.5,
    }
    return make_settings(**{**values, **overrides})


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    errors: list[dict[str, Any]] = body["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """An outage is logged as warnings: a traceback per request would bury the log."""
    logged = [record.getMessage() for record in caplog.records if record.exc_info]
    assert logged == [], logged


@pytest.fixture
async def black_hole() -> AsyncIterator[TcpProxy]:
    """A database address that accepts connections and never answers (no server behind it is needed)."""
    proxy = await TcpProxy("127.0.0.1", closed_port()).start()
    await proxy.set_mode(Mode.BLACK_HOLE)
    yield proxy
    await proxy.close()


# --- Which failures mean the database is away ---------------------------------------------------------


def test_a_pool_timeout_is_unavailable() -> None:
    assert unavailable_reason(PoolTimeout("QueuePool limit of size 10 overflow 20 reached")) == db.POOL_EXHAUSTED


def test_a_connection_sqlalchemy_invalidated_is_unavailable() -> None:
    error = DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True)
    assert unavailable_reason(error) == db.LOST


@pytest.mark.parametrize(
    ("driver_error", "reason"),
    [
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), db.LOST),
        (asyncpg.exceptions.ConnectionFailureError("connection failure"), db.LOST),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), db.RESTARTING),
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), db.RESTARTING),
        (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), db.TIMED_OUT),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), db.FULL),
        (asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"), None),
        (asyncpg.exceptions.UndefinedTableError('relation "nothing" does not exist'), None),
        (asyncpg.exceptions.SerializationError("could not serialize access"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_postgresql_errors_by_sqlstate(driver_error: asyncpg.PostgresError, reason: str | None) -> None:
    """Connection exceptions, shutdowns, cancelled statements and a full server are outages; the rest are not."""
    assert unavailable_reason(OperationalError("SELECT 1", None, driver_error)) == reason
    assert unavailable_reason(driver_error) == reason  # as asyncpg raises it, should one arrive unwrapped


async def test_sqlite_busy_is_unavailable_and_its_other_errors_are_not(tmp_path: Path) -> None:
    """SQLite raises OperationalError for a missing table too: only busy, locked and cannot-open count."""
    path = tmp_path / "busy.db"
    engine = create_bounded_engine(f"sqlite+aiosqlite:///{path}", DatabaseTimeouts(statement=0.1))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE thing (id INTEGER PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO thing VALUES (1)"))
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(OperationalError) as busy:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO thing VALUES (2)"))
        holder.execute("ROLLBACK")
        with pytest.raises(IntegrityError) as duplicate:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO thing VALUES (1)"))
        with pytest.raises(OperationalError) as missing:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT * FROM nothing"))
    finally:
        holder.close()
        await engine.dispose()
    assert "database is locked" in str(busy.value)
    assert unavailable_reason(busy.value) == db.BUSY
    assert unavailable_reason(duplicate.value) is None
    assert unavailable_reason(missing.value) is None


async def connect_error(port: int, connect_timeout: float) -> Exception:
    """What connecting to a PostgreSQL URL on the loopback ``port`` raises (the test fails if it connects)."""
    engine = create_bounded_engine(postgres_url(port), DatabaseTimeouts(connect=connect_timeout))
    try:
        async with asyncio.timeout(WITHIN), engine.connect():
            pass
    except Exception as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError(f"connected to port {port}")


async def test_a_refused_connection_is_unavailable_only_when_the_database_refused_it() -> None:
    """asyncpg's connect errors reach the caller as bare OSError: they count when raised by the database layer."""
    refused = await connect_error(closed_port(), 1.0)
    assert isinstance(refused, OSError)
    assert unavailable_reason(refused) == db.REFUSED
    assert unavailable_reason(ConnectionRefusedError(111, "Connection refused")) is None
    assert unavailable_reason(TimeoutError()) is None  # a timeout of anything but the database


async def test_a_silent_server_is_unavailable(black_hole: TcpProxy) -> None:
    """A partition: the connect timeout, a bare TimeoutError from asyncpg, ends the wait."""
    silent = await connect_error(black_hole.port, 0.3)
    assert isinstance(silent, TimeoutError)
    assert unavailable_reason(silent) == db.TIMED_OUT


def test_an_error_raised_from_an_outage_or_a_group_of_them_is_unavailable() -> None:
    pool_timeout = PoolTimeout("QueuePool limit reached")
    try:
        raise RuntimeError("the stream gave up") from pool_timeout
    except RuntimeError as error:
        assert unavailable_reason(error) == db.POOL_EXHAUSTED
    assert unavailable_reason(ExceptionGroup("loaders", [pool_timeout, PoolTimeout("again")])) == db.POOL_EXHAUSTED
    assert unavailable_reason(ExceptionGroup("loaders", [pool_timeout, ValueError("a bug")])) is None


def test_masking_tells_an_outage_from_a_bug() -> None:
    """Only an unexpected error that is an outage is answered DATABASE_UNAVAILABLE; a bug stays masked."""
    outage = GraphQLError("QueuePool limit reached", path=["cycles"], original_error=PoolTimeout("QueuePool"))
    bug = GraphQLError(
        "duplicate key", path=["cycles"], original_error=IntegrityError("INSERT", None, Exception("duplicate key"))
    )
    ours = GraphQLError("gone", original_error=PoolTimeout("x"), extensions={"code": "EVENT_UNAVAILABLE"})
    assert database_unavailable(outage) == db.POOL_EXHAUSTED
    assert database_unavailable(bug) is None
    assert database_unavailable(ours) is None  # an error that already says what it is keeps its code


# --- A query, a mutation and /readyz while the database is away ----------------------------------------


async def test_a_query_and_a_mutation_on_a_refusing_database_answer_database_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database refuses connections: both answer at once, and the mutation's own audit entry (which cannot
    be written either) does not turn the answer into another error."""
    async with asyncio.timeout(WITHIN), serving(outage_settings(postgres_url(closed_port()))) as client:
        with caplog.at_level(logging.INFO):
            queried = await client.http.post("/graphql", json={"query": CYCLES}, headers={"X-Request-Id": "req-q"})
            mutated = await client.http.post("/graphql", json={"query": CREATE_CYCLE})
            ready = await client.http.get("/readyz")
    assert queried.status_code == 200
    error = only_error(queried.json())
    request_id = queried.headers["x-request-id"]  # the hub's own, not the caller's req-q
    assert error["extensions"] == {"code": DATABASE_UNAVAILABLE, "requestId": request_id}
    assert (
        error["message"] == f"The database is unavailable ({db.REFUSED}); try again shortly (request id {request_id})."
    )
    assert error["path"] == ["cycles"]
    assert mutated.status_code == 200
    assert only_error(mutated.json())["extensions"]["code"] == DATABASE_UNAVAILABLE
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "unreachable", "reason": db.REFUSED}
    assert any("database unavailable" in record.getMessage() for record in caplog.records)
    no_tracebacks(caplog)


async def test_a_silent_database_answers_database_unavailable_within_the_timeouts(
    black_hole: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A partition: the query waits the connect timeout, /readyz its own shorter timeout, nobody for ever."""
    settings = outage_settings(
        postgres_url(black_hole.port), database_connect_timeout_seconds=1.0, readiness_timeout_seconds=0.2
    )
    async with asyncio.timeout(WITHIN), serving(settings) as client:
        with caplog.at_level(logging.INFO):
            ready = await client.http.get("/readyz")
            answers = await asyncio.gather(*(client.http.post("/graphql", json={"query": CYCLES}) for _ in range(4)))
            mutated = await client.http.post("/graphql", json={"query": CREATE_CYCLE})
    assert ready.status_code == 503
    assert ready.json()["reason"] == "no answer within 0.2 s"
    for answer in answers:
        assert answer.status_code == 200
        error = only_error(answer.json())
        assert error["extensions"]["code"] == DATABASE_UNAVAILABLE
        assert db.TIMED_OUT in error["message"]
    assert only_error(mutated.json())["extensions"]["code"] == DATABASE_UNAVAILABLE
    assert black_hole.accepted >= 4
    no_tracebacks(caplog)


async def test_graphql_response_clients_get_200_for_an_executed_operation(black_hole: TcpProxy) -> None:
    """GraphQL over HTTP: the operation executed (its field failed), so the answer has data and status 200."""
    async with asyncio.timeout(WITHIN), serving(outage_settings(postgres_url(black_hole.port))) as client:
        answer = await client.http.post("/graphql", json={"query": CYCLES}, headers={"Accept": GRAPHQL_RESPONSE})
    assert answer.status_code == 200
    body = answer.json()
    assert "data" in body
    assert only_error(body)["extensions"]["code"] == DATABASE_UNAVAILABLE


@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE, 503), ("application/json", 200)])
async def test_an_outage_escaping_execution_is_a_request_error(
    monkeypatch: pytest.MonkeyPatch, accept: str, status: int
) -> None:
    """Nothing executed because the database is away: 503 for application/graphql-response+json, and the
    200 legacy application/json clients expect, both without data and with the code."""

    async def starved(*_args: Any, **_kwargs: Any) -> Any:
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached, connection timed out")

    monkeypatch.setattr(PerfhubGraphQL, "execute_operation", starved)
    async with asyncio.timeout(WITHIN), serving(outage_settings(postgres_url(closed_port()))) as client:
        answer = await client.http.post(
            "/graphql", json={"query": CYCLES}, headers={"Accept": accept, "X-Request-Id": "req-7"}
        )
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith(accept)
    request_id = answer.headers["x-request-id"]  # the hub's own, not the caller's req-7
    assert request_id != "req-7"
    assert answer.json() == {
        "errors": [
            {
                "message": f"The database is unavailable ({db.POOL_EXHAUSTED}); try again shortly "
                f"(request id {request_id}).",
                "extensions": {"code": DATABASE_UNAVAILABLE},
            }
        ]
    }


async def test_a_bug_in_a_statement_stays_a_masked_internal_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement the database rejects is our defect, not an outage: masked, and logged with its traceback."""

    async def broken(sessionmaker: Any, *_arguments: Any) -> Any:
        async with sessionmaker() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(hub.operations.cycles, "create_cycle", broken)
    async with asyncio.timeout(WITHIN), serving(settings) as client:
        with caplog.at_level(logging.ERROR):
            answer = await client.http.post("/graphql", json={"query": CREATE_CYCLE})
    assert answer.status_code == 200
    error = only_error(answer.json())
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "no_such_table" not in answer.text
    assert any(
        isinstance(record.exc_info and record.exc_info[1], OperationalError | ProgrammingError)
        for record in caplog.records
    )


async def test_a_busy_sqlite_database_answers_database_unavailable(sqlite_backend: Backend, tmp_path: Path) -> None:
    """SQLite's only outage: another process holds the write lock for longer than the statement timeout."""
    url = sqlite_backend.copy(tmp_path)
    holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    try:
        async with (
            asyncio.timeout(WITHIN),
            serving(outage_settings(url, database_statement_timeout_seconds=0.2)) as client,
        ):
            holder.execute("BEGIN IMMEDIATE")
            answer = await client.http.post("/graphql", json={"query": CREATE_CYCLE})
            holder.execute("ROLLBACK")
            again = await client.data(CREATE_CYCLE)
    finally:
        holder.close()
    error = only_error(answer.json())
    assert error["extensions"]["code"] == DATABASE_UNAVAILABLE
    assert db.BUSY in error["message"]
    assert again["cycleCreate"]["__typename"] == "CycleChanged"


# --- PostgreSQL: the limits reach the server, and the pool recovers ------------------------------------


async def test_statement_timeout_is_set_on_the_server_and_keeps_the_connection(postgresql_url: str) -> None:
    engine = create_bounded_engine(postgresql_url, DatabaseTimeouts(statement=0.5), pool_size=1, max_overflow=0)
    try:
        async with asyncio.timeout(WITHIN):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SHOW statement_timeout")) == "500ms"
            with pytest.raises(DBAPIError) as slow:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT pg_sleep(5)"))
            async with engine.connect() as connection:  # the server cancelled the statement, not the connection
                assert await connection.scalar(text("SELECT 1")) == 1
            with pytest.raises(IntegrityError) as duplicate:
                async with engine.begin() as connection:
                    await connection.execute(text("CREATE TEMP TABLE thing (id int PRIMARY KEY)"))
                    await connection.execute(text("INSERT INTO thing VALUES (1), (1)"))
    finally:
        await engine.dispose()
    assert unavailable_reason(slow.value) == db.TIMED_OUT
    assert unavailable_reason(duplicate.value) is None


async def test_batch_work_has_no_statement_timeout(postgresql_url: str) -> None:
    """Migrations, seeding and the CLI's computations may rightly run long statements: only the served hub
    (create_bounded_engine with the settings) limits them."""
    engine = create_engine(postgresql_url)
    try:
        async with asyncio.timeout(WITHIN), engine.connect() as connection:
            assert await connection.scalar(text("SHOW statement_timeout")) == "0"
    finally:
        await engine.dispose()


async def test_the_pool_recovers_from_refusal_and_partition_without_a_restart(postgresql_url: str) -> None:
    """Pooled connections that were reset or fell silent are found on checkout, within the connect timeout,
    and replaced once the database is back."""
    database = make_url(postgresql_url)
    proxy = await TcpProxy(database.host or "127.0.0.1", database.port or 5432).start()
    url = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    statement = 30.0
    # Every checkout pings (ping_after_idle=0): a loaded machine connects within 2 s.
    timeouts = DatabaseTimeouts(connect=2.0, pool=2.0, statement=statement, ping_after_idle=0)
    engine = create_bounded_engine(url, timeouts)

    async def select_one() -> object:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT 1"))

    async def failure() -> BaseException:
        try:
            await select_one()
        except Exception as error:
            return error
        raise AssertionError("the database answered through the outage")

    try:
        async with asyncio.timeout(WITHIN):
            assert await asyncio.gather(*(select_one() for _ in range(3))) == [1, 1, 1]  # three pooled connections
            await proxy.set_mode(Mode.REFUSE)
            assert unavailable_reason(await failure()) == db.REFUSED
            await proxy.set_mode(Mode.PASS)
            assert await asyncio.gather(*(select_one() for _ in range(3))) == [1, 1, 1]
            await proxy.set_mode(Mode.BLACK_HOLE)
            # A pooled connection's ping gives up after the connect timeout, not the statement timeout.
            started = asyncio.get_running_loop().time()
            reasons = [unavailable_reason(error) for error in await asyncio.gather(*(failure() for _ in range(3)))]
            waited = asyncio.get_running_loop().time() - started
            await proxy.set_mode(Mode.PASS)
            assert await asyncio.gather(*(select_one() for _ in range(3))) == [1, 1, 1]
    finally:
        await engine.dispose()
        await proxy.close()
    assert reasons == [db.TIMED_OUT] * 3
    assert waited < statement, f"the checkouts waited {waited:.1f} s: as long as a statement"


# --- Settings ------------------------------------------------------------------------------------------


def test_timeouts_default_to_seconds_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (
        defaults.database_connect_timeout_seconds,
        defaults.database_pool_timeout_seconds,
        defaults.database_statement_timeout_seconds,
        defaults.readiness_timeout_seconds,
    ) == (5.0, 5.0, 30.0, 2.0)
    assert DatabaseTimeouts.of(defaults) == DatabaseTimeouts()
    monkeypatch.setenv("PERFHUB_DATABASE_CONNECT_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("PERFHUB_DATABASE_STATEMENT_TIMEOUT_SECONDS", "10")
    assert DatabaseTimeouts.of(Settings()) == DatabaseTimeouts(connect=1.5, pool=5.0, statement=10.0)


@pytest.mark.parametrize("name", ["PERFHUB_DATABASE_POOL_TIMEOUT_SECONDS", "PERFHUB_READINESS_TIMEOUT_SECONDS"])
def test_a_timeout_must_be_positive(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Zero would mean every wait fails at once, not "no limit": refused at start-up."""
    monkeypatch.setenv(name, "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


def test_the_pool_waits_the_pool_timeout(tmp_path: Path) -> None:
    timeouts = DatabaseTimeouts(pool=3.0)
    for url in (postgres_url(closed_port()), f"sqlite+aiosqlite:///{tmp_path}/pool.db"):
        pool = create_bounded_engine(url, timeouts).pool
        assert isinstance(pool, QueuePool)
        assert pool.timeout() == 3.0
