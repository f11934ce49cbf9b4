"""The HTTP and WebSocket side: GET queries, GraphiQL, health and readiness, and who may ask what."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Message
from strawberry.exceptions import ConnectionRejectionError

from hub.app import PerfhubGraphQL, create_app
from hub.auth import Role, issue_token
from hub.config import Settings
from resolvers.context import Context
from tests.conftest import TODAY, GraphQLClient, make_settings


async def test_get_serves_queries(app_client: GraphQLClient) -> None:
    """A query can be sent with GET, e.g. from a cache-friendly portal."""
    response = await app_client.http.get("/graphql", params={"query": "{ posts { code } }"})
    assert response.status_code == 200
    assert len(response.json()["data"]["posts"]) == 12


async def test_browser_gets_graphiql(app_client: GraphQLClient) -> None:
    """A browser asking for HTML gets the GraphiQL page."""
    response = await app_client.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_and_readiness(app_client: GraphQLClient) -> None:
    """/healthz answers while the process lives; /readyz checks that the database answers."""
    health = await app_client.http.get("/healthz")
    ready = await app_client.http.get("/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_readiness_fails_when_the_database_is_unreachable() -> None:
    """/readyz answers 503 (not a 500) when the database server does not answer."""
    with socket.socket() as sock:  # a port nothing listens on: the connection is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(database_url=f"postgresql+asyncpg://perfhub@127.0.0.1:{port}/perfhub")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfhub.test") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


# --- Authentication over HTTP ------------------------------------------------------------------------


async def test_anonymous_operation_is_401_without_data(app_client: GraphQLClient) -> None:
    """No token: any operation other than introspection is refused with UNAUTHENTICATED, nothing run."""
    anonymous = app_client.anonymous()
    app_client.sql.reset()
    response = await anonymous.http.post("/graphql", json={"query": "{ posts { code } }"})
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "authentication required", "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert response.headers["www-authenticate"] == "Bearer"
    assert app_client.sql.count == 0


async def test_anonymous_may_load_graphiql_and_health(app_client: GraphQLClient) -> None:
    """GraphiQL, /healthz and /readyz need no token: a newcomer opens GraphiQL, then pastes one."""
    anonymous = app_client.anonymous()
    assert (await anonymous.http.get("/graphql", headers={"accept": "text/html"})).status_code == 200
    assert (await anonymous.http.get("/healthz")).status_code == 200
    assert (await anonymous.http.get("/readyz")).status_code == 200


async def test_anonymous_may_introspect_for_graphiql_docs(app_client: GraphQLClient) -> None:
    """GraphiQL's introspection query (and __typename) answers without a token, so its docs work."""
    anonymous = app_client.anonymous()
    response = await anonymous.http.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 200
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    typename = await anonymous.http.post(
        "/graphql", json={"query": "query { __typename ...T } fragment T on Query { __typename }"}
    )
    assert typename.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } posts { code } }",
        "{ ...Sneaky } fragment Sneaky on Query { posts { code } }",
        "{ __typename } mutation { cycleOpen(cycleId: 1) { __typename } }",
        "{ posts { code",
    ],
)
async def test_anonymous_cannot_smuggle_fields_next_to_introspection(app_client: GraphQLClient, query: str) -> None:
    """A document is introspection-only as a whole, fragments and every operation included, or it is 401."""
    response = await app_client.anonymous().http.post("/graphql", json={"query": query})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer garbage", "invalid token"),
        ("Basic dXNlcjpwYXNz", "unsupported scheme"),
    ],
)
async def test_bad_token_is_401_with_a_reason(app_client: GraphQLClient, header: str, reason: str) -> None:
    """A refused token is 401 with a short reason and an RFC 6750 challenge; the body says no more."""
    response = await app_client.http.post(
        "/graphql", json={"query": "{ posts { code } }"}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0] == {"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_expired_token_is_401_token_expired(app_client: GraphQLClient) -> None:
    """An expired token is not treated as anonymous: the client learns to renew it."""
    token = issue_token(app_client.settings, role=Role.HR_ADMIN, ttl=-3600)
    response = await app_client.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "token expired"


async def test_every_role_is_authenticated(app_client: GraphQLClient) -> None:
    """A token of any role gets past authentication (what it may see is the field rules' business)."""
    for role in Role:
        body = await app_client.as_principal(role, employee_number="E000012").execute("{ __typename }")
        assert body == {"data": {"__typename": "Query"}}


async def test_request_id_is_echoed(app_client: GraphQLClient) -> None:
    """The X-Request-Id a caller sends (or a fresh one) comes back, to find the request in the logs."""
    response = await app_client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "portal-42"}
    )
    assert response.headers["x-request-id"] == "portal-42"
    fresh = await app_client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "bad id\\n with spaces"}
    )
    assert len(fresh.headers["x-request-id"]) == 32


# --- Authentication over WebSockets ------------------------------------------------------------------


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


@pytest.fixture
async def socket_app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings, clock=lambda: TODAY)
    async with app.router.lifespan_context(app):
        yield app


def init(token: str | None) -> dict[str, Any]:
    payload = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return {"type": "connection_init", "payload": payload}


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


@pytest.mark.parametrize("token", [None, "garbage"])
async def test_transport_ws_rejects_a_missing_or_bad_token(socket_app: Starlette, token: str | None) -> None:
    """graphql-transport-ws: no token or a bad one closes the socket with 4403 before any operation."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(token))
        assert await socket.receive() == {"close": 4403}


async def test_transport_ws_operation_before_init_is_refused(socket_app: Starlette) -> None:
    """An operation sent without connection_init is closed 4401 by the protocol: no principal, no answer."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send({"id": "1", "type": "subscribe", "payload": {"query": "{ posts { code } }"}})
        assert await socket.receive() == {"close": 4401}


async def test_legacy_graphql_ws_accepts_and_rejects(socket_app: Starlette, settings: Settings) -> None:
    """graphql-ws: acknowledged with a token; connection_error with the short reason without a valid one."""
    async with Socket(socket_app, "graphql-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL)))
        assert await socket.receive() == {"type": "connection_ack"}
    async with Socket(socket_app, "graphql-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL, ttl=-3600)))
        assert await socket.receive() == {"type": "connection_error", "payload": {"message": "token expired"}}


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
    with pytest.raises(ConnectionRejectionError):
        await view.on_ws_connect(context)


async def test_subscription_on_the_socket_runs_as_the_connected_principal(
    socket_app: Starlette, settings: Settings
) -> None:
    """A subscription started after connection_init runs as the token's principal (anonymous would be refused)."""
    async with Socket(socket_app, "graphql-transport-ws") as socket:
        await socket.send(init(issue_token(settings, role=Role.PAYROLL)))
        assert await socket.receive() == {"type": "connection_ack"}
        query = "subscription { resultPublished { eventId } }"
        await socket.send({"id": "s1", "type": "subscribe", "payload": {"query": query}})
        message = await socket.receive()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        assert message["payload"]["data"]["resultPublished"]["eventId"]
        await socket.send({"id": "s1", "type": "complete"})
