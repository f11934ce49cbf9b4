"""Registered documents in process: the portals' folder, automatic registration (APQ), the safelist
(PERFHUB_PERSISTED_ONLY), and a registered document parsed and validated once, whatever else arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLError

import schema.persisted
from hub.persisted import NOT_FOUND, NOT_IN_LIST, NOT_IN_SAFELIST, NOT_SUPPORTED, sha256_hex
from schema import build_schema
from tests.conftest import GraphQLClient, make_settings, serving

PORTAL = "query PortalPosts { posts { code } }\n"
OTHER = "query Other { cycles { id } }"


def by_hash(digest: str, query: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    if query is not None:
        body["query"] = query
    return body


async def post(client: GraphQLClient, body: dict[str, object]) -> tuple[int, dict[str, Any]]:
    response = await client.http.post("/graphql", json=body)
    return response.status_code, response.json()


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


@pytest.fixture
def portal_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "PortalPosts.graphql").write_text(PORTAL, encoding="utf-8")
    return folder


@pytest.fixture
async def hub(database_url: str, portal_folder: Path) -> AsyncIterator[GraphQLClient]:
    async with serving(make_settings(database_url=database_url, persisted_documents=portal_folder)) as client:
        yield client


@pytest.fixture
async def safelisted(database_url: str, portal_folder: Path) -> AsyncIterator[GraphQLClient]:
    settings = make_settings(database_url=database_url, persisted_documents=portal_folder, persisted_only=True)
    async with serving(settings) as client:
        yield client


async def test_a_portal_document_runs_by_its_hash(hub: GraphQLClient) -> None:
    status, body = await post(hub, by_hash(sha256_hex(PORTAL)))
    assert status == 200 and "errors" not in body, body
    assert len(body["data"]["posts"]) == 12


async def test_a_hash_with_its_text_registers_it_and_the_hash_alone_then_runs(hub: GraphQLClient) -> None:
    status, body = await post(hub, by_hash(sha256_hex(OTHER)))
    assert (status, code(body)) == (200, NOT_FOUND)  # as Apollo: the client retries with the text
    status, body = await post(hub, by_hash(sha256_hex(OTHER), OTHER))
    assert status == 200 and body["data"]["cycles"], body
    status, alone = await post(hub, by_hash(sha256_hex(OTHER)))
    assert (status, alone) == (200, body)
    status, body = await post(hub, by_hash(sha256_hex(PORTAL), OTHER))  # a hash that is not the text's
    assert (status, code(body)) == (400, "PERSISTED_QUERY_HASH_MISMATCH")


async def test_a_registered_document_is_parsed_and_validated_once(
    hub: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    validations: list[object] = []
    real_parse, real_validate = vars(schema.persisted)["parse"], vars(schema.persisted)["validate_document"]

    def counting_parse(source: str, **options: Any) -> Any:
        parses.append(source)
        return real_parse(source, **options)

    def counting_validate(*args: Any) -> list[GraphQLError]:
        validations.append(args)
        errors: list[GraphQLError] = real_validate(*args)
        return errors

    monkeypatch.setattr(schema.persisted, "parse", counting_parse)
    monkeypatch.setattr(schema.persisted, "validate_document", counting_validate)
    for _ in range(3):
        assert "errors" not in (await post(hub, by_hash(sha256_hex(PORTAL))))[1]
    # 600 other texts, more than strawberry's LRU caches hold: the registered document stays parsed.
    for number in range(600):
        assert "errors" not in (await post(hub, {"query": f"query N{number} {{ posts {{ code }} }}"}))[1]
    assert "errors" not in (await post(hub, {"query": PORTAL}))[1]  # the text itself is the registered one
    assert "errors" not in (await post(hub, by_hash(sha256_hex(PORTAL))))[1]
    assert (len(parses), len(validations)) == (1, 1)


async def test_the_safelist_refuses_every_unregistered_text_before_anything_runs(safelisted: GraphQLClient) -> None:
    safelisted.sql.reset()
    status, body = await post(safelisted, {"query": OTHER})
    assert (status, code(body)) == (400, NOT_IN_SAFELIST)
    status, body = await post(safelisted, by_hash(sha256_hex(OTHER), OTHER))
    assert (status, code(body)) == (400, NOT_SUPPORTED)
    status, body = await post(safelisted, by_hash(sha256_hex(OTHER)))
    assert (status, code(body)) == (200, NOT_IN_LIST)
    response = await safelisted.http.get("/graphql", params={"query": OTHER})
    assert (response.status_code, code(response.json())) == (400, NOT_IN_SAFELIST)
    assert safelisted.sql.count == 0
    # What is registered runs, by hash or by text, and the insights page's documents too.
    assert "errors" not in (await post(safelisted, by_hash(sha256_hex(PORTAL))))[1]
    assert "errors" not in (await post(safelisted, {"query": PORTAL}))[1]
    assert "errors" not in (await post(safelisted, by_hash(sha256_hex(PORTAL), PORTAL)))[1]


async def test_the_safelisted_schema_refuses_unregistered_text_itself() -> None:
    """The backstop for WebSocket operations, which no HTTP body resolution sees: validation refuses."""
    built = build_schema(make_settings(), lambda _text: None, refuse_unregistered=True)
    result = await built.execute(OTHER)
    assert result.errors is not None
    assert [(e.message, (e.extensions or {}).get("code")) for e in result.errors] == [
        ("Query was not in the safelist", NOT_IN_SAFELIST)
    ]
