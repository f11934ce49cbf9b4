"""Registered documents against the served hub: `perfhub serve` with PERFHUB_PERSISTED_DOCUMENTS and
PERFHUB_PERSISTED_ONLY=true runs the portal's documents by hash and refuses every other text, as Apollo's
router answers a safelist's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from hub.persisted import NOT_IN_LIST, NOT_IN_SAFELIST, NOT_SUPPORTED, PersistedDocuments, sha256_hex
from tests.served.conftest import NO_RATE_LIMIT
from tests.served.hub_process import ServedHub

PORTAL = "query PortalPage($first: Int!) { employees(first: $first) { edges { node { employeeNo name } } } }\n"
OTHER = "{ cycles { id } }"


def post(hub: ServedHub, body: dict[str, object], role: str = "hr_admin") -> tuple[int, dict[str, Any]]:
    response = httpx.post(hub.url, json=body, headers=hub.headers(role), timeout=60)
    return response.status_code, response.json()


def hashed(text: str, query: str | None = None, **variables: object) -> dict[str, object]:
    body: dict[str, object] = {
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}},
    }
    if query is not None:
        body["query"] = query
    return body


def test_the_safelisted_hub_runs_registered_documents_and_refuses_the_rest(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "PortalPage.graphql").write_text(PORTAL, encoding="utf-8")
    env = {**NO_RATE_LIMIT, "PERFHUB_PERSISTED_DOCUMENTS": str(folder), "PERFHUB_PERSISTED_ONLY": "true"}
    with ServedHub(database_url, tmp_path, env) as hub:
        status, body = post(hub, hashed(PORTAL, first=3))
        assert status == 200 and len(body["data"]["employees"]["edges"]) == 3, body
        insights = PersistedDocuments.load().hash_by_name["InsightsCycles"]  # the built-in documents stay registered
        status, body = post(hub, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": insights}}})
        assert status == 200 and body["data"]["cycles"], body
        refusals: list[tuple[dict[str, object], int, str]] = [
            ({"query": OTHER}, 400, NOT_IN_SAFELIST),
            (hashed(OTHER, OTHER), 400, NOT_SUPPORTED),
            (hashed(OTHER), 200, NOT_IN_LIST),
            ({"query": "{ __schema { queryType { name } } }"}, 400, NOT_IN_SAFELIST),  # introspection too
        ]
        for request, expected_status, code in refusals:
            status, body = post(hub, request)
            assert (status, body["errors"][0]["extensions"]["code"]) == (expected_status, code), body
            assert "data" not in body or body["data"] is None
        assert "Traceback" not in hub.log()


def test_an_open_hub_learns_a_document_from_its_hash_and_text(database_url: str, tmp_path: Path) -> None:
    """Apollo's automatic persisted queries: the hash alone is unknown, then the hash with its text runs and
    registers it, and the hash alone runs after that."""
    with ServedHub(database_url, tmp_path, NO_RATE_LIMIT) as hub:
        status, body = post(hub, hashed(OTHER))
        assert (status, body["errors"][0]["extensions"]["code"]) == (200, "PERSISTED_QUERY_NOT_FOUND")
        status, with_text = post(hub, hashed(OTHER, OTHER))
        assert status == 200 and with_text["data"]["cycles"], with_text
        assert post(hub, hashed(OTHER)) == (200, with_text)
