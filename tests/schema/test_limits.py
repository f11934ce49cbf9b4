"""Limits on abusive requests: each is refused with an error naming the limit, before any SQL runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import strawberry
from graphql import GraphQLError, parse

import resolvers.organisation
from hub.app import create_app
from hub.auth import Role, issue_token
from hub.config import Introspection, Settings
from schema import build_schema
from schema.limits import CostModel, estimate_cost
from tests.conftest import TODAY, GraphQLClient, make_settings

REFUSAL_DEADLINE_SECONDS = 30


async def refused_before_sql(
    client: GraphQLClient, query: str, variables: dict[str, object] | None = None
) -> dict[str, Any]:
    """The single error of a refused document, after checking that no statement reached the database."""
    client.sql.reset()
    # A guard against a hang (a fragment bomb expanded would take hours), not a speed measurement: on a
    # loaded machine a refusal that costs milliseconds alone may take a second.
    async with asyncio.timeout(REFUSAL_DEADLINE_SECONDS):
        body = await client.execute(query, variables)
    assert body.get("data") is None, body
    assert client.sql.count == 0, client.sql.statements
    error: dict[str, Any] = body["errors"][0]
    return error


def nested_children(levels: int) -> str:
    return "{ departments { " + "children { " * levels + "id" + " }" * levels + " } }"


async def test_depth_limit(app_client: GraphQLClient) -> None:
    """A document nested deeper than max_depth (10) is refused, naming the limit."""
    error = await refused_before_sql(app_client, nested_children(11))
    assert "exceeds maximum operation depth of 10" in error["message"]


async def test_depth_at_the_limit_runs(app_client: GraphQLClient) -> None:
    """Depth 10 itself is allowed (the limit is inclusive)."""
    query = '{ employee(id: "120") { ' + "manager { " * 9 + "id" + " }" * 9 + " } }"
    await app_client.data(query)


async def test_an_org_chart_three_levels_deep_is_affordable(app_client: GraphQLClient) -> None:
    """Nested unbounded lists multiply by the guess (10), so a department tree three levels deep still runs."""
    await app_client.data("{ departments { children { children { posts { code } } } } }")


async def test_alias_limit(app_client: GraphQLClient) -> None:
    """More than max_aliases (30) aliases is refused with the count and the limit."""
    query = "{ " + " ".join(f"p{i}: posts {{ code }}" for i in range(31)) + " }"
    error = await refused_before_sql(app_client, query)
    assert error["message"] == "31 aliases found. Allowed: 30"


async def test_token_limit(app_client: GraphQLClient) -> None:
    """A document of more than max_tokens (2000) tokens is refused while parsing."""
    query = "{ " + " ".join("posts { code }" for _ in range(500)) + " }"
    error = await refused_before_sql(app_client, query)
    assert "more than 2000 tokens" in error["message"]


async def test_fragment_bomb_is_refused_fast(app_client: GraphQLClient) -> None:
    """Fragments that each spread the next twice expand to 2^40 fields: refused in milliseconds, not hours."""
    fragments = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    query = "{ ...F0 }\n" + fragments + "\nfragment F40 on Query { posts { code } }"
    error = await refused_before_sql(app_client, query)
    assert error["message"] == "the document expands to more than 20000 fields"
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "fields", "maximum": 20000}


async def test_cost_limit(app_client: GraphQLClient) -> None:
    """500 employees x their results x each result's scores is past max_cost: refused with the estimate."""
    query = "{ employees(first: 500) { edges { node { results { indicatorScores { normalizedScore } } } } } }"
    error = await refused_before_sql(app_client, query)
    assert "exceeds the maximum cost of 50000" in error["message"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "cost"
    assert error["extensions"]["cost"] > 50_000


async def test_cost_reads_page_size_from_variables(app_client: GraphQLClient) -> None:
    """The same document is cheap for `first: 5` and refused for `first: 500`: the estimate reads variables."""
    query = (
        "query($n: Int) { employees(first: $n) { edges { node { results { indicatorScores { normalizedScore } } } } } }"
    )
    await app_client.data(query, {"n": 5})
    error = await refused_before_sql(app_client, query, {"n": 500})
    assert error["extensions"]["limit"] == "cost"


@strawberry.type
class TrainingRecord:
    title: str


@strawberry.type
class Person:
    name: str
    training_records: list[TrainingRecord]
    friends: list[Person]


@strawberry.type
class PersonConnection:
    edges: list[Person]


@strawberry.type
class PeopleQuery:
    @strawberry.field
    def people(self, first: int | None = 50) -> PersonConnection:
        raise NotImplementedError


def test_cost_model_multiplies_lists_and_weighs_system_fields() -> None:
    """Unit check of the estimate: pages by `first`, unbounded lists by the guess, system fields by weight."""
    schema = strawberry.Schema(PeopleQuery)._schema
    model = CostModel(max_cost=50_000, list_size=20, system_field=10, max_page_size=500)

    def cost(query: str, variables: dict[str, object] | None = None) -> int:
        document = parse(query)
        operation = document.definitions[0]
        return estimate_cost(schema, document, operation, variables or {}, model)  # type: ignore[arg-type]

    # people 1 + edges 10 + names 10
    assert cost("{ people(first: 10) { edges { name } } }") == 21
    # the argument's default page size (50) when `first` is not sent
    assert cost("{ people { edges { name } } }") == 101
    # trainingRecords costs 10 per person, each record's title 1 x the list guess of 20
    assert cost("{ people(first: 10) { edges { trainingRecords { title } } } }") == 1 + 10 + 10 * (10 + 20)
    # an unbounded list multiplies by 20; a page size over the maximum counts as the maximum
    assert cost("query($n: Int) { people(first: $n) { edges { friends { name } } } }", {"n": 10**9}) == (
        1 + 500 + 500 * (1 + 20)
    )
    # fragments are charged once per use, __typename is free
    assert cost("{ ...P ...P } fragment P on Query { __typename people(first: 1) { edges { name } } }") == 2 * 3


async def test_page_size_cap_still_applies(app_client: GraphQLClient) -> None:
    """`first` over 500 is the resolver's BAD_USER_INPUT (visible, not masked), not a cost error."""
    body = await app_client.execute("{ employees(first: 501) { totalCount } }")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}


