"""Typed errors of the mutation payloads: what went wrong, as a code a client can switch on."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from resolvers.payloads import Failure, FailureKind, ImportFailure


@strawberry.enum(description="Every code a mutation error can carry.")
class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_RULE = "INVALID_RULE"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
    WEIGHTS_DO_NOT_SUM = "WEIGHTS_DO_NOT_SUM"
    NON_POSITIVE_WEIGHT = "NON_POSITIVE_WEIGHT"
    OVERLAPPING_EFFECTIVE_DATES = "OVERLAPPING_EFFECTIVE_DATES"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    IMPORT_REJECTED = "IMPORT_REJECTED"
    NOT_A_RATER = "NOT_A_RATER"
    NOT_YOUR_RATING = "NOT_YOUR_RATING"
    WRONG_CYCLE_STATE = "WRONG_CYCLE_STATE"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    REASON_REQUIRED = "REASON_REQUIRED"
    SCORING_BLOCKED = "SCORING_BLOCKED"


def _is_failure(kind: FailureKind) -> Any:
    def is_type_of(obj: Any, _info: Any) -> bool:
        return isinstance(obj, Failure) and obj.kind is kind

    return classmethod(lambda _cls, obj, info: is_type_of(obj, info))


@strawberry.interface(description="An expected failure of a mutation; nothing was written.")
class MutationError:
    message: str = strawberry.field(description="What went wrong, for people.")
    field: str | None = strawberry.field(description="The input field at fault, when there is one.")

    @strawberry.field
    def code(self, root: strawberry.Parent[Failure | ImportFailure]) -> ErrorCode:
        return ErrorCode(root.code)


@strawberry.type(description="An id names nothing.")
class NotFoundError(MutationError):
    is_type_of = _is_failure(FailureKind.NOT_FOUND)


@strawberry.type(description="A value is malformed, out of range or inconsistent (weights, rules, dates, codes).")
class InvalidInputError(MutationError):
    is_type_of = _is_failure(FailureKind.INVALID_INPUT)


@strawberry.type(description="The cycle's state does not allow this step (or the step needs a reason).")
class StateError(MutationError):
    is_type_of = _is_failure(FailureKind.STATE)


@strawberry.type(description="The caller has no evaluation relationship that allows this.")
class NotAllowedError(MutationError):
    is_type_of = _is_failure(FailureKind.NOT_ALLOWED)


@strawberry.type
class RowProblem:
    line: int = strawberry.field(description="The line in the file; the header is line 1.")
    message: str


@strawberry.type(description="An import had bad rows; every problem is listed and nothing was imported.")
class ImportRejectedError(MutationError):
    problems: list[RowProblem]

    @classmethod
    def is_type_of(cls, obj: Any, _info: Any) -> bool:
        return isinstance(obj, ImportFailure)
