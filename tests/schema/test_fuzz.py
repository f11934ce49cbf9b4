"""Property: whatever is thrown at /graphql (as hr_admin), never a 5xx, never an internal message, and a
rejected mutation leaves every table as it was.

Bounded on purpose (about 100 examples per property, no deadline) so that the suite stays fast; raise
``FUZZ_EXAMPLES`` locally for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.db.models.base import Base
from tests.conftest import TODAY
from tests.schema.fuzz_inputs import (
    JSON_VALUES,
    MUTATION_TEMPLATES,
    QUERY_TEMPLATES,
    TEXT,
    mangled_documents,
    operations,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    # The hub is built once per test and shared by its examples, on purpose: hence function_scoped_fixture.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# What a response must never contain unless the request itself did (inputs are echoed in messages).
INTERNALS = (
    "Traceback",
    'File "',
    ".py",
    "sqlalchemy",
    "sqlite3",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "NoneType",
    "object has no attribute",
    "unexpected keyword argument",
    "IntegrityError",
    "OperationalError",
    "KeyError",
    "AttributeError",
    "TypeError",
    "UnicodeEncodeError",
    "ZeroDivisionError",
)


@dataclass
class Hub:
    """The app on its own event loop, so that hypothesis can drive it from a synchronous test."""

    runner: asyncio.Runner
    http: httpx.AsyncClient
    engine: AsyncEngine

    def post(self, body: bytes) -> httpx.Response:
        return self.runner.run(self.http.post("/graphql", content=body, headers={"content-type": "application/json"}))

    def graphql(self, query: str, variables: Any = None) -> tuple[httpx.Response, bytes]:
        # json.dumps, not httpx's encoder: NaN and Infinity must reach the server as a careless client sends them.
        body = json.dumps({"query": query, "variables": variables}).encode()
        return self.post(body), body

    def row_counts(self) -> dict[str, int]:
        async def count() -> dict[str, int]:
            # Audit entries record attempts, refused ones included: they are not "the data" a mutation changes.
            tables = [table for table in Base.metadata.sorted_tables if not table.name.startswith("audit")]
            statement = select(*(select(func.count()).select_from(table).scalar_subquery() for table in tables))
            async with self.engine.connect() as connection:
                row = (await connection.execute(statement)).one()
            return dict(zip((table.name for table in tables), row, strict=True))

        return self.runner.run(count())


@pytest.fixture
def hub(settings: Settings) -> Iterator[Hub]:
    with asyncio.Runner() as runner:
        app = create_app(settings, clock=lambda: TODAY)
        stack = contextlib.AsyncExitStack()
        runner.run(stack.enter_async_context(app.router.lifespan_context(app)))
        token = issue_token(settings, role=Role.HR_ADMIN, subject="fuzz")
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://perfhub.test",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            yield Hub(runner, http, app.state.resources.engine)
        finally:
            runner.run(http.aclose())
            runner.run(stack.aclose())


def assert_safe(response: httpx.Response, request: bytes) -> dict[str, Any] | None:
    """No 5xx, no internal text that the request did not bring; the JSON body when there is one."""
    assert response.status_code < 500, response.text
    sent = request.decode("utf-8", "replace")
    leaked = [marker for marker in INTERNALS if marker in response.text and marker not in sent]
    assert not leaked, (leaked, response.text[:2000])
    if response.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = response.json()
        for error in body.get("errors") or []:
            # A masked error is safe, but it is a bug to find: nothing here should reach one.
            assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", (error, sent[:2000])
        return body
    return None


def rejected(body: dict[str, Any] | None) -> bool:
    """True when the mutation did not take: an error, no data, or an error payload."""
    if body is None or body.get("errors") or not body.get("data"):
        return True
    payloads = [value for value in body["data"].values() if isinstance(value, dict)]
    return any(str(payload.get("__typename", "")).endswith("Error") for payload in payloads)


# --- Properties ---------------------------------------------------------------------------------------


@FUZZ
@given(query=st.one_of(mangled_documents(), TEXT), operation_name=st.none() | TEXT)
def test_malformed_documents_are_client_errors(hub: Hub, query: str, operation_name: str | None) -> None:
    """Random text and valid documents cut, doubled or spliced: answered, never a 5xx or internals."""
    body = json.dumps({"query": query, "operationName": operation_name}).encode()
    assert_safe(hub.post(body), body)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries({"query": JSON_VALUES, "variables": JSON_VALUES}).map(
            lambda value: json.dumps(value).encode()
        ),
    )
)
def test_odd_request_bodies_are_client_errors(hub: Hub, body: bytes) -> None:
    """Bodies that are not a GraphQL request object (bytes, arrays, numbers, wrong member types): 4xx."""
    response = hub.post(body)
    assert_safe(response, body)


@FUZZ
@given(operation=operations(QUERY_TEMPLATES))
def test_queries_with_random_variables_never_fail_internally(hub: Hub, operation: tuple[str, dict[str, Any]]) -> None:
    """Wrong types, huge numbers, NaN, unicode oddities and random ids as variables of real queries."""
    response, body = hub.graphql(*operation)
    assert_safe(response, body)


@FUZZ
@given(operation=operations(MUTATION_TEMPLATES))
def test_rejected_mutations_change_nothing(hub: Hub, operation: tuple[str, dict[str, Any]]) -> None:
    """Every mutation with random input: a refused one (error or error payload) leaves every table as it was."""
    before = hub.row_counts()
    response, body = hub.graphql(*operation)
    answer = assert_safe(response, body)
    if rejected(answer):
        assert hub.row_counts() == before, answer
