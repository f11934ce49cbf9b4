"""The HTTP side: GET queries, GraphiQL for browsers, health and readiness."""

from __future__ import annotations

import socket

import httpx

from hub.app import create_app
from hub.config import Settings
from tests.conftest import GraphQLClient


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
    settings = Settings(database_url=f"postgresql+asyncpg://perfhub@127.0.0.1:{port}/perfhub", demo=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfhub.test") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
