"""The HTTP side: GET queries, GraphiQL, health and readiness, and who may ask what (WebSockets: test_websocket.py)."""

from __future__ import annotations

import socket

import httpx
import pytest
from graphql import get_introspection_query

from hub.app import create_app
from hub.auth import Role, issue_token
from tests.conftest import GraphQLClient, make_settings, serving


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


async def test_anonymous_introspection_is_refused_by_default(app_client: GraphQLClient) -> None:
    """PERFHUB_INTROSPECTION=true (the default): introspection needs a token, as any query does."""
    anonymous = app_client.anonymous()
    response = await anonymous.http.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with_token = await app_client.http.post("/graphql", json={"query": get_introspection_query()})
    assert with_token.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_anonymous_may_introspect_when_public(database_url: str) -> None:
    """PERFHUB_INTROSPECTION=public: GraphiQL's introspection query (and __typename) answers without a token."""
    async with serving(make_settings(database_url=database_url, introspection="public")) as client:
        anonymous = client.anonymous()
        response = await anonymous.http.post("/graphql", json={"query": get_introspection_query()})
        assert response.status_code == 200
        assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
        typename = await anonymous.http.post(
            "/graphql", json={"query": "query { __typename ...T } fragment T on Query { __typename }"}
        )
        assert typename.json()["data"] == {"__typename": "Query"}
        smuggled = await anonymous.http.post("/graphql", json={"query": "{ __typename posts { code } }"})
        assert smuggled.status_code == 401


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
    """An expired token, its signature valid, is not treated as anonymous: 401, nothing run, the client renews it."""
    token = issue_token(app_client.settings, role=Role.HR_ADMIN, ttl=-3600)
    app_client.sql.reset()
    response = await app_client.http.get(
        "/graphql", params={"query": "{ posts { code } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "token expired", "extensions": {"code": "UNAUTHENTICATED"}}]}
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert app_client.sql.count == 0


async def test_every_role_is_authenticated(app_client: GraphQLClient) -> None:
    """A token of any role but scim gets past authentication (what it may see is the field rules' business); an
    analyst's names nobody (one that names an employee is refused: tests/hub/test_auth.py)."""
    for role in set(Role) - {Role.SCIM}:
        number = None if role is Role.ANALYST else "E000012"
        body = await app_client.as_principal(role, employee_number=number).execute("{ __typename }")
        assert body == {"data": {"__typename": "Query"}}


async def test_a_scim_token_is_refused_here(app_client: GraphQLClient) -> None:
    """A scim token provisions people at /scim/v2 and reads nothing at /graphql: 403 before its body is read."""
    token = issue_token(app_client.settings, role=Role.SCIM, subject="okta")
    response = await app_client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert app_client.sql.count == 0


async def test_the_request_id_is_the_hubs_own(app_client: GraphQLClient) -> None:
    """Every answer names the hub's own request id, to find the request in the logs; never the caller's
    X-Request-Id, which the audit keeps beside it (tests/insider/test_audit_bounds.py)."""
    response = await app_client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "portal-42"}
    )
    assert response.headers["x-request-id"] != "portal-42"
    assert len(response.headers["x-request-id"]) == 32
    fresh = await app_client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "bad id\\n with spaces"}
    )
    assert len(fresh.headers["x-request-id"]) == 32
