"""The records mutations hand back: one success record per mutation, or a failure record.

The schema's payload unions tell them apart with ``is_type_of`` (resolvers never import the schema).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub.appraisal import AppraisalError, DistributionBreach
from hub.appraisal.errors import IllegalTransition, ReasonRequired, ScoringBlocked
from hub.operations.collect import Missing
from hub.operations.errors import (
    ImportRejected,
    NotARater,
    NotFound,
    OperationError,
    RowProblem,
    WrongCycleState,
)
from hub.operations.scoring import BlockedEmployee


class FailureKind(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    STATE = "STATE"
    NOT_ALLOWED = "NOT_ALLOWED"


@dataclass(frozen=True, slots=True)
class Failure:
    """An expected failure: nothing was written."""

    kind: FailureKind
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """An import with bad rows: every problem with its line number; nothing was written."""

    code: str
    message: str
    problems: list[RowProblem]
    field: str | None = "csv"


@dataclass(frozen=True, slots=True)
class IndicatorVersionSaved:
    indicator_version: Any


@dataclass(frozen=True, slots=True)
class SchemeVersionSaved:
    scheme_version: Any


@dataclass(frozen=True, slots=True)
class CycleChanged:
    cycle: Any


@dataclass(frozen=True, slots=True)
class CycleScored:
    cycle: Any
    scored: int
    blocked: list[BlockedEmployee] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RaterAssigned:
    assignment: Any


@dataclass(frozen=True, slots=True)
class RatingSaved:
    rating: Any


@dataclass(frozen=True, slots=True)
class MetricValuesImported:
    imported: int
    replaced: int


@dataclass(frozen=True, slots=True)
class MetricsCollected:
    cycle_id: int
    stored: int
    updated: int
    unchanged: int
    stale: int
    missing: list[Missing]


@dataclass(frozen=True, slots=True)
class ResultCalibrated:
    result: Any
    warnings: list[DistributionBreach]


def _kind(error: OperationError | AppraisalError) -> FailureKind:
    if isinstance(error, NotFound):
        return FailureKind.NOT_FOUND
    if isinstance(error, IllegalTransition | ReasonRequired | WrongCycleState | ScoringBlocked):
        return FailureKind.STATE
    if isinstance(error, NotARater):
        return FailureKind.NOT_ALLOWED
    return FailureKind.INVALID_INPUT


def failure_from(error: OperationError | AppraisalError) -> Failure | ImportFailure:
    if isinstance(error, ImportRejected):
        return ImportFailure(code=error.code, message=error.message, problems=error.problems)
    return Failure(_kind(error), error.code, error.message, getattr(error, "field", None))


T = TypeVar("T")


async def attempt(operation: Callable[[], Awaitable[T]]) -> T | Failure | ImportFailure:
    """Runs an operation; an expected error becomes a failure record, anything else propagates."""
    try:
        return await operation()
    except (OperationError, AppraisalError) as error:
        return failure_from(error)


def not_found(entity: str, id_: str, field: str) -> Failure:
    return Failure(FailureKind.NOT_FOUND, NotFound.code, f"no {entity} with id {id_!r}", field)
