"""Worked examples and error cases for the scoring rules and their stored form."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hub.appraisal import (
    Band,
    BandsRule,
    InvalidRule,
    InvalidValue,
    LinearRule,
    LookupRule,
    NotAScalePoint,
    RatingScaleRule,
    parse_rule,
    score,
    validate_rating,
    validate_rating_point,
)
from hub.domain import Direction

HIGHER = Direction.HIGHER_IS_BETTER
LOWER = Direction.LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5.0, 0.0),  # at the floor
        (7.0, 0.0),  # worse than the floor is clamped
        (2.75, 50.0),  # (2.75 - 5) / (0.5 - 5) = -2.25 / -4.5 = 0.5
        (1.4, 80.0),  # (1.4 - 5) / (0.5 - 5) = -3.6 / -4.5 = 0.8
        (0.5, 100.0),  # at the target
        (0.0, 100.0),  # better than the target is clamped
    ],
)
def test_linear_lower_is_better_error_rate(raw: float, expected: float) -> None:
    """An error rate with floor 5% and target 0.5% scores 100 at or below 0.5% and 0 at or above 5%."""
    assert score(LinearRule(floor=5.0, target=0.5), raw, LOWER) == pytest.approx(expected)


def test_linear_higher_is_better_hits_exactly_100_at_target() -> None:
    """A patrol completion rate floor 60 target 95 gives 0 at 60, 100 exactly at 95 and 40 at 74."""
    rule = LinearRule(floor=60.0, target=95.0)
    assert score(rule, 60.0, HIGHER) == 0.0
    assert score(rule, 95.0, HIGHER) == 100.0
    assert score(rule, 74.0, HIGHER) == pytest.approx(40.0)  # 14 / 35 = 0.4


def test_linear_rule_must_agree_with_direction() -> None:
    """A linear rule whose target lies on the wrong side of the floor for its direction is refused."""
    with pytest.raises(InvalidRule, match="must be below"):
        score(LinearRule(floor=0.5, target=5.0), 1.0, LOWER)
    with pytest.raises(InvalidRule, match="must be above"):
        score(LinearRule(floor=5.0, target=0.5), 1.0, HIGHER)


def test_linear_rule_needs_distinct_floor_and_target() -> None:
    """A floor equal to the target has no slope and is refused."""
    with pytest.raises(InvalidRule, match="must differ"):
        LinearRule(floor=3.0, target=3.0)


PATROL_BANDS = BandsRule((Band(98.0, 100.0), Band(80.0, 60.0), Band(90.0, 80.0)))


@pytest.mark.parametrize(("raw", "expected"), [(79.9, 0.0), (80.0, 60.0), (93.0, 80.0), (98.0, 100.0), (120.0, 100.0)])
def test_bands_higher_is_better(raw: float, expected: float) -> None:
    """For HIGHER_IS_BETTER the highest band whose threshold is at or below the value applies."""
    assert score(PATROL_BANDS, raw, HIGHER) == expected


RESPONSE_HOURS_BANDS = BandsRule((Band(2.0, 100.0), Band(8.0, 70.0), Band(24.0, 30.0)))


@pytest.mark.parametrize(("raw", "expected"), [(0.5, 100.0), (2.0, 100.0), (2.1, 70.0), (24.0, 30.0), (25.0, 0.0)])
def test_bands_lower_is_better(raw: float, expected: float) -> None:
    """For LOWER_IS_BETTER the lowest band whose threshold is at or above the value applies."""
    assert score(RESPONSE_HOURS_BANDS, raw, LOWER) == expected


def test_bands_are_kept_sorted_and_validated() -> None:
    """Bands are stored sorted; duplicate thresholds, out-of-range or non-monotone scores are refused."""
    assert [b.threshold for b in PATROL_BANDS.bands] == [80.0, 90.0, 98.0]
    with pytest.raises(InvalidRule, match="share the threshold"):
        BandsRule((Band(1.0, 10.0), Band(1.0, 20.0)))
    with pytest.raises(InvalidRule, match="between 0 and 100"):
        Band(1.0, 120.0)
    with pytest.raises(InvalidRule, match="steadily"):
        BandsRule((Band(1.0, 10.0), Band(2.0, 50.0), Band(3.0, 20.0)))
    with pytest.raises(InvalidRule, match="must rise"):
        score(RESPONSE_HOURS_BANDS, 1.0, HIGHER)


LOOKUP = LookupRule(((0.0, 0.0), (50.0, 40.0), (90.0, 100.0)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (-5.0, 0.0),  # clamped below the first point
        (25.0, 20.0),  # halfway from (0, 0) to (50, 40)
        (50.0, 40.0),
        (80.0, 85.0),  # 40 + (100 - 40) * (80 - 50) / (90 - 50) = 40 + 60 * 0.75
        (200.0, 100.0),  # clamped above the last point
    ],
)
def test_lookup_interpolates(raw: float, expected: float) -> None:
    """A lookup rule interpolates linearly between its points and clamps at both ends."""
    assert score(LOOKUP, raw, HIGHER) == pytest.approx(expected)


def test_lookup_validation() -> None:
    """A lookup needs two points at distinct x with scores 0..100 that go the indicator's way."""
    with pytest.raises(InvalidRule, match="at least two"):
        LookupRule(((1.0, 50.0),))
    with pytest.raises(InvalidRule, match="share x"):
        LookupRule(((1.0, 50.0), (1.0, 60.0)))
    with pytest.raises(InvalidRule, match="must fall"):
        score(LOOKUP, 10.0, LOWER)


