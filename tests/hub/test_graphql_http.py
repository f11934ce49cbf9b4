"""GraphQL over HTTP: which media type answers which Accept, and which request errors get which status.

The whole exchange is audited against the served hub by graphql-http's suite (tests/served/test_graphql_over_http.py).
"""

from __future__ import annotations

import pytest

from hub.graphql_http import GRAPHQL_RESPONSE, JSON, is_request_error, request_error_status, response_media_type


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),  # legacy clients: application/json, as the spec says
        ("application/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),  # nothing we serve: the default rather than a 406
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),  # what the spec tells clients to send
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),  # equal weights: the type named for GraphQL
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE};q=0, */*", JSON),
        (f"{GRAPHQL_RESPONSE};q=bad, application/json;q=0.1", JSON),
        (f"*/*;q=0.8, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
    ],
)
def test_the_media_type_follows_accept(accept: str | None, media_type: str) -> None:
    assert response_media_type(accept) == media_type


def test_a_request_error_has_no_data_and_no_path() -> None:
    assert is_request_error({"data": None, "errors": [{"message": "Syntax Error"}]})
    assert is_request_error({"errors": [{"message": "Syntax Error"}]})
    # A null propagated to the root from a field: executed, a field error.
    assert not is_request_error({"data": None, "errors": [{"message": "boom", "path": ["posts"]}]})
    assert not is_request_error({"data": {"posts": []}})
    assert not is_request_error({"data": None})


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (None, 400),
        ("QUERY_TOO_COMPLEX", 400),
        ("UNAUTHENTICATED", 401),
        ("RATE_LIMITED", 429),
        ("INTERNAL_SERVER_ERROR", 500),
    ],
)
def test_a_request_errors_status_follows_its_code(code: str | None, status: int) -> None:
    error: dict[str, object] = {"message": "refused"}
    if code is not None:
        error["extensions"] = {"code": code}
    assert request_error_status([error]) == status
