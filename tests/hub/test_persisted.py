"""hub/persisted.py in process: which requests a registered hash fills in, and which it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from strawberry.http import GraphQLRequestData

from hub.persisted import (
    HASH_MISMATCH,
    NOT_FOUND,
    NOT_SUPPORTED,
    PersistedDocuments,
    PersistedQueryError,
    sha256_hex,
)

DOCUMENT = "query One { cycles { id } }\n"
DOCUMENTS = PersistedDocuments({sha256_hex(DOCUMENT): DOCUMENT}, {"One": sha256_hex(DOCUMENT)})


def request(query: str | None, digest: object) -> GraphQLRequestData:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    return GraphQLRequestData(query=query, variables=None, operation_name=None, extensions=extensions)


def test_a_registered_hash_gets_its_text() -> None:
    assert DOCUMENTS.resolve(request(None, sha256_hex(DOCUMENT))).query == DOCUMENT
    assert DOCUMENTS.resolve(request(None, sha256_hex(DOCUMENT).upper())).query == DOCUMENT  # hex in any case


def test_without_the_extension_nothing_changes() -> None:
    plain = GraphQLRequestData(query="{ cycles { id } }", variables=None, operation_name=None, extensions=None)
    assert DOCUMENTS.resolve(plain) is plain
    odd = request(None, 42)  # not a hash: strawberry answers the missing query as before
    assert DOCUMENTS.resolve(odd) is odd


def test_an_unknown_hash_and_a_hash_of_other_text_are_refused() -> None:
    with pytest.raises(PersistedQueryError) as unknown:
        DOCUMENTS.resolve(request(None, sha256_hex("{ posts { id } }")))
    assert (unknown.value.code, unknown.value.message) == (NOT_FOUND, "PersistedQueryNotFound")
    with pytest.raises(PersistedQueryError) as mismatch:
        DOCUMENTS.resolve(request("{ posts { id } }", sha256_hex(DOCUMENT)))
    assert mismatch.value.code == HASH_MISMATCH
    matching = request(DOCUMENT, sha256_hex(DOCUMENT))
    assert DOCUMENTS.resolve(matching) is matching  # text with its own hash runs as sent


def test_the_page_documents_are_registered_by_their_file_names() -> None:
    loaded = PersistedDocuments.load()
    assert set(loaded.hash_by_name) == {"InsightsCycles", "InsightsCycle", "InsightsDiagnostics", "InsightsTrends"}
    for name, digest in loaded.hash_by_name.items():
        assert f"query {name}" in loaded.by_hash[digest]


def test_a_portal_folder_adds_its_documents_and_a_broken_one_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "Page.graphql").write_text(DOCUMENT, encoding="utf-8")
    loaded = PersistedDocuments.load(portals=tmp_path)
    assert loaded.by_hash[sha256_hex(DOCUMENT)] == DOCUMENT
    assert "Page" not in loaded.hash_by_name  # the names are the insights page's own
    (tmp_path / "Broken.graphql").write_text("query Broken { cycles {", encoding="utf-8")
    with pytest.raises(ValueError, match=r"Broken\.graphql"):
        PersistedDocuments.load(portals=tmp_path)


def test_automatic_registration_is_bounded_and_off_in_the_safelist() -> None:
    learning = PersistedDocuments({}, {}, learned_max=2)
    texts = [f"query Q{n} {{ cycles {{ id }} }}" for n in range(3)]
    for text in texts:
        assert learning.resolve(request(text, sha256_hex(text))).query == text
    assert learning.prepared(texts[0]) is None  # the least recently used went
    assert learning.resolve(request(None, sha256_hex(texts[2]))).query == texts[2]
    safelist = PersistedDocuments({}, {}, persisted_only=True, learned_max=2)
    with pytest.raises(PersistedQueryError) as refused:
        safelist.resolve(request(texts[0], sha256_hex(texts[0])))
    assert refused.value.code == NOT_SUPPORTED
