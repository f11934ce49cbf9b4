"""The appraisal domain's vocabulary: enumerations shared by the database, the engine and the API, and
the shape every error raised on purpose has."""

from __future__ import annotations

import enum
from typing import ClassVar


class IndicatorCategory(enum.StrEnum):
    """CORE indicators are rated by people; EXTENSION indicators are measured by a business system."""

    CORE = "CORE"
    EXTENSION = "EXTENSION"


class Direction(enum.StrEnum):
    HIGHER_IS_BETTER = "HIGHER_IS_BETTER"
    LOWER_IS_BETTER = "LOWER_IS_BETTER"


class RaterRole(enum.StrEnum):
    """Who rates whom in a 360-degree evaluation."""

    SELF = "SELF"
    MANAGER = "MANAGER"
    PEER = "PEER"
    SUBORDINATE = "SUBORDINATE"


class NominationState(enum.StrEnum):
    """Where a peer nomination stands: proposed by the ratee, then approved or declined by their manager."""

    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"


class CycleState(enum.StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    SCORED = "SCORED"
    CALIBRATED = "CALIBRATED"
    PUBLISHED = "PUBLISHED"


class CycleWarningCode(enum.StrEnum):
    """Something a cycle step did that may not be meant: a warning, not a refusal (the step is done)."""

    POST_WITHOUT_SCHEME = "POST_WITHOUT_SCHEME"  # a post in the scope has no scheme in force: its people are not in
    PERIOD_OVERLAP = "PERIOD_OVERLAP"  # the cycle's period overlaps another cycle's


class EmployeeStatus(enum.StrEnum):
    """Whether an employee still works here; a leaver is INACTIVE and keeps their history and results."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class Grade(enum.StrEnum):
    """One grade system for every post, best first."""

    S = "S"
    A = "A"
    B = "B"
    C = "C"
    D = "D"


def grade_steps(earlier: Grade, later: Grade) -> int:
    """Grades moved from ``earlier`` to ``later``: +1 for one better (B to A), -2 for two worse, 0 unchanged."""
    best_first = list(Grade)
    return best_first.index(earlier) - best_first.index(later)


class AdjustmentKind(enum.StrEnum):
    """How a result's total or grade was changed by hand after scoring."""

    CALIBRATION = "CALIBRATION"  # between scoring and closing calibration
    CORRECTION = "CORRECTION"  # after publication, announced as result.revised


class MissingPolicy(enum.StrEnum):
    """What scoring does when an indicator has no value for an employee."""

    ZERO = "ZERO"  # the indicator scores 0
    EXCLUDE = "EXCLUDE"  # the indicator is left out and the other weights are scaled back to 100
    BLOCK = "BLOCK"  # the employee cannot be scored until the value arrives


class GroupDimension(enum.StrEnum):
    """Dimensions analysts can group score statistics by."""

    DEPARTMENT = "DEPARTMENT"
    POST = "POST"
    POST_FAMILY = "POST_FAMILY"
    GRADE = "GRADE"
    CYCLE = "CYCLE"


class ErrorKind(enum.StrEnum):
    """What kind of refusal an expected error is: the API answers each kind with its own payload error type."""

    NOT_FOUND = "NOT_FOUND"  # an id names nothing
    INVALID_INPUT = "INVALID_INPUT"  # a value is malformed, out of range or inconsistent
    IMPORT_REJECTED = "IMPORT_REJECTED"  # a file had bad rows, every one listed
    STATE = "STATE"  # the cycle's state does not allow the step
    NOT_ALLOWED = "NOT_ALLOWED"  # the caller has no relationship that allows it


class CodedError(Exception):
    """An error raised on purpose: a stable machine ``code`` for API payloads, the ``kind`` of refusal, a
    ``message`` for people. The base of both expected-error trees, the scoring arithmetic's
    (``hub.appraisal.errors``) and the operations' (``hub.operations.errors``), so that they are built alike."""

    code: ClassVar[str]
    kind: ClassVar[ErrorKind] = ErrorKind.INVALID_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        """The API input field at fault, when the raiser knows it."""


MANUAL_SOURCE = "MANUAL"
"""The source system of an indicator whose values are ratings given by people."""
