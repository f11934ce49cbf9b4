"""Fields read off a record the same way in several types: a person's public id, and relations.

``public_id`` is the ``id`` of a record of a person (an employee, a result), which an analyst without the
names grant sees as a pseudonym (``resolvers.ids``).

A relation follows a record's key to the records it points at, through one of the request's loaders. Most
fields of the object types do only that: read a key off their record (``root.department_id``, or the
record's own ``id`` for its children: ``Relations.load_by_own_id``) and load what it names
(``loaders.department_by_id``), null when the key is null. ``Relations`` declares such a field in one line,
typed end to end:

    class Post:
        department = Relations[PostRow].load(
            Department, lambda loaders: loaders.department_by_id, lambda row: row.department_id
        )

The record kind is given by subscripting ``Relations`` because mypy cannot infer a lambda's parameter from a
type variable; once given, a misspelt key or a loader of the wrong key type is a mypy error at the field.

The resolver is a plain function: when the loader already holds the value (a page read its relations ahead,
``resolvers.loaders.prefetch``, or an earlier field loaded it) it returns the value itself, and graphql-core
completes the field at once, without a task or an await per record; otherwise it returns the load to await.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeAlias, TypeVar

import strawberry
from strawberry.types.field import StrawberryField

from resolvers import ids
from resolvers.loaders import Loaders
from resolvers.loaders.base import SharedLoader
from schema import fields
from schema.info import Info

P = TypeVar("P")
"""The record kind the field's type is read from (``resolvers.records``)."""
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

T = TypeVar("T")
Loaded: TypeAlias = T | Awaitable[T]
"""What a relation's resolver returns: the value when the request's loader holds it, else the load to await."""


class Relations(Generic[P]):
    """The relation fields of the type read from records of kind ``P``."""

    @classmethod
    def load(
        cls,
        graphql_type: object,
        loader: Callable[[Loaders], SharedLoader[K, V]],
        key: Callable[[P], K | None],
        description: str | None = None,
    ) -> StrawberryField:
        """A field of type ``graphql_type`` that loads the record's ``key`` with ``loader``; null for a null key."""
        return _relation(graphql_type, loader, key, description)

    @classmethod
    def load_by_own_id(
        cls,
        graphql_type: object,
        loader: Callable[[Loaders], SharedLoader[int, V]],
        description: str | None = None,
    ) -> StrawberryField:
        """A field of type ``graphql_type`` that loads the record's own ``id`` with ``loader``: what hangs off
        the record (a department's posts, a cycle's transitions, an indicator's current version)."""
        return _relation(graphql_type, loader, _own_id, description)


def _own_id(record: ids.Keyed) -> int:
    return record.id


def _relation(
    graphql_type: object,
    loader: Callable[[Loaders], SharedLoader[K, V]],
    key: Callable[[R], K | None],
    description: str | None,
) -> StrawberryField:
    def resolve(root: strawberry.Parent[R], info: Info) -> Loaded[V] | None:
        value = key(root)
        if value is None:
            return None
        return loader(info.context.loaders).peek_or_load(value)

    return fields.field(description=description, graphql_type=graphql_type)(resolve)


def public_id(kind: str, description: str) -> StrawberryField:
    """The ``id`` field of records of ``kind`` (``ids.EMPLOYEE``, ``ids.RESULT``): stable for the caller,
    pseudonymous for an analyst without the names grant."""

    def resolve(root: strawberry.Parent[ids.Keyed], info: Info) -> strawberry.ID:
        return strawberry.ID(ids.public_id(info.context, kind, root.id))

    return fields.field(description=description)(resolve)
