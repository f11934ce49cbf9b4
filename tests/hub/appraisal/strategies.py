"""Hypothesis strategies that build valid scoring rules together with the direction they score in."""

from __future__ import annotations

from hypothesis import strategies as st

from hub.appraisal import Band, BandsRule, LinearRule, LookupRule, RatingScaleRule, Rule
from hub.domain import Direction

# Raw values over the whole float range: clamping must hold even for absurd inputs.
raw_values = st.floats(allow_nan=False, allow_infinity=False)
# Rule parameters stay in a range where the gaps between them cannot overflow.
coordinates = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
scores = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
directions = st.sampled_from(list(Direction))


def _ordered_scores(draw: st.DrawFn, count: int, direction: Direction) -> list[float]:
    values = sorted(draw(st.lists(scores, min_size=count, max_size=count)))
    return values if direction is Direction.HIGHER_IS_BETTER else values[::-1]


@st.composite
def linear_rules(draw: st.DrawFn) -> tuple[Rule, Direction]:
    """A linear rule and the direction its floor and target imply."""
    floor, target = draw(st.lists(coordinates, min_size=2, max_size=2, unique=True))
    direction = Direction.HIGHER_IS_BETTER if target > floor else Direction.LOWER_IS_BETTER
    return LinearRule(floor, target), direction


@st.composite
def bands_rules(draw: st.DrawFn) -> tuple[Rule, Direction]:
    """A bands rule whose scores go the drawn direction's way."""
    direction = draw(directions)
    thresholds = sorted(draw(st.lists(coordinates, min_size=1, max_size=6, unique=True)))
    band_scores = _ordered_scores(draw, len(thresholds), direction)
    return BandsRule(tuple(Band(t, s) for t, s in zip(thresholds, band_scores, strict=True))), direction


@st.composite
def lookup_rules(draw: st.DrawFn) -> tuple[Rule, Direction]:
    """A lookup rule whose scores go the drawn direction's way."""
    direction = draw(directions)
    xs = sorted(draw(st.lists(coordinates, min_size=2, max_size=6, unique=True)))
    ys = _ordered_scores(draw, len(xs), direction)
    return LookupRule(tuple(zip(xs, ys, strict=True))), direction


@st.composite
def rating_rules(draw: st.DrawFn) -> tuple[Rule, Direction]:
    """A rating scale with min below max, in either direction."""
    low, high = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2, unique=True)))
    return RatingScaleRule(low, high), draw(directions)


any_rule = st.one_of(linear_rules(), bands_rules(), lookup_rules(), rating_rules())
