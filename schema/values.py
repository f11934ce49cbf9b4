"""GraphQL types for value records defined below the schema: the record class itself is registered, not copied.

A value record without resolvers of its own (a training record, a page's ``PageInfo``, a statistics
group, a filter) is one frozen dataclass, written in the lowest layer that makes or reads it. The
schema registers that very class with strawberry, as ``schema/enums.py`` does with the domain enums,
so a field is named, typed and ordered in one place and a resolver returns the record as it is. What
only GraphQL needs is said here, at registration: the type's name and description, the fields'
descriptions, which ``str`` fields are IDs, and the fields the API does not show.

Strawberry registers a dataclass by passing it through ``dataclasses.dataclass`` once more. That pass
keeps the class's ``__init__``, equality and frozenness (it only adds what the class lacks), but it
forgets the defaults of a slotted class; they are put back on the GraphQL fields here, where an input
type prints them.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Collection, Mapping

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.types.base import get_object_definition

T = typing.TypeVar("T", bound=type)


@dataclasses.dataclass(frozen=True, slots=True)
class _Registration:
    """Registers a record as a GraphQL type of one kind (``strawberry.type`` or ``strawberry.input``)."""

    wrap: Callable[..., object]

    def __call__(
        self,
        record: T,
        *,
        name: str,
        description: str | None = None,
        fields: Mapping[str, str] | None = None,
        ids: Collection[str] = (),
        hidden: Collection[str] = (),
    ) -> T:
        """Registers ``record`` as the GraphQL type ``name``; ``fields`` are field descriptions."""
        descriptions = fields or {}
        declared = {field.name: field for field in dataclasses.fields(record)}
        unknown = (set(descriptions) | set(ids) | set(hidden)) - set(declared)
        if unknown:
            raise TypeError(f"{record.__name__} has no field {', '.join(sorted(unknown))}")
        hints = typing.get_type_hints(record)
        self.wrap(record, name=name, description=description)
        definition = get_object_definition(record, strict=True)
        shown = []
        for field in definition.fields:
            python_name = field.python_name
            if python_name in hidden:
                continue
            field.description = descriptions.get(python_name)
            if python_name in ids:
                field.type_annotation = StrawberryAnnotation(_as_id(record, python_name, hints[python_name]))
            default = declared[python_name].default
            if default is not dataclasses.MISSING:
                field.default = field.default_value = default
            shown.append(field)
        definition.fields = shown
        return record


object_type = _Registration(strawberry.type)
"""Registers a record as a GraphQL object type."""
input_type = _Registration(strawberry.input)
"""Registers a record as a GraphQL input type: strawberry builds it with keywords."""


def _as_id(record: type, name: str, hint: object) -> object:
    """``str`` becomes ``ID`` and ``str | None`` ``ID | None``: ids are strings below the schema."""
    if hint is str:
        return strawberry.ID
    if hint == str | None:
        return strawberry.ID | None
    raise TypeError(f"{record.__name__}.{name} is {hint}, not a string: it cannot be an ID")
