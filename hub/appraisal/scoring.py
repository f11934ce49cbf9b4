"""Apply scoring rules: check a rule against its indicator's direction and score raw values 0-100."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import pairwise
from typing import TypeAlias

from hub.appraisal.errors import InvalidRule, InvalidValue
from hub.appraisal.rules import BandsRule, LinearRule, LookupRule, Rule, validate_rating
from hub.domain import Direction

Scorer: TypeAlias = Callable[[float], float]
"""A rule compiled for one direction: raw value in, score in 0..100 out."""


def _check_direction(rule: Rule, direction: Direction) -> None:
    higher = direction is Direction.HIGHER_IS_BETTER
    if isinstance(rule, LinearRule):
        if (rule.target > rule.floor) != higher:
            expected = "above" if higher else "below"
            raise InvalidRule(
                f"for {direction.value} the linear target ({rule.target:g}) must be {expected} "
                f"the floor ({rule.floor:g})"
            )
        return
    if isinstance(rule, BandsRule):
        scores = [band.score for band in rule.bands]
    elif isinstance(rule, LookupRule):
        scores = [s for _, s in rule.points]
    else:
        return  # a rating scale is rescaled the indicator's way, whichever it is
    steps = list(pairwise(scores))
    if not all((a <= b) if higher else (a >= b) for a, b in steps):
        way = "rise" if higher else "fall"
        raise InvalidRule(f"for {direction.value} the scores must {way} as the raw value rises")


def compile_rule(rule: Rule, direction: Direction) -> Scorer:
    """Check the rule against the direction once and return a fast raw -> score function."""
    _check_direction(rule, direction)
    isfinite = math.isfinite
    higher = direction is Direction.HIGHER_IS_BETTER

    def _non_finite(raw: float) -> InvalidValue:
        return InvalidValue(f"a raw value must be a finite number, got {raw!r}")

    if isinstance(rule, LinearRule):
        floor, span = rule.floor, rule.target - rule.floor

        def linear(raw: float) -> float:
            if not isfinite(raw):
                raise _non_finite(raw)
            # Dividing (not multiplying by 1/span) makes the target score exactly 100.
            score = (raw - floor) / span * 100.0
            return 0.0 if score < 0.0 else 100.0 if score > 100.0 else score

        return linear

    if isinstance(rule, BandsRule):
        thresholds = [band.threshold for band in rule.bands]
        band_scores = [band.score for band in rule.bands]
        count = len(thresholds)

        def bands(raw: float) -> float:
            if not isfinite(raw):
                raise _non_finite(raw)
            if higher:  # highest threshold <= raw
                i = bisect_right(thresholds, raw) - 1
                return band_scores[i] if i >= 0 else 0.0
            i = bisect_left(thresholds, raw)  # lowest threshold >= raw
            return band_scores[i] if i < count else 0.0

        return bands

    if isinstance(rule, LookupRule):
        xs = [x for x, _ in rule.points]
        ys = [s for _, s in rule.points]
        last = len(xs) - 1

        def lookup(raw: float) -> float:
            if not isfinite(raw):
                raise _non_finite(raw)
            if raw <= xs[0]:
                return ys[0]
            if raw >= xs[last]:
                return ys[last]
            i = bisect_right(xs, raw)
            x0, y0, y1 = xs[i - 1], ys[i - 1], ys[i]
            score = y0 + (y1 - y0) * ((raw - x0) / (xs[i] - x0))
            # Rounding could overshoot the segment's end by an ulp and break monotonicity.
            low, high = (y0, y1) if y0 <= y1 else (y1, y0)
            return low if score < low else high if score > high else score

        return lookup

    low_end, high_end = rule.min, rule.max
    width = high_end - low_end

    def rating(raw: float) -> float:
        if not isfinite(raw) or not low_end <= raw <= high_end:
            validate_rating(rule, raw)
        return ((raw - low_end) if higher else (high_end - raw)) / width * 100.0

    return rating


def score(rule: Rule, raw: float, direction: Direction) -> float:
    """Score one raw value on the 0-100 scale (compile_rule() is the fast path for many values)."""
    return compile_rule(rule, direction)(raw)
