"""The WebSocket side: who may connect, and every operation on a socket admitted as an HTTP request is.

A socket is authenticated once, at connection_init, and one Context serves all its operations; the
tests pin what must still hold per operation: the token's expiry, the rate limit, fresh loaders.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Message

from hub.app import PerfhubGraphQL, create_app
from hub.auth import Principal, Role, issue_token
from hub.config import Settings
from hub.ratelimit import RateLimiter
from hub.websocket import SocketRefused
from resolvers.context import Context
from schema import build_schema
from tests.conftest import TODAY, StatementCounter, make_settings

EXPIRED = {"message": "the token has expired", "extensions": {"code": "UNAUTHENTICATED"}}
SUBSCRIPTION = "subscription { resultPublished { eventId } }"


class Socket:
    """A WebSocket client speaking ASGI to the app in process (starlette's TestClient needs httpx2)."""

    def __init__(self, app: Starlette, subprotocol: str) -> None:
        self.app = app
        self.subprotocol = subprotocol
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.tasks_before: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Socket:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"perfhub.test"), (b"sec-websocket-protocol", self.subprotocol.encode())],
            "subprotocols": [self.subprotocol],
            "client": ("127.0.0.1", 5000),
            "server": ("perfhub.test", 80),
        }
        self.tasks_before = asyncio.all_tasks()
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "websocket.connect"})
        accepted = await self.next_message()
        assert accepted["type"] == "websocket.accept", accepted
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        assert self.task is not None
        await asyncio.wait_for(self.task, 5)
        # Operation tasks may still be closing their database connection (shielded): let them finish
        # before the fixture disposes of the engine.
        leftovers = asyncio.all_tasks() - self.tasks_before - {asyncio.current_task()}
        if leftovers:
            await asyncio.wait(leftovers, timeout=5)

    async def next_message(self) -> Message:
        return await asyncio.wait_for(self.outbox.get(), 5)

    async def send(self, message: dict[str, Any]) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict[str, Any]:
        """The next JSON message; {"close": code} when the server closed the socket instead."""
        message = await self.next_message()
        if message["type"] == "websocket.close":
            return {"close": message.get("code")}
        received: dict[str, Any] = json.loads(message["text"])
        return received

    async def connect(self, token: str) -> None:
        """Sends connection_init with the token and expects the acknowledgement."""
        await self.send(init(token))
        assert await self.receive() == {"type": "connection_ack"}

    async def operate(self, id_: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Runs one query or mutation (graphql-transport-ws): its ``next`` payload, or its ``error`` message."""
        await self.send({"id": id_, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        message = await self.receive()
        if message["type"] == "next":
            assert await self.receive() == {"id": id_, "type": "complete"}
            payload: dict[str, Any] = message["payload"]
            return payload
        return message


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Starlette, StatementCounter]]:
    """The app within its lifespan, with a counter of the SQL statements its engine executes."""
    app = create_app(settings, clock=lambda: TODAY)
    async with app.router.lifespan_context(app):
        counter = StatementCounter()
        event.listen(app.state.resources.engine.sync_engine, "before_cursor_execute", counter)
        yield app, counter


@pytest.fixture
async def socket_app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running(settings) as (app, _):
        yield app


def init(token: str | None) -> dict[str, Any]:
    payload = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return {"type": "connection_init", "payload": payload}


# --- Connecting ---------------------------------------------------------------------------------------


async def test_transport_ws_accepts_a_valid_token(socket_app: Starlette, settings: Settings) -> None:
    """graphql-transport-ws: a good token in connection_init is acknowledged and operations run."""
    token = issue_token(settings, role=Role.HR_ADMIN)
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(token))
        assert await socket.receive() == {"type": "connection_ack"}
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": "{ posts { code } }"}})
        message = await socket.receive()
        assert message["type"] == "next"
        assert len(message["payload"]["data"]["posts"]) == 12


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, 'authentication required: send {"Authorization": "Bearer <token>"} in connection_init'),
        ("garbage", "invalid token"),
    ],
)
async def test_transport_ws_rejects_a_missing_or_bad_token(
    socket_app: Starlette, token: str | None, reason: str
) -> None:
    """graphql-transport-ws: no token or a bad one closes the socket with 4401 and a reason, before any operation.

    4401, not strawberry's 4403: graphql-ws clients retry a 4403 for ~40 s before telling the user.
    """
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(token))
        closed = await socket.next_message()
        assert (closed["type"], closed["code"], closed["reason"]) == ("websocket.close", 4401, reason)


async def test_transport_ws_refuses_a_scim_token(socket_app: Starlette, settings: Settings) -> None:
    """A scim token provisions people at /scim/v2 and reads nothing here: its socket is closed 4401."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.SCIM, subject="okta")))
        closed = await socket.next_message()
        assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
        assert "/scim/v2" in closed["reason"]


async def test_transport_ws_operation_before_init_is_refused(socket_app: Starlette) -> None:
    """An operation sent without connection_init is closed 4401 by the protocol: no principal, no answer."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": "{ posts { code } }"}})
        assert await socket.receive() == {"close": 4401}


async def test_legacy_graphql_ws_accepts_and_rejects(socket_app: Starlette, settings: Settings) -> None:
    """graphql-ws: acknowledged with a token; connection_error with the short reason without a valid one, then
    closed 4401 with it (not strawberry's 1011, which says "server error")."""
    async with Socket(socket_app, "graphql-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL)))
        assert await socket.receive() == {"type": "connection_ack"}
    async with Socket(socket_app, "graphql-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL, ttl=-3600)))
        assert await socket.receive() == {"type": "connection_error", "payload": {"message": "token expired"}}
        closed = await socket.next_message()
        assert (closed["type"], closed["code"], closed["reason"]) == ("websocket.close", 4401, "token expired")


async def test_socket_principal_lives_in_the_context(settings: Settings) -> None:
    """on_ws_connect puts the token's principal into the socket's context, used by every operation on it."""
    app = create_app(settings)
    [view] = [route.app for route in app.routes if isinstance(route, WebSocketRoute)]
    assert isinstance(view, PerfhubGraphQL)
    context = Context(settings=settings, sessionmaker=None, today=TODAY)  # type: ignore[arg-type]
    token = issue_token(settings, role=Role.MANAGER, employee_number="E000001")
    context.connection_params = {"authorization": f"Bearer {token}"}  # header names are case-insensitive
    await view.on_ws_connect(context)
    assert context.principal.employee_number == "E000001"
    assert context.principal.has(Role.MANAGER)
    context.connection_params = {"Authorization": 42}
    with pytest.raises(SocketRefused) as refused:
        await view.on_ws_connect(context)
    assert refused.value.code == 4401


async def test_subscription_on_the_socket_runs_as_the_connected_principal(
    socket_app: Starlette, settings: Settings
) -> None:
    """A subscription started after connection_init runs as the token's principal (anonymous would be refused)."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL)))
        assert await socket.receive() == {"type": "connection_ack"}
        await socket.send({"id": "s1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        message = await socket.receive()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        assert message["payload"]["data"]["resultPublished"]["eventId"]
        await socket.send({"id": "s1", "type": "complete"})


# --- Every operation on an open socket ----------------------------------------------------------------


async def test_transport_ws_operations_after_the_token_expired_are_refused(database_url: str) -> None:
    """Once the token behind an open socket expires, every operation on it is refused UNAUTHENTICATED, no SQL run."""
    settings = make_settings(database_url=database_url, jwt_leeway_seconds=0)
    async with running(settings) as (app, sql), Socket(app, "graphql-transport-ws") as socket:
        # Issued once the app runs: its start on a busy machine took longer than the token's life (CI, 13:39).
        token = issue_token(settings, role=Role.HR_ADMIN, ttl=2)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        await socket.connect(token)
        assert "errors" not in await socket.operate("before", "{ posts { code } }")
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.1)
        sql.reset()
        documents = [
            "{ posts { code } }",
            'mutation { cycleCreate(input: {name: "late", periodStart: "2027-01-01", periodEnd: "2027-03-31"}) '
            "{ __typename } }",
            SUBSCRIPTION,
        ]
        for number, document in enumerate(documents):
            refused = await socket.operate(f"after-{number}", document)
            assert refused == {"id": f"after-{number}", "type": "error", "payload": [EXPIRED]}
        assert sql.count == 0


async def test_transport_ws_operations_share_the_principals_rate_limit(database_url: str) -> None:
    """A socket's operations take tokens from the bucket its principal's HTTP requests use; over it, RATE_LIMITED."""
    settings = make_settings(database_url=database_url, rate_limit_per_second=0.01, rate_limit_burst=2)
    token = issue_token(settings, role=Role.HR_ADMIN)
    async with running(settings) as (app, sql), Socket(app, "graphql-transport-ws") as socket:
        await socket.connect(token)
        view = next(route.app for route in app.routes if isinstance(route, WebSocketRoute))
        assert isinstance(view, PerfhubGraphQL)
        assert isinstance(view.rate_limiter, RateLimiter)
        assert view.rate_limiter.acquire("subject:demo-hr_admin") == 0.0  # as an HTTP request by this subject would
        assert "errors" not in await socket.operate("1", "{ posts { code } }")
        sql.reset()
        refused = await socket.operate("2", "{ posts { code } }")
        assert refused["type"] == "error"
        [error] = refused["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] >= 1
        assert error["message"] == f"rate limit exceeded: retry after {error['extensions']['retryAfter']} s"
        assert sql.count == 0
        # The refused id is free again: the client retries it later.
        view.rate_limiter.rate = 1000.0
        assert "errors" not in await socket.operate("2", "{ posts { code } }")


async def test_legacy_graphql_ws_subscriptions_are_rate_limited(database_url: str) -> None:
    """graphql-ws: a start message over the principal's rate limit is answered with a RATE_LIMITED error."""
    settings = make_settings(database_url=database_url, rate_limit_per_second=0.01, rate_limit_burst=1)
    async with running(settings) as (app, _), Socket(app, "graphql-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL)))
        assert await socket.receive() == {"type": "connection_ack"}
        await socket.send({"id": "s1", "type": "start", "payload": {"query": SUBSCRIPTION}})
        assert (await socket.receive())["type"] == "data"
        await socket.send({"id": "s2", "type": "start", "payload": {"query": SUBSCRIPTION}})
        while (refused := await socket.receive()).get("id") != "s2":  # s1 may deliver more events meanwhile
            pass
        assert refused["type"] == "error"
        assert refused["payload"]["extensions"]["code"] == "RATE_LIMITED"
        await socket.send({"id": "s1", "type": "stop"})


async def test_a_query_after_a_mutation_on_the_same_socket_reads_fresh_data(
    socket_app: Starlette, settings: Settings
) -> None:
    """Each operation on a socket starts with fresh loaders: a query repeated after a mutation sees its change."""
    cycle_state = "query($id: ID!) { cycle(id: $id) { state } }"
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.connect(issue_token(settings, role=Role.HR_ADMIN))
        created = await socket.operate(
            "create",
            """mutation($input: CycleCreateInput!) {
                 cycleCreate(input: $input) { ... on CycleChanged { cycle { id } } } }""",
            {"input": {"name": "2027 Q1", "periodStart": "2027-01-01", "periodEnd": "2027-03-31"}},
        )
        cycle_id = created["data"]["cycleCreate"]["cycle"]["id"]
        before = await socket.operate("before", cycle_state, {"id": cycle_id})
        assert before["data"]["cycle"]["state"] == "DRAFT"
        opened = await socket.operate(
            "open",
            "mutation($id: ID!) { cycleOpen(cycleId: $id) { __typename ... on CycleChanged { cycle { state } } } }",
            {"id": cycle_id},
        )
        assert opened["data"]["cycleOpen"] == {"__typename": "CycleChanged", "cycle": {"state": "OPEN"}}
        after = await socket.operate("after", cycle_state, {"id": cycle_id})
        assert after["data"]["cycle"]["state"] == "OPEN"


# --- The schema's own guard, whatever the transport ---------------------------------------------------


async def test_the_schema_refuses_an_expired_principal_before_executing(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """OperationGuard refuses queries and subscriptions of a principal past its expiry and leeway, no SQL run."""
    schema = build_schema(settings)
    sql = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", sql)
    past_leeway = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.jwt_leeway_seconds + 1)
    expired = Principal("hr", frozenset({Role.HR_ADMIN}), expires_at=past_leeway)
    context = Context(settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=expired)
    result = await schema.execute("{ posts { code } }", context_value=context)
    assert result.data is None
    assert [error.formatted for error in result.errors or []] == [EXPIRED]
    stream = await schema.subscribe(SUBSCRIPTION, context_value=context)
    assert isinstance(stream, AsyncIterator)
    try:
        first = await anext(stream)
    finally:
        await stream.aclose()
    assert [error.formatted for error in first.errors or []] == [EXPIRED]
    assert sql.count == 0


async def test_the_schema_allows_the_verifiers_leeway(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A token expired by less than the leeway still works, as it would still pass the token verifier over HTTP."""
    just_expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert settings.jwt_leeway_seconds > 1
    principal = Principal("hr", frozenset({Role.HR_ADMIN}), expires_at=just_expired)
    context = Context(settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=principal)
    result = await build_schema(settings).execute("{ posts { code } }", context_value=context)
    assert result.errors is None