# --- Body size and rate ------------------------------------------------------------------------------


async def test_body_too_large_is_413(app_client: GraphQLClient) -> None:
    """A body over max_body_bytes (1 MiB) is answered 413 before it is parsed."""
    query = "{ __typename }" + " " * (1024 * 1024)
    app_client.sql.reset()
    response = await app_client.http.post("/graphql", json={"query": query})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "1048576 bytes" in response.json()["errors"][0]["message"]
    assert app_client.sql.count == 0


async def test_streamed_body_too_large_is_413(app_client: GraphQLClient) -> None:
    """A chunked body without Content-Length is counted as it arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "padding": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = await app_client.http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.fixture
async def limited_app(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = make_settings(database_url=database_url, rate_limit_per_second=0.5, rate_limit_burst=3)
    app = create_app(settings, clock=lambda: TODAY)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://perfhub.test") as http:
            yield http, settings


async def test_rate_limit_per_principal(limited_app: tuple[httpx.AsyncClient, Settings]) -> None:
    """Past the burst a principal gets 429 with Retry-After; another principal is unaffected."""
    http, settings = limited_app
    busy = {"Authorization": f"Bearer {issue_token(settings, role=Role.ANALYST, subject='busy')}"}
    other = {"Authorization": f"Bearer {issue_token(settings, role=Role.ANALYST, subject='calm')}"}
    statuses = [
        (await http.post("/graphql", json={"query": "{ __typename }"}, headers=busy)).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    refused = await http.post("/graphql", json={"query": "{ __typename }"}, headers=busy)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert (await http.post("/graphql", json={"query": "{ __typename }"}, headers=other)).status_code == 200


def test_token_bucket_refills_at_the_rate() -> None:
    """The bucket allows the burst, then one request per 1/rate seconds."""
    from hub.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("a"), limiter.acquire("a")] == [0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.acquire("a") == 0.0
    assert RateLimiter(rate=0, burst=1).acquire("a") == 0.0  # 0 turns the limit off


# --- Introspection and error masking ------------------------------------------------------------------


async def test_introspection_can_be_switched_off(database_url: str) -> None:
    """PERFHUB_INTROSPECTION=false: __schema and __type are validation errors; ordinary queries still run."""
    settings = make_settings(database_url=database_url, introspection=False)
    app = create_app(settings, clock=lambda: TODAY)
    token = issue_token(settings, role=Role.HR_ADMIN)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:
            body = (await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})).json()
            assert "introspection has been disabled" in body["errors"][0]["message"]
            body = (await http.post("/graphql", json={"query": "{ posts { code } }"})).json()
            assert len(body["data"]["posts"]) == 12


def test_print_schema_is_unaffected_by_introspection_setting() -> None:
    """The printed schema comes from the code, not from introspection over HTTP."""
    assert build_schema(Settings(introspection=Introspection.OFF)).as_str() == build_schema(Settings()).as_str()


async def test_unexpected_error_is_masked_with_the_request_id(
    app_client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Python exception in a resolver reaches the client as 'Unexpected error' plus the request id only;
    the log has the message, the traceback and the request id."""

    async def broken(*_args: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/perfhub/db.py")

    monkeypatch.setattr(resolvers.organisation, "posts", broken)
    with caplog.at_level(logging.ERROR, logger="perfhub.graphql"):
        response = await app_client.http.post(
            "/graphql", json={"query": "{ posts { code } }"}, headers={"X-Request-Id": "req-7"}
        )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]  # the hub's own, not the caller's req-7
    error = response.json()["errors"][0]
    assert error["message"] == f"Unexpected error (request id {request_id})."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "hunter2" not in response.text
    [record] = [record for record in caplog.records if request_id in record.getMessage()]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


async def test_deliberate_errors_stay_visible(app_client: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GraphQLError a resolver raises on purpose (e.g. FORBIDDEN) keeps its message and code."""

    async def forbidden(*_args: object) -> None:
        raise GraphQLError("posts answer only to hr_admin", extensions={"code": "FORBIDDEN"})

    monkeypatch.setattr(resolvers.organisation, "posts", forbidden)
    body = await app_client.execute("{ posts { code } }")
    assert body["errors"][0]["message"] == "posts answer only to hr_admin"
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


async def test_validation_errors_stay_visible(app_client: GraphQLClient) -> None:
    """Syntax and validation errors are the client's to read, never masked."""
    body = await app_client.execute("{ posts { salary } }")
    assert "Cannot query field 'salary'" in body["errors"][0]["message"]