def test_rating_scale_rescales_and_rejects_out_of_range() -> None:
    """A 1-5 rating maps 1 -> 0, 3 -> 50, 4.2 -> 80, 5 -> 100; 0 or 6 is refused."""
    rule = RatingScaleRule(1.0, 5.0, {"1": "ignores rules", "5": "a model for others"})
    assert [score(rule, r, HIGHER) for r in (1.0, 3.0, 4.2, 5.0)] == pytest.approx([0.0, 50.0, 80.0, 100.0])
    for bad in (0.0, 6.0, math.nan):
        with pytest.raises(InvalidValue):
            validate_rating(rule, bad)
        with pytest.raises(InvalidValue):
            score(rule, bad, HIGHER)


def test_rating_anchors_must_be_points_on_the_scale() -> None:
    """An anchor outside the scale, not a number or without a description is refused."""
    with pytest.raises(InvalidRule, match="outside the scale"):
        RatingScaleRule(1.0, 5.0, {"7": "superb"})
    with pytest.raises(InvalidRule, match="not a point"):
        RatingScaleRule(1.0, 5.0, {"great": "superb"})
    with pytest.raises(InvalidRule, match="description"):
        RatingScaleRule(1.0, 5.0, {"3": "  "})


FIVE_ANCHORS = {str(point): f"behaviour {point}" for point in range(1, 6)}


def test_an_anchored_scale_takes_its_anchor_points_only_and_scores_any_mean() -> None:
    """Raters give 1..5 on an anchored 1-5 scale, never 3.5; a mean of ratings (3.5) still scores."""
    rule = RatingScaleRule(1.0, 5.0, FIVE_ANCHORS)
    for point in (1.0, 2.0, 3.0, 4.0, 5.0):
        validate_rating_point(rule, point)
    for between in (3.5, 1.01, 4.999):
        with pytest.raises(NotAScalePoint, match="anchor points"):
            validate_rating_point(rule, between)
    with pytest.raises(InvalidValue, match="between 1 and 5"):
        validate_rating_point(rule, 6.0)
    assert score(rule, 3.5, HIGHER) == pytest.approx(62.5)


def test_a_scale_with_steps_or_without_anchors_takes_more() -> None:
    """With a step, every step from min (anchors or not); without anchors or step, anything on the scale."""
    halves = RatingScaleRule(1.0, 5.0, FIVE_ANCHORS, step=0.5)
    validate_rating_point(halves, 3.5)
    with pytest.raises(NotAScalePoint, match=r"steps of 0\.5"):
        validate_rating_point(halves, 3.25)
    tenths = RatingScaleRule(0.0, 1.0, step=0.1)
    validate_rating_point(tenths, 0.3)  # 0.1 * 3 is 0.30000000000000004: still a step
    validate_rating_point(RatingScaleRule(1.0, 5.0), 3.25)


