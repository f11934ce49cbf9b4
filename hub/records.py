"""Frozen records copied off objects that carry the same attributes (an ORM row, a parsed input row).

Where a record is a row's columns under the same names, spelling out ``name=row.name`` for each is a list
kept in step with the record's fields by hand; ``record_from`` reads the field list off the record instead,
so that only what differs is written where the record is made.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def record_from(kind: type[R], source: object, **given: object) -> R:
    """A ``kind`` whose fields are ``source``'s attributes of the same names, but for those ``given``.

    A name given that is no field of ``kind`` is a TypeError, as it would be in the constructor; a field that
    ``source`` lacks and is not given is an AttributeError: nothing falls back to a field's default.
    """
    names = [field.name for field in dataclasses.fields(kind) if field.init]
    unknown = given.keys() - set(names)
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {', '.join(sorted(unknown))}")
    return kind(**{name: given[name] if name in given else getattr(source, name) for name in names})
