"""An object's completion in a projection as one generated function: no call per field where none is needed.

``schema.event_projection`` answered an event by calling, for each of its fifty-odd fields, a reader and a
completion closure, and built the object in a dict comprehension: a fifth of the hub's time per event in a
replay (``py-spy`` on ``bench.events``). The same steps, written out as the source of one function per
object of the selection and compiled once per subscription's selection, do the work without those calls:
an attribute read as ``value.name``, a built-in scalar whose value is already of its class kept as it is (the
check ``_leaf`` makes), and only the rest (other scalars, enums, nested objects and lists) handed to the
field's own completion. The order of reads and completions is the fields' order, as before, and
``Unprojectable`` is raised by the same completions in the same cases.

The source is made only of names this module chooses (``v3``, ``r3``, ``c3``) and of the selection's response
keys and attribute names, which are GraphQL names or Python identifiers (checked here); values are never
written into it.
"""

from __future__ import annotations

import datetime as dt
import keyword
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from graphql import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT

Complete = Callable[[object], object]
Read = Callable[[object], object]


class Unprojectable(Exception):
    """This selection, or this event's value, is one for graphql-core's execution."""


@dataclass(frozen=True, slots=True)
class MemberNames:
    """An enum's members, all of one Python class, and the name its serialiser gives each (asked once)."""

    of: type[Enum]
    names: Mapping[Enum, str]


Fast = type | str | MemberNames | None
"""How a leaf's value is kept without its completion: its exact class (a built-in scalar that returns such a
value as it is), ``"float"`` or ``"int"`` (GraphQL's Float and Int with their range checks), ``"id"`` (ID: a
``str`` kept, an ``int`` written as ``str`` does it, as graphql-core's ``serialize_id`` does), ``"isoformat"``
(strawberry's Date, DateTime and Time: a value of exactly those classes written by its ``isoformat``, as their
serialiser does), ``MemberNames`` (an enum: a member of its class written as its name), or None (always
completed)."""

_ISO_CLASSES = frozenset({dt.date, dt.datetime, dt.time})

Resolver = TypeVar("Resolver", bound=Callable[..., object])

ATTRIBUTE_READS: dict[Callable[..., object], str] = {}
"""Resolvers that only read an attribute path of their parent (``"contents.total_score"``), registered by
``reads_attribute``: the generated code reads the path itself, without calling them."""


def reads_attribute(path: str) -> Callable[[Resolver], Resolver]:
    """Registers the decorated resolver as reading nothing but ``path`` (dotted attribute names) of its parent."""
    if _attribute(path) != path:
        raise ValueError(f"not an attribute path: {path!r}")

    def register(resolver: Resolver) -> Resolver:
        ATTRIBUTE_READS[resolver] = path
        return resolver

    return register


@dataclass(frozen=True, slots=True)
class Field:
    """A selected field: its response key, how it is read (an attribute, or ``read``), how it is completed."""

    key: str
    read: Read
    complete: Complete
    attribute: str | None = None
    """The attribute the field's default resolver reads (None: ``read`` is called)."""
    fast: Fast = None
    constant: str | None = None
    """``__typename``: the parent type's name, neither read nor completed."""


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")
"""A GraphQL name (a response key or a type's name): safe to write into the source as a string literal."""


def _attribute(name: str | None) -> str | None:
    """The name, or dotted path of names, when each is an identifier that is no keyword (safe in the source)."""
    if name is None:
        return None
    parts = name.split(".")
    return name if all(part.isidentifier() and not keyword.iskeyword(part) for part in parts) else None


def _fast_test(fast: Fast, value: str, slot: str) -> str | None:
    """The condition under which ``value`` needs its completion, or None when it always does."""
    if isinstance(fast, type):
        return f"{value}.__class__ is not {slot}"
    if fast == "float":
        return f"{value}.__class__ is not _float or not _isfinite({value})"
    if fast == "int":
        return f"{value}.__class__ is not _int or not (_LOW <= {value} <= _HIGH)"
    return None


def _completing(fast: Fast, value: str, completion: str, slot: str) -> list[str]:
    """The lines that complete ``value`` in place: kept or converted as ``fast`` says, else by its completion."""
    if fast == "id":
        return [
            f"    if {value}.__class__ is not _str:",
            f"        {value} = _str({value}) if {value}.__class__ is _int else {completion}({value})",
        ]
    if isinstance(fast, MemberNames):
        return [
            f"    if {value}.__class__ is {slot}:",
            f"        {value} = n{slot}[{value}]",
            "    else:",
            f"        {value} = {completion}({value})",
        ]
    if fast == "isoformat":
        return [
            f"    if {value}.__class__ in _ISO_CLASSES:",
            f"        {value} = {value}.isoformat()",
            "    else:",
            f"        {value} = {completion}({value})",
        ]
    test = _fast_test(fast, value, slot)
    if test is None:
        return [f"    {value} = {completion}({value})"]
    return [f"    if {test}:", f"        {value} = {completion}({value})"]


def object_completion(type_name: str, fields: Sequence[Field], non_null: bool) -> Complete:
    """How a value of the object type completes with this selection: one function, compiled once."""
    namespace: dict[str, object] = {
        "Unprojectable": Unprojectable,
        "_Exception": Exception,
        "_isinstance": isinstance,
        "_isfinite": math.isfinite,
        "_float": float,
        "_int": int,
        "_str": str,
        "_ISO_CLASSES": _ISO_CLASSES,
        "_LOW": GRAPHQL_MIN_INT,
        "_HIGH": GRAPHQL_MAX_INT,
    }
    lines = [
        "def complete(value):",
        "    if value is None:",
        "        raise Unprojectable" if non_null else "        return None",
        "    if _isinstance(value, _Exception):",
        "        raise Unprojectable",
    ]
    items: list[str] = []
    for index, field in enumerate(fields):
        if not _NAME.match(field.key):
            raise Unprojectable
        if field.constant is not None:
            if not _NAME.match(field.constant):
                raise Unprojectable
            items.append(f"{field.key!r}: {field.constant!r}")
            continue
        value, reader, completion, exact = f"v{index}", f"r{index}", f"c{index}", f"k{index}"
        attribute = _attribute(field.attribute)
        if attribute is not None:
            lines.append(f"    {value} = value.{attribute}")
        else:
            namespace[reader] = field.read
            lines.append(f"    {value} = {reader}(value)")
        namespace[completion] = field.complete
        if isinstance(field.fast, type):
            namespace[exact] = field.fast
        elif isinstance(field.fast, MemberNames):
            namespace[exact], namespace[f"n{exact}"] = field.fast.of, field.fast.names
        lines += _completing(field.fast, value, completion, exact)
        items.append(f"{field.key!r}: {value}")
    lines.append("    return {" + ", ".join(items) + "}")
    # The source is this module's own (see the module's docstring): compiled once per selection, not per event.
    exec(compile("\n".join(lines), f"<projection of {type_name}>", "exec"), namespace)
    complete = namespace["complete"]
    assert callable(complete)
    return complete


def remembered(complete: Complete) -> Complete:
    """An enum's completion, remembered per member: the name of a member does not change."""
    names: dict[Enum, object] = {}

    def complete_member(value: object) -> object:
        if isinstance(value, Enum):
            name = names.get(value)
            if name is None:
                name = names[value] = complete(value)
            return name
        return complete(value)

    return complete_member
