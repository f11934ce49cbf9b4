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
from dataclasses import dataclass

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

Resolver = Callable[..., object]
FieldDecorator = Callable[[Resolver], StrawberryField]


@dataclass(frozen=True, slots=True)
class _Declaration:
    """One of strawberry's decorators (``strawberry.field``, ``subscription``, ``mutation``), called with
    arguments on a resolver; they take the same arguments, so one wrapper serves the three."""

    declare: Callable[..., StrawberryField]

    def __call__(
        self,
        *,
        description: str | None = None,
        graphql_type: object | None = None,
        extensions: Sequence[FieldExtension] = (),
    ) -> FieldDecorator:
        def decorate(resolver: Resolver) -> StrawberryField:
            return self.declare(
                resolver, description=description, graphql_type=graphql_type, extensions=list(extensions)
            )

        return decorate


field = _Declaration(strawberry.field)
"""``@strawberry.field(...)`` on a resolver."""
subscription = _Declaration(strawberry.subscription)
"""``@strawberry.subscription(...)`` on a resolver."""
mutation = _Declaration(strawberry.mutation)
"""``@strawberry.mutation(...)`` on a resolver."""
