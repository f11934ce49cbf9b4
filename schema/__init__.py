"""What the API looks like: strawberry types, inputs and enums, assembled by :func:`build_schema`."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from schema.mutation import Mutation
from schema.query import Query


def build_schema() -> strawberry.Schema:
    """The whole schema with its extensions; parse and validation results are cached per document."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        # Factories: strawberry builds extensions per operation; both caches live at module level.
        extensions=[partial(ParserCache, maxsize=512), partial(ValidationCache, maxsize=512)],
    )


def print_schema() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return build_schema().as_str() + "\n"
