"""Typed errors of the mutation payloads, derived from the operations' two error trees.

Every error class of ``hub.operations.errors`` and ``hub.appraisal.errors`` carries its ``code`` and
its ``kind`` (``hub.domain.ErrorKind``). From them come

- ``ErrorCode``, the enum of every code a mutation error can carry: the codes of the classes in the
  trees, in alphabetical order, so that moving a class does not reorder the schema (a class that only
  groups others, like ``NotAllowed``, has no code of its own and is not listed);
- one payload error type per kind (``NotFoundError``, ``InvalidInputError``, ...), which picks the
  raised error by its kind; a mutation answers the error it caught, as ``Refused(error)``.

``tests/schema/test_error_codes.py`` fails when an error class has no code of its own or its kind no type.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Annotated

import strawberry

from hub.appraisal.errors import AppraisalError
from hub.domain import ErrorKind
from hub.operations.errors import ExpectedError, OperationError, Refused, RowProblem
from schema.values import object_type


def error_classes() -> Iterator[type[ExpectedError]]:
    """Every class below the two roots, depth first in definition order."""

    def below(root: type[ExpectedError]) -> Iterator[type[ExpectedError]]:
        for subclass in root.__subclasses__():
            yield subclass
            yield from below(subclass)

    yield from below(OperationError)
    yield from below(AppraisalError)


def coded(error_class: type[ExpectedError]) -> bool:
    """Whether the class names a code of its own (a grouping class such as ``NotAllowed`` does not)."""
    return "code" in vars(error_class)


def _codes() -> list[str]:
    return sorted({error_class.code for error_class in error_classes() if coded(error_class)})


_ErrorCodes: type[enum.Enum] = enum.Enum("ErrorCode", {code: code for code in _codes()})  # type: ignore[misc]
ErrorCode = strawberry.enum(_ErrorCodes, name="ErrorCode", description="Every code a mutation error can carry.")


@strawberry.interface(description="An expected failure of a mutation; nothing was written.")
class MutationError:
    message: str = strawberry.field(description="What went wrong, for people.")
    field: str | None = strawberry.field(description="The input field at fault, when there is one.")

    @strawberry.field
    def code(self, root: strawberry.Parent[Refused]) -> ErrorCode:  # type: ignore[valid-type]
        return ErrorCode(root.code)


def _of_kind(kind: ErrorKind) -> classmethod[MutationError, [object, object], bool]:
    """strawberry's ``is_type_of``: a union member is the error caught (``Refused``) when it is of ``kind``."""

    def is_type_of(_cls: type[MutationError], obj: object, _info: object) -> bool:
        return isinstance(obj, Refused) and obj.kind is kind

    return classmethod(is_type_of)


def _error_type(kind: ErrorKind, description: str) -> type[MutationError]:
    """The payload error type of a kind that says no more than the interface: named after the kind
    (``NOT_FOUND``: ``NotFoundError``)."""

    class KindError(MutationError):
        is_type_of = _of_kind(kind)

    name = "".join(word.capitalize() for word in kind.name.split("_")) + "Error"
    KindError.__name__ = KindError.__qualname__ = name
    return strawberry.type(KindError, name=name, description=description)


object_type(
    RowProblem,
    name="RowProblem",
    fields={
        "line": "The line in the file (the header is line 1), or the index in a bulk mutation's list (first: 0).",
        "code": "The code a call with this row alone would have been refused with, where there is one.",
    },
)


@strawberry.type(
    description="An import (or a bulk mutation) had bad rows; every problem is listed and nothing was stored."
)
class ImportRejectedError(MutationError):
    problems: list[RowProblem]
    is_type_of = _of_kind(ErrorKind.IMPORT_REJECTED)


ERROR_TYPES: dict[ErrorKind, type[MutationError]] = {
    ErrorKind.NOT_FOUND: _error_type(ErrorKind.NOT_FOUND, "An id names nothing."),
    ErrorKind.INVALID_INPUT: _error_type(
        ErrorKind.INVALID_INPUT, "A value is malformed, out of range or inconsistent (weights, rules, dates, codes)."
    ),
    ErrorKind.IMPORT_REJECTED: ImportRejectedError,
    ErrorKind.STATE: _error_type(
        ErrorKind.STATE, "The cycle's state does not allow this step (or the step needs a reason)."
    ),
    ErrorKind.NOT_ALLOWED: _error_type(
        ErrorKind.NOT_ALLOWED, "The caller has no evaluation relationship that allows this."
    ),
}
"""The payload error type of each kind of error."""
EVERY_MUTATION_MAY_FAIL = (ErrorKind.NOT_FOUND, ErrorKind.INVALID_INPUT, ErrorKind.STATE)
"""The kinds of error every mutation may answer: an id that names nothing, bad input, a cycle in the wrong state."""


def payload(name: str, success: type, *kinds: ErrorKind) -> object:
    """A mutation's payload union: its success type, the errors every mutation may answer (an id that
    names nothing, bad input, a cycle in the wrong state), and those of ``kinds`` besides."""
    members = (success, *(ERROR_TYPES[kind] for kind in (*EVERY_MUTATION_MAY_FAIL, *kinds)))
    union = members[0]
    for member in members[1:]:
        union = union | member  # type: ignore[assignment]
    return Annotated[union, strawberry.union(name)]
