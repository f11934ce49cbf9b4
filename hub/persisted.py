"""Persisted documents: an allow-list of GraphQL documents by SHA-256, in the shape of Apollo's persisted queries.

Registered at start-up: the insights page's own .graphql files (hub/static/insights/documents/) and the portals'
(every ``*.graphql`` in the folder ``PERFHUB_PERSISTED_DOCUMENTS`` names). A folder, not a table: the documents
ship with the portal's release and are reviewed with it, every process of ``--workers N`` reads the same list
at start-up, and nothing at run time can add to the safelist.

A client sends ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`` without ``query``
and the hub runs the registered document. An unknown hash is answered as Apollo answers it,
``PERSISTED_QUERY_NOT_FOUND`` (status 200 for legacy ``application/json`` clients, 404 for
``application/graphql-response+json``, as Apollo's router does). A hash sent with the text must be the
text's: a mismatch is 400, nothing runs. A matching hash and text register the text in this process
(automatic persisted queries), at most ``PERFHUB_PERSISTED_LEARNED_MAX`` of them, least recently used going.

With ``PERFHUB_PERSISTED_ONLY=true`` (production's safelist) nothing is learned and any text not registered is
refused before it is parsed: 400 ``QUERY_NOT_IN_SAFELIST``, or ``PERSISTED_QUERY_NOT_SUPPORTED`` for an
attempt to register it automatically; an unknown hash is ``PERSISTED_QUERY_NOT_IN_LIST``, so that Apollo's
clients do not retry with a text that would be refused. These are Apollo router's codes.

Each registered document has a ``Prepared`` slot: the schema's document cache (``schema/persisted.py``) keeps
its parsed DocumentNode and its validation outcome there once, for as long as the document is registered,
so a registered document is neither parsed nor validated per request and a flood of other texts cannot
evict it. Every other extension, guard and access rule runs as for any document.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from graphql import DocumentNode, GraphQLError, parse
from strawberry.http import GraphQLRequestData

DOCUMENTS = Path(__file__).parent / "static" / "insights" / "documents"
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
"""PERFHUB_PERSISTED_ONLY: a hash nobody registered (Apollo router's safelist answer)."""
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
"""PERFHUB_PERSISTED_ONLY: a hash and a text not registered, an automatic registration the hub does not do."""
NOT_IN_SAFELIST = "QUERY_NOT_IN_SAFELIST"
"""PERFHUB_PERSISTED_ONLY: a document's text that is not registered."""

REQUEST_ERRORS = frozenset({HASH_MISMATCH, NOT_SUPPORTED, NOT_IN_SAFELIST})
"""The refusals answered 400 whatever the client accepts; the others are 200 (legacy JSON) or 404."""


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: its code and message, as Apollo words them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256_hex(document: str) -> str:
    """The hash a client sends: SHA-256 of the document's UTF-8 text, lower-case hex (Apollo's APQ)."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(eq=False)
class Prepared:
    """A registered document's text and what the schema made of it once: filled by ``schema/persisted.py``."""

    text: str
    compile: bool = True
    """Whether its operations may get a compiled plan (``schema/compiled.py``): those registered at start-up;
    not the ones clients registered, which come and go."""
    document: DocumentNode | None = None
    """The parsed document; None until the document first runs (or when its text does not parse)."""
    validated_with: tuple[object, ...] | None = None
    """The schema and validation rules ``errors`` was found with: another schema validates again."""
    errors: list[GraphQLError] = field(default_factory=list)
    """Its validation errors under ``validated_with`` (a registered document may still be invalid)."""


class PersistedDocuments:
    """The registered documents by hash, the insights page's names, and the documents clients registered."""

    def __init__(
        self,
        by_hash: Mapping[str, str],
        hash_by_name: Mapping[str, str],
        *,
        persisted_only: bool = False,
        learned_max: int = 0,
    ) -> None:
        self.by_hash = dict(by_hash)
        """Registered at start-up, by hash: these are never forgotten."""
        self.hash_by_name = dict(hash_by_name)
        """The insights page's documents by file name (without .graphql): the page sends these hashes."""
        self.persisted_only = persisted_only
        self.learned_max = 0 if persisted_only else learned_max
        self._prepared = {text: Prepared(text) for text in self.by_hash.values()}
        self._learned: OrderedDict[str, Prepared] = OrderedDict()  # by hash, least recently used first

    @classmethod
    def load(
        cls,
        folder: Path = DOCUMENTS,
        portals: Path | None = None,
        *,
        persisted_only: bool = False,
        learned_max: int = 0,
    ) -> PersistedDocuments:
        """The documents of ``folder`` (their names are the page's) and of ``portals``, each ``*.graphql`` file."""
        by_hash: dict[str, str] = {}
        hash_by_name: dict[str, str] = {}
        for path in sorted(folder.glob("*.graphql")):
            text = path.read_text(encoding="utf-8")
            by_hash[sha256_hex(text)] = text
            hash_by_name[path.stem] = sha256_hex(text)
        if portals is not None:
            if not portals.is_dir():
                raise FileNotFoundError(f"PERFHUB_PERSISTED_DOCUMENTS: {portals} is not a folder")
            for path in sorted(portals.glob("*.graphql")):
                text = path.read_text(encoding="utf-8")
                try:
                    parse(text)  # a portal's release with a broken document must not start
                except GraphQLError as error:
                    raise ValueError(f"PERFHUB_PERSISTED_DOCUMENTS: {path.name}: {error.message}") from None
                by_hash[sha256_hex(text)] = text
        return cls(by_hash, hash_by_name, persisted_only=persisted_only, learned_max=learned_max)

    def prepared(self, text: str) -> Prepared | None:
        """The slot of a registered document's text (at start-up or learned); None for any other text."""
        found = self._prepared.get(text)
        if found is None and self._learned:
            found = self._learned.get(sha256_hex(text))
            if found is not None and found.text != text:
                found = None
        return found

    def resolve(self, request: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its registered document filled in; unchanged without a persisted-query extension.

        Raises PersistedQueryError for an unknown hash sent without text, a hash that is not the text's, and,
        with ``persisted_only``, any text not registered.
        """
        digest = _requested_hash(request.extensions)
        if digest is None:
            if self.persisted_only and request.query is not None and request.query not in self._prepared:
                raise PersistedQueryError(NOT_IN_SAFELIST, "Query was not in the safelist")
            return request
        digest = digest.lower()
        if request.query is not None:
            if sha256_hex(request.query) != digest:
                raise PersistedQueryError(HASH_MISMATCH, "provided sha does not match query")
            if digest not in self.by_hash:
                self._learn(digest, request.query)
            return request
        document = self.by_hash.get(digest)
        if document is None:
            learned = self._learned.get(digest)
            if learned is None:
                raise PersistedQueryError(
                    *(
                        (NOT_IN_LIST, "PersistedQueryNotInList")
                        if self.persisted_only
                        else (NOT_FOUND, "PersistedQueryNotFound")
                    )
                )
            self._learned.move_to_end(digest)
            document = learned.text
        return replace(request, query=document)

    def _learn(self, digest: str, text: str) -> None:
        """Automatic registration (Apollo's APQ): refused with ``persisted_only``; bounded otherwise."""
        if self.persisted_only:
            raise PersistedQueryError(NOT_SUPPORTED, "PersistedQueryNotSupported")
        if self.learned_max == 0:
            return
        if digest in self._learned:
            self._learned.move_to_end(digest)
            return
        self._learned[digest] = Prepared(text, compile=False)
        while len(self._learned) > self.learned_max:
            self._learned.popitem(last=False)


def _requested_hash(extensions: Mapping[str, object] | None) -> str | None:
    """``extensions.persistedQuery.sha256Hash`` when it is there as a string; None otherwise."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    digest = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
    return digest if isinstance(digest, str) else None
