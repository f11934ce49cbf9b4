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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

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
    async def resolve(root: strawberry.Parent[R], info: Info) -> V | None:
        value = key(root)
        if value is None:
            return None
        return await loader(info.context.loaders).load(value)

    return fields.field(description=description, graphql_type=graphql_type)(resolve)


def public_id(kind: str, description: str) -> StrawberryField:
    """The ``id`` field of records of ``kind`` (``ids.EMPLOYEE``, ``ids.RESULT``): stable for the caller,
    pseudonymous for an analyst without the names grant."""

    def resolve(root: strawberry.Parent[ids.Keyed], info: Info) -> strawberry.ID:
        return strawberry.ID(ids.public_id(info.context, kind, root.id))

    return fields.field(description=description)(resolve)
