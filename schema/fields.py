"""strawberry's field decorators, typed for strict mypy.

Called with arguments (``@strawberry.field(description=...)``), strawberry's decorators are typed to return
whatever the caller wants, because the same call also declares a field without a resolver, which the
attribute's annotation types (strawberry issue #1929); strict mypy refuses such a decorator as untyped. These
are the decorator form alone: they take the resolver and return strawberry's field, typed.

``graphql_type`` declares the field's GraphQL type where the resolver's return annotation states what it
really returns: a record of ``resolvers.records`` that the strawberry type reads by attribute name. It takes
what an annotation takes; a string (``"Department | None"``) names a type not defined yet where the decorator
runs, the class being defined or one further down the module, and is read in the module's namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

Resolver = Callable[..., object]
FieldDecorator = Callable[[Resolver], StrawberryField]


def field(
    *,
    description: str | None = None,
    graphql_type: object | None = None,
    extensions: Sequence[FieldExtension] = (),
) -> FieldDecorator:
    """``@strawberry.field(...)`` on a resolver."""

    def declare(resolver: Resolver) -> StrawberryField:
        return strawberry.field(
            resolver, description=description, graphql_type=graphql_type, extensions=list(extensions)
        )

    return declare


def subscription(
    *,
    description: str | None = None,
    graphql_type: object | None = None,
    extensions: Sequence[FieldExtension] = (),
) -> FieldDecorator:
    """``@strawberry.subscription(...)`` on a resolver."""

    def declare(resolver: Resolver) -> StrawberryField:
        return strawberry.subscription(
            resolver, description=description, graphql_type=graphql_type, extensions=list(extensions)
        )

    return declare