@pytest.mark.parametrize(
    ("step", "anchors", "message"),
    [
        (0.0, {}, "above 0"),
        (-0.5, {}, "above 0"),
        (1.5, {}, "divide 1..5 evenly"),
        (math.inf, {}, "finite"),
        (1.0, {"2.5": "halfway"}, "not a step of 1 from 1"),
    ],
)
def test_a_step_must_divide_the_scale_and_hold_its_anchors(step: float, anchors: dict[str, str], message: str) -> None:
    """A step of zero, below zero, not dividing the scale, or missing an anchor is an InvalidRule."""
    with pytest.raises(InvalidRule, match=message):
        RatingScaleRule(1.0, 5.0, anchors, step=step)


def test_a_step_is_read_from_and_written_to_the_rule_json() -> None:
    """``step`` is an optional key of a rating rule; a rule without it stores no step."""
    rule = parse_rule({"kind": "rating", "min": 1, "max": 5, "anchors": {"3": "meets"}, "step": 0.5})
    assert rule == RatingScaleRule(1.0, 5.0, {"3": "meets"}, step=0.5)
    assert parse_rule(rule.to_dict()) == rule
    assert "step" not in RatingScaleRule(1.0, 5.0).to_dict()
    with pytest.raises(InvalidRule, match="rating step must be a number"):
        parse_rule({"kind": "rating", "min": 1, "max": 5, "step": "half"})


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("rule", [LinearRule(0.0, 10.0), PATROL_BANDS, LOOKUP, RatingScaleRule(1.0, 5.0)])
def test_non_finite_raw_values_raise(rule: Any, raw: float) -> None:
    """nan and infinities are never scored, whatever the rule."""
    with pytest.raises(InvalidValue):
        score(rule, raw, HIGHER)


@pytest.mark.parametrize(
    "rule",
    [LinearRule(5.0, 0.5), PATROL_BANDS, LOOKUP, RatingScaleRule(1.0, 5.0, {"3": "meets expectations"})],
)
def test_to_dict_round_trips_through_parse_rule(rule: Any) -> None:
    """Every rule's stored form parses back to an equal rule."""
    assert parse_rule(rule.to_dict()) == rule


def test_parse_rule_reads_stored_json() -> None:
    """The documented JSON shapes parse into the matching rule."""
    assert parse_rule({"kind": "linear", "floor": 5, "target": 0.5}) == LinearRule(5.0, 0.5)
    bands = parse_rule({"kind": "bands", "bands": [{"threshold": 80, "score": 60}]})
    assert bands == BandsRule((Band(80.0, 60.0),))
    assert parse_rule({"kind": "lookup", "points": [[0, 0], [10, 100]]}) == LookupRule(((0, 0), (10, 100)))
    assert parse_rule({"kind": "rating", "min": 1, "max": 5}) == RatingScaleRule(1.0, 5.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"floor": 1, "target": 2}, "rule kind must be one of"),
        ({"kind": "cubic"}, "rule kind must be one of"),
        ({"kind": "linear", "floor": 1}, "missing 'target'"),
        ({"kind": "linear", "floor": 1, "target": 2, "flor": 3}, "unknown key"),
        ({"kind": "linear", "floor": "1", "target": 2}, "must be a number"),
        ({"kind": "linear", "floor": True, "target": 2}, "must be a number"),
        ({"kind": "linear", "floor": math.inf, "target": 2}, "finite"),
        ({"kind": "bands", "bands": {"threshold": 1}}, "must be a list"),
        ({"kind": "bands", "bands": [{"threshold": 1}]}, "'threshold' and 'score'"),
        ({"kind": "bands", "bands": []}, "at least one band"),
        ({"kind": "lookup", "points": [[0, 0, 0], [1, 1]]}, r"\[x, score\] pair"),
        ({"kind": "rating", "min": 5, "max": 1}, "must be below max"),
        ({"kind": "rating", "min": 1, "max": 5, "anchors": ["x"]}, "anchors must be an object"),
        ([1, 2], "must be an object"),
    ],
)
def test_parse_rule_rejects_bad_data_clearly(data: Any, message: str) -> None:
    """Malformed rule data raises InvalidRule with a message that names the problem."""
    with pytest.raises(InvalidRule, match=message) as caught:
        parse_rule(data)
    assert caught.value.code == "INVALID_RULE"
