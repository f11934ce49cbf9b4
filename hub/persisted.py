"""Persisted documents: an allow-list of GraphQL documents by SHA-256, in the shape of Apollo's persisted queries.

A client sends ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`` without ``query``
and the hub runs the document it registered under that hash at start-up (the insights page's own .graphql
files, hub/static/insights/documents/). An unknown hash is answered as Apollo answers it,
``PERSISTED_QUERY_NOT_FOUND`` (status 200 for legacy ``application/json`` clients, 404 for
``application/graphql-response+json``, as Apollo's router does). A hash sent with the text must be the
text's: a mismatch is 400, nothing runs.

The smallest honest piece of issue 16 point 4: the hub does not learn documents from clients (no automatic
registration) and does not yet refuse unregistered text. A registered document is only text found by its
hash: it then goes through every extension, guard and access rule an inline document goes through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from strawberry.http import GraphQLRequestData

DOCUMENTS = Path(__file__).parent / "static" / "insights" / "documents"
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: its code and message, as Apollo words them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256_hex(document: str) -> str:
    """The hash a client sends: SHA-256 of the document's UTF-8 text, lower-case hex (Apollo's APQ)."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class PersistedDocuments:
    """The registered documents by hash, and each file's name (without .graphql) to its hash for the page."""

    by_hash: Mapping[str, str]
    hash_by_name: Mapping[str, str]

    @classmethod
    def load(cls, folder: Path = DOCUMENTS) -> PersistedDocuments:
        by_hash: dict[str, str] = {}
        hash_by_name: dict[str, str] = {}
        for path in sorted(folder.glob("*.graphql")):
            text = path.read_text(encoding="utf-8")
            digest = sha256_hex(text)
            by_hash[digest] = text
            hash_by_name[path.stem] = digest
        return cls(by_hash, hash_by_name)

    def resolve(self, request: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its registered document filled in; unchanged without a persisted-query extension.

        Raises PersistedQueryError for an unknown hash sent without text, or a hash that is not the text's.
        """
        digest = _requested_hash(request.extensions)
        if digest is None:
            return request
        if request.query is not None:
            if sha256_hex(request.query) != digest.lower():
                raise PersistedQueryError(HASH_MISMATCH, "provided sha does not match query")
            return request
        document = self.by_hash.get(digest.lower())
        if document is None:
            raise PersistedQueryError(NOT_FOUND, "PersistedQueryNotFound")
        return replace(request, query=document)


def _requested_hash(extensions: Mapping[str, object] | None) -> str | None:
    """``extensions.persistedQuery.sha256Hash`` when it is there as a string; None otherwise."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    digest = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
    return digest if isinstance(digest, str) else None
