"""The appraisal cycle's state machine."""

from __future__ import annotations

import pytest

from hub.appraisal import IllegalTransition, ReasonRequired, allowed_targets, check_transition
from hub.domain import CycleState

DRAFT, OPEN, SCORED, CALIBRATED, PUBLISHED = (
    CycleState.DRAFT,
    CycleState.OPEN,
    CycleState.SCORED,
    CycleState.CALIBRATED,
    CycleState.PUBLISHED,
)


@pytest.mark.parametrize(
    ("current", "target"), [(DRAFT, OPEN), (OPEN, SCORED), (SCORED, CALIBRATED), (CALIBRATED, PUBLISHED)]
)
def test_the_forward_path_is_allowed(current: CycleState, target: CycleState) -> None:
    """A cycle moves DRAFT -> OPEN -> SCORED -> CALIBRATED -> PUBLISHED without a reason."""
    check_transition(current, target, None)


def test_reopening_a_scored_cycle_needs_a_reason() -> None:
    """SCORED -> OPEN is allowed only with a non-blank reason."""
    check_transition(SCORED, OPEN, "late finance data for March")
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired) as caught:
            check_transition(SCORED, OPEN, reason)
        assert caught.value.code == "REASON_REQUIRED"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (DRAFT, SCORED),
        (OPEN, DRAFT),
        (CALIBRATED, OPEN),
        (PUBLISHED, OPEN),
        (PUBLISHED, CALIBRATED),
        (OPEN, OPEN),
    ],
)
def test_other_transitions_are_illegal(current: CycleState, target: CycleState) -> None:
    """Skipping a state, going back (other than reopening) or leaving PUBLISHED raises IllegalTransition."""
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, target, "because")
    assert (caught.value.current, caught.value.target) == (current, target)


def test_allowed_targets_lists_every_state() -> None:
    """allowed_targets answers for every state and agrees with check_transition."""
    assert allowed_targets(SCORED) == {CALIBRATED, OPEN}
    assert allowed_targets(PUBLISHED) == frozenset()
    for current in CycleState:
        for target in CycleState:
            if target in allowed_targets(current):
                check_transition(current, target, "reason")
            else:
                with pytest.raises(IllegalTransition):
                    check_transition(current, target, "reason")


def test_a_refused_move_names_the_steps_that_are_possible() -> None:
    """Publishing a SCORED cycle is refused saying calibration must be closed first, and by which mutation."""
    with pytest.raises(IllegalTransition) as refused:
        check_transition(CycleState.SCORED, CycleState.PUBLISHED, None)
    assert str(refused.value) == (
        "a cycle cannot move from SCORED to PUBLISHED; from SCORED it moves to CALIBRATED (cycleCloseCalibration) "
        "or OPEN (cycleReopen, with a reason)"
    )
    with pytest.raises(IllegalTransition, match="PUBLISHED is final"):
        check_transition(CycleState.PUBLISHED, CycleState.OPEN, None)
