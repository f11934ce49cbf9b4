"""Properties every scoring rule must hold: bounded on 0-100 and monotonic in its direction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.appraisal import RatingScaleRule, Rule, compile_rule, parse_rule
from hub.domain import Direction

from .strategies import any_rule, raw_values


def _raws_for(rule: Rule, data: st.DataObject) -> tuple[float, float]:
    # A rating scale only accepts values on the scale; every other rule accepts any finite value.
    values = st.floats(rule.min, rule.max) if isinstance(rule, RatingScaleRule) else raw_values
    a, b = data.draw(values), data.draw(values)
    return (a, b) if a <= b else (b, a)


@given(any_rule, st.data())
def test_scores_are_bounded(rule_and_direction: tuple[Rule, Direction], data: st.DataObject) -> None:
    """Every rule kind scores any acceptable raw value within 0..100."""
    rule, direction = rule_and_direction
    scorer = compile_rule(rule, direction)
    for raw in _raws_for(rule, data):
        assert 0.0 <= scorer(raw) <= 100.0


@given(any_rule, st.data())
def test_scores_are_monotonic_in_the_direction(rule_and_direction: tuple[Rule, Direction], data: st.DataObject) -> None:
    """A better raw value (higher, or lower for LOWER_IS_BETTER) never scores worse."""
    rule, direction = rule_and_direction
    scorer = compile_rule(rule, direction)
    low, high = _raws_for(rule, data)
    if direction is Direction.HIGHER_IS_BETTER:
        assert scorer(low) <= scorer(high)
    else:
        assert scorer(low) >= scorer(high)


@given(any_rule)
def test_stored_form_round_trips(rule_and_direction: tuple[Rule, Direction]) -> None:
    """parse_rule(rule.to_dict()) gives back the same rule for every valid rule."""
    rule, _ = rule_and_direction
    assert parse_rule(rule.to_dict()) == rule
