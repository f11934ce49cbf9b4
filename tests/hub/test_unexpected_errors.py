"""Whatever escapes execution reaches the client as GraphQL JSON naming the request id, never text/plain."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hub.app import PerfhubGraphQL
from hub.config import Settings
from tests.conftest import serving


async def test_an_error_escaping_execution_is_a_json_graphql_error_with_the_request_id(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a defect below strawberry's masking")

    monkeypatch.setattr(PerfhubGraphQL, "execute_operation", broken)
    async with serving(settings) as client:
        with caplog.at_level(logging.ERROR, logger="perfhub"):
            response = await client.http.post(
                "/graphql", json={"query": "{ cycles { id } }"}, headers={"X-Request-Id": "req-42"}
            )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    request_id = response.headers["x-request-id"]  # the hub's own; the caller's req-42 is logged beside it
    assert request_id != "req-42"
    assert response.json() == {
        "errors": [
            {"message": f"Unexpected error (request id {request_id})", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }
    assert "a defect below strawberry's masking" not in response.text
    assert any(
        request_id in record.getMessage() and "req-42" in record.getMessage() and record.exc_info
        for record in caplog.records
    )
