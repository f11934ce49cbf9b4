"""The appraisal cycle's life: which state may follow which, and when a reason is required."""

from __future__ import annotations

from collections.abc import Mapping

from hub.appraisal.errors import IllegalTransition, ReasonRequired
from hub.domain import CycleState

_TRANSITIONS: Mapping[CycleState, frozenset[CycleState]] = {
    CycleState.DRAFT: frozenset({CycleState.OPEN}),
    CycleState.OPEN: frozenset({CycleState.SCORED}),
    # Reopening lets late data or corrected ratings in; it discards scores, hence the reason.
    CycleState.SCORED: frozenset({CycleState.CALIBRATED, CycleState.OPEN}),
    CycleState.CALIBRATED: frozenset({CycleState.PUBLISHED}),
    # Published results have been sent to payroll and training; they are never taken back.
    CycleState.PUBLISHED: frozenset(),
}

# The step that takes a cycle to each state, named as the API's mutation (and said in a refused move's message):
# "cannot move from SCORED to PUBLISHED" alone left HR guessing that calibration must be closed first.
_STEP_TO: Mapping[CycleState, str] = {
    CycleState.OPEN: "cycleOpen",
    CycleState.SCORED: "cycleScore",
    CycleState.CALIBRATED: "cycleCloseCalibration",
    CycleState.PUBLISHED: "cyclePublish",
}

_NEEDS_REASON: frozenset[tuple[CycleState, CycleState]] = frozenset({(CycleState.SCORED, CycleState.OPEN)})


def allowed_targets(state: CycleState) -> frozenset[CycleState]:
    """Return the states a cycle in ``state`` may move to."""
    return _TRANSITIONS[state]


def requires_reason(current: CycleState, target: CycleState) -> bool:
    """Tell whether moving from ``current`` to ``target`` needs a written reason."""
    return (current, target) in _NEEDS_REASON


def check_transition(current: CycleState, target: CycleState, reason: str | None) -> None:
    """Raise IllegalTransition or ReasonRequired unless the cycle may move from current to target."""
    if target not in _TRANSITIONS[current]:
        raise IllegalTransition(current, target, _refusal(current, target))
    if requires_reason(current, target) and not (reason and reason.strip()):
        raise ReasonRequired(current, target)


def _refusal(current: CycleState, target: CycleState) -> str:
    """Why a cycle cannot move from ``current`` to ``target``, and which steps it can take instead."""
    targets = sorted(_TRANSITIONS[current])
    if not targets:
        return f"a cycle cannot move from {current.value} to {target.value}: {current.value} is final"
    steps = " or ".join(f"{state.value} ({_step(current, state)})" for state in targets)
    return f"a cycle cannot move from {current.value} to {target.value}; from {current.value} it moves to {steps}"


def _step(current: CycleState, target: CycleState) -> str:
    """The mutation that moves a cycle from ``current`` to ``target`` (an allowed move)."""
    if requires_reason(current, target):
        return "cycleReopen, with a reason"
    return _STEP_TO[target]
