"""The parse and validation caches, with registered documents pinned (hub/persisted.py registers them).

Strawberry's ParserCache and ValidationCache keep the last N texts in an LRU: a registered document is parsed
and validated again once a flood of other texts has evicted it, and every request still hashes its text
into both caches. Here a registered document's DocumentNode and validation outcome live in its own slot
for as long as it is registered; other texts go through strawberry's caches as before.

Validation does not depend on who asks: the rules (depth, aliases, expanded size, introspection when
switched off) are made once per schema from the settings (``build_schema``), and every decision about the
principal is taken at execution (field permissions, row scope, OperationGuard, CostLimiter). The outcome is
kept with the schema and rules it was found with, and found again under any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import validate_document

from schema import compiled

NOT_IN_SAFELIST = "QUERY_NOT_IN_SAFELIST"  # hub/persisted.py's code for the same refusal over HTTP


class PinnedDocument(Protocol):
    """A registered document's slot (``hub.persisted.Prepared``): filled here the first time it runs."""

    compile: bool
    document: DocumentNode | None
    validated_with: tuple[object, ...] | None
    errors: list[GraphQLError]


Registered = Callable[[str], PinnedDocument | None]
"""The slot of a registered document's text; None for any other text."""


class PinnedParserCache(ParserCache):
    """Strawberry's parse cache, but a registered document is parsed once and kept in its slot; with
    ``compiled_plans`` its operations are compiled then (``schema/compiled.py``) where their shape allows."""

    def __init__(self, registered: Registered, maxsize: int | None = 512, *, compiled_plans: bool = False) -> None:
        super().__init__(maxsize=maxsize)
        self.registered = registered
        self.compiled_plans = compiled_plans

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        slot = self.registered(context.query) if context.query else None
        if slot is None:
            yield from super().on_parse()
            return
        if slot.document is None:
            # The first run parses under the same options (the token limit) as any text; a text that does not
            # parse is not kept, and raises here as strawberry's parse would.
            slot.document = parse(context.query or "", **context.parse_options)
        if slot.compile and self.compiled_plans:
            compiled.register(slot.document, context.schema._schema)  # once per document and schema
        context.graphql_document = slot.document
        yield


class PinnedValidationCache(ValidationCache):
    """Strawberry's validation cache, but a registered document's outcome is kept in its slot; with
    ``refuse_unregistered`` (PERFHUB_PERSISTED_ONLY) any other document fails validation: this is what refuses
    one on a WebSocket, where no HTTP body is resolved (HTTP refuses it before parsing, ``hub/app.py``)."""

    def __init__(self, registered: Registered, maxsize: int | None = 512, *, refuse_unregistered: bool = False) -> None:
        super().__init__(maxsize=maxsize)
        self.registered = registered
        self.refuse_unregistered = refuse_unregistered

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        slot = self.registered(context.query) if context.query else None
        if slot is None:
            if self.refuse_unregistered:
                refusal = GraphQLError("Query was not in the safelist", extensions={"code": NOT_IN_SAFELIST})
                context.pre_execution_errors = [refusal]
                yield
                return
            yield from super().on_validate()
            return
        key = (context.schema._schema, context.validation_rules)
        if slot.validated_with is None or slot.validated_with[0] is not key[0] or slot.validated_with[1] != key[1]:
            assert context.graphql_document is not None  # parsed just before
            slot.errors = validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
            slot.validated_with = key
        context.pre_execution_errors = list(slot.errors)  # the slot's list stays as found
        yield
