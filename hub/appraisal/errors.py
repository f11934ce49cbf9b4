"""The appraisal package's errors: one tree, each error with a machine code and a human message.

Every error raised by ``hub.appraisal`` is an ``AppraisalError``; catch that to catch them all.
The ``code`` is stable and meant for API error payloads; the message is for people.

    AppraisalError
    ├── InvalidRule              INVALID_RULE           a scoring rule's definition is unusable
    ├── InvalidValue             INVALID_VALUE          a raw value is non-finite or out of range
    │   └── NotAScalePoint       NOT_A_SCALE_POINT      a rating between the points a rater may give
    ├── InvalidConfiguration     INVALID_CONFIGURATION  grade bands, role weights or limits are unusable
    ├── WeightsDoNotSum          WEIGHTS_DO_NOT_SUM     scheme weights do not add up to 100
    │   └── NonPositiveWeight    NON_POSITIVE_WEIGHT    a scheme weight is zero, negative or non-finite
    ├── ScoringBlocked           SCORING_BLOCKED        an employee cannot be scored yet
    └── IllegalTransition        ILLEGAL_TRANSITION     a cycle cannot move to that state
        └── ReasonRequired       REASON_REQUIRED        it can, but only with a written reason

The root derives from ``hub.domain.CodedError``, like the operations' tree. Each class carries its
``code`` and the ``kind`` of refusal it is (``hub.domain.ErrorKind``); the API's ``ErrorCode`` enum and
payload error types are derived from them (``schema/errors.py``).

Programming mistakes (columns of different lengths handed to diagnostics) raise ValueError instead.
"""

from __future__ import annotations

from hub.domain import CodedError, CycleState, ErrorKind


class AppraisalError(CodedError):
    """Base of every error raised by the appraisal arithmetic (its ``field`` is set by the caller, when it
    knows the input at fault: the engine does not)."""

    code = "APPRAISAL_ERROR"


class InvalidRule(AppraisalError):
    """A scoring rule's definition is malformed or inconsistent with its indicator's direction."""

    code = "INVALID_RULE"


class InvalidValue(AppraisalError):
    """A raw value cannot be scored: not finite, or outside a rating scale."""

    code = "INVALID_VALUE"


class NotAScalePoint(InvalidValue):
    """A rating on the scale but not on a point a rater may give: between anchors (3.5 on an anchored 1-5
    scale) or off its steps."""

    code = "NOT_A_SCALE_POINT"


class InvalidConfiguration(AppraisalError):
    """Grade bands, rater-role weights or distribution limits are unusable."""

    code = "INVALID_CONFIGURATION"


class WeightsDoNotSum(AppraisalError):
    """A scheme's weights do not add up to 100."""

    code = "WEIGHTS_DO_NOT_SUM"

    def __init__(self, total: float, message: str | None = None) -> None:
        super().__init__(message or f"weights must add up to 100, they add up to {total:g}")
        self.total = total


class NonPositiveWeight(WeightsDoNotSum):
    """A scheme weight is zero, negative or not a finite number."""

    code = "NON_POSITIVE_WEIGHT"

    def __init__(self, total: float, index: int, weight: float) -> None:
        super().__init__(total, f"weight #{index} is {weight!r}; every weight must be a number above 0")
        self.index = index
        self.weight = weight


class ScoringBlocked(AppraisalError):
    """An employee cannot be scored: a BLOCK indicator has no value, or nothing is left to score."""

    code = "SCORING_BLOCKED"
    kind = ErrorKind.STATE

    def __init__(self, index: int | None, message: str | None = None) -> None:
        if message is None:
            message = (
                "every indicator is missing and excluded; nothing is left to score"
                if index is None
                else f"item #{index} has no value and its missing policy is BLOCK"
            )
        super().__init__(message)
        # None when the block is not due to one item (every item was excluded).
        self.index = index


class IllegalTransition(AppraisalError):
    """A cycle cannot move from its current state to the requested one."""

    code = "ILLEGAL_TRANSITION"
    kind = ErrorKind.STATE

    def __init__(self, current: CycleState, target: CycleState, message: str | None = None) -> None:
        super().__init__(message or f"a cycle cannot move from {current.value} to {target.value}")
        self.current = current
        self.target = target


class ReasonRequired(IllegalTransition):
    """The cycle transition is allowed only with a written reason (reopening a scored cycle): without one it
    is refused like any other illegal move, with its own code so that the client knows a reason would do."""

    code = "REASON_REQUIRED"

    def __init__(self, current: CycleState, target: CycleState) -> None:
        super().__init__(current, target, f"moving a cycle from {current.value} to {target.value} needs a reason")
