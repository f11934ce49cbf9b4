"""Scoring rules: turn an indicator's raw value into a score on the one 0-100 scale."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeAlias

from hub.appraisal.errors import InvalidRule, InvalidValue, NotAScalePoint

MIN_SCORE = 0.0
MAX_SCORE = 100.0


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise InvalidRule(f"{what} must be a finite number, got {value!r}")


def _score_in_range(value: float, what: str) -> None:
    _finite(value, what)
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise InvalidRule(f"{what} must be between 0 and 100, got {value:g}")


def _monotone(scores: list[float]) -> bool:
    # Direction is a property of the indicator, not of the rule, so the rule alone only knows
    # that it must go one way; compile_rule() later checks that it goes the indicator's way.
    pairs = list(pairwise(scores))
    return all(a <= b for a, b in pairs) or all(a >= b for a, b in pairs)


@dataclass(frozen=True, slots=True)
class LinearRule:
    """0 at ``floor``, 100 at ``target``, linear between and clamped outside."""

    floor: float
    target: float

    def __post_init__(self) -> None:
        _finite(self.floor, "linear rule floor")
        _finite(self.target, "linear rule target")
        if self.floor == self.target:
            raise InvalidRule(f"linear rule floor and target are both {self.floor:g}; they must differ")
        _finite(self.target - self.floor, "the distance from linear floor to target")

    def to_dict(self) -> dict[str, object]:
        """Return the rule as JSON-ready data that parse_rule() reads back."""
        return {"kind": "linear", "floor": self.floor, "target": self.target}


@dataclass(frozen=True, slots=True)
class Band:
    """One step of a banded rule: ``score`` applies from ``threshold`` on."""

    threshold: float
    score: float

    def __post_init__(self) -> None:
        _finite(self.threshold, "band threshold")
        _score_in_range(self.score, f"band score at threshold {self.threshold:g}")


@dataclass(frozen=True, slots=True)
class BandsRule:
    """Banded thresholds; the bands are kept sorted by threshold whatever order they came in."""

    bands: tuple[Band, ...]

    def __post_init__(self) -> None:
        if not self.bands:
            raise InvalidRule("a bands rule needs at least one band")
        ordered = tuple(sorted(self.bands, key=lambda band: band.threshold))
        for lower, upper in pairwise(ordered):
            if lower.threshold == upper.threshold:
                raise InvalidRule(f"two bands share the threshold {lower.threshold:g}")
        if not _monotone([band.score for band in ordered]):
            raise InvalidRule("band scores must rise (or fall) steadily with the threshold")
        object.__setattr__(self, "bands", ordered)

    def to_dict(self) -> dict[str, object]:
        """Return the rule as JSON-ready data that parse_rule() reads back."""
        return {"kind": "bands", "bands": [{"threshold": b.threshold, "score": b.score} for b in self.bands]}


@dataclass(frozen=True, slots=True)
class LookupRule:
    """Piecewise-linear interpolation between (x, score) points, clamped at both ends."""

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise InvalidRule("a lookup rule needs at least two points")
        try:
            ordered = tuple(sorted((float(x), float(s)) for x, s in self.points))
        except (TypeError, ValueError):
            raise InvalidRule(f"lookup points must be (x, score) pairs of numbers, got {self.points!r}") from None
        for x, s in ordered:
            _finite(x, "lookup point x")
            _score_in_range(s, f"lookup score at x={x:g}")
        for (x0, _), (x1, _) in pairwise(ordered):
            if x0 == x1:
                raise InvalidRule(f"two lookup points share x={x0:g}")
            # Interpolation divides by the gap; an overflowing gap would turn scores into nan.
            _finite(x1 - x0, f"the gap between lookup points x={x0:g} and x={x1:g}")
        if not _monotone([s for _, s in ordered]):
            raise InvalidRule("lookup scores must rise (or fall) steadily with x")
        object.__setattr__(self, "points", ordered)

    def to_dict(self) -> dict[str, object]:
        """Return the rule as JSON-ready data that parse_rule() reads back."""
        return {"kind": "lookup", "points": [[x, s] for x, s in self.points]}


@dataclass(frozen=True, slots=True)
class RatingScaleRule:
    """A rating scale from ``min`` to ``max`` with behavioural anchors (BARS), rescaled to 0-100.

    What a rater may give: with ``step``, the points ``min``, ``min + step``, ... ``max``; else, with
    anchors, the anchor points alone (a 3.5 between two described behaviours describes neither); else any
    value from ``min`` to ``max``. Scores are computed from means of ratings, which may lie anywhere.
    """

    min: float
    max: float
    # Scale point (as text, e.g. "3") -> the behaviour that earns it; shown to raters, not scored.
    anchors: Mapping[str, str] = field(default_factory=dict, hash=False)
    step: float | None = None
    """The distance between the points a rater may give (0.5 allows 3.5 on a 1-5 scale); None: see above."""

    def __post_init__(self) -> None:
        _finite(self.min, "rating scale min")
        _finite(self.max, "rating scale max")
        if self.min >= self.max:
            raise InvalidRule(f"rating scale min ({self.min:g}) must be below max ({self.max:g})")
        _finite(self.max - self.min, "the width of the rating scale")
        if self.step is not None:
            _finite(self.step, "rating scale step")
            if self.step <= 0 or not _on_grid(self.max, self.min, self.step):
                raise InvalidRule(
                    f"rating scale step {self.step:g} must be above 0 and divide {self.min:g}..{self.max:g} evenly"
                )
        for point, behaviour in self.anchors.items():
            try:
                value = float(point)
            except (TypeError, ValueError):
                raise InvalidRule(f"rating anchor {point!r} is not a point on the scale") from None
            if not self.min <= value <= self.max:
                raise InvalidRule(f"rating anchor {point!r} is outside the scale {self.min:g}..{self.max:g}")
            if not isinstance(behaviour, str) or not behaviour.strip():
                raise InvalidRule(f"rating anchor {point!r} needs a behaviour description")
            if self.step is not None and not _on_grid(value, self.min, self.step):
                raise InvalidRule(f"rating anchor {point!r} is not a step of {self.step:g} from {self.min:g}")
        # A private copy, so that mutating the caller's dict cannot change a frozen rule.
        object.__setattr__(self, "anchors", dict(self.anchors))

    def to_dict(self) -> dict[str, object]:
        """Return the rule as JSON-ready data that parse_rule() reads back."""
        data: dict[str, object] = {"kind": "rating", "min": self.min, "max": self.max, "anchors": dict(self.anchors)}
        if self.step is not None:
            data["step"] = self.step
        return data


def _on_grid(value: float, start: float, step: float) -> bool:
    """Whether ``value`` is a whole number of ``step`` from ``start`` (up to float rounding: 0.1 * 3)."""
    steps = (value - start) / step
    return math.isfinite(steps) and abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps))


Rule: TypeAlias = LinearRule | BandsRule | LookupRule | RatingScaleRule


def validate_rating(rule: RatingScaleRule, value: float) -> None:
    """Raise InvalidValue unless ``value`` is a finite point on the rating scale (use at submission)."""
    if not math.isfinite(value):
        raise InvalidValue(f"a rating must be a finite number, got {value!r}")
    if not rule.min <= value <= rule.max:
        raise InvalidValue(f"a rating must be between {rule.min:g} and {rule.max:g}, got {value:g}")


def validate_rating_point(rule: RatingScaleRule, value: float) -> None:
    """Raise InvalidValue unless ``value`` is a rating a rater may give on the scale (use at submission): on
    it, and on one of its steps or, without steps, one of its anchor points (``NotAScalePoint``)."""
    validate_rating(rule, value)
    if rule.step is not None and not _on_grid(value, rule.min, rule.step):
        raise NotAScalePoint(f"a rating on this scale moves in steps of {rule.step:g} from {rule.min:g}, got {value:g}")
    if rule.step is None and rule.anchors and not any(math.isclose(value, float(p)) for p in rule.anchors):
        points = ", ".join(sorted(rule.anchors, key=float))
        raise NotAScalePoint(f"a rating must be one of the scale's anchor points ({points}), got {value:g}")


RULE_KINDS = ("linear", "bands", "lookup", "rating")


def _number(value: object, what: str) -> float:
    # bool is an int subclass; a JSON true where a number belongs is a mistake, not 1.0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRule(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # a JSON integer such as 10**400, past the largest float
        raise InvalidRule(f"{what} must be a finite number, got an integer past the largest float") from None


def _keys(data: Mapping[str, object], kind: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    missing = [key for key in required if key not in data]
    if missing:
        raise InvalidRule(f"{kind} rule is missing {', '.join(repr(k) for k in missing)}")
    # Unknown keys are refused so that a typo ("flor") is not silently ignored.
    unknown = sorted(set(data) - {"kind", *required, *optional})
    if unknown:
        raise InvalidRule(f"{kind} rule has unknown key(s) {', '.join(repr(k) for k in unknown)}")


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list | tuple):
        raise InvalidRule(f"{what} must be a list, got {value!r}")
    return list(value)


def parse_rule(data: Mapping[str, object]) -> Rule:
    """Build a rule from its stored data, e.g. {"kind": "linear", "floor": 5, "target": 0.5}."""
    if not isinstance(data, Mapping):
        raise InvalidRule(f"a rule must be an object with a 'kind' key, got {data!r}")
    kind = data.get("kind")
    if kind == "linear":
        _keys(data, kind, ("floor", "target"))
        return LinearRule(_number(data["floor"], "linear floor"), _number(data["target"], "linear target"))
    if kind == "bands":
        _keys(data, kind, ("bands",))
        bands = []
        for i, item in enumerate(_list(data["bands"], "bands")):
            if not isinstance(item, Mapping) or set(item) != {"threshold", "score"}:
                raise InvalidRule(f"band #{i} must be an object with 'threshold' and 'score', got {item!r}")
            bands.append(
                Band(
                    _number(item["threshold"], f"band #{i} threshold"),
                    _number(item["score"], f"band #{i} score"),
                )
            )
        return BandsRule(tuple(bands))
    if kind == "lookup":
        _keys(data, kind, ("points",))
        points = []
        for i, item in enumerate(_list(data["points"], "lookup points")):
            pair = _list(item, f"lookup point #{i}")
            if len(pair) != 2:
                raise InvalidRule(f"lookup point #{i} must be an [x, score] pair, got {item!r}")
            points.append((_number(pair[0], f"lookup point #{i} x"), _number(pair[1], f"lookup point #{i} score")))
        return LookupRule(tuple(points))
    if kind == "rating":
        _keys(data, kind, ("min", "max"), ("anchors", "step"))
        anchors = data.get("anchors", {})
        if not isinstance(anchors, Mapping):
            raise InvalidRule(f"rating anchors must be an object of scale point -> behaviour, got {anchors!r}")
        step = _number(data["step"], "rating step") if data.get("step") is not None else None
        low, high = _number(data["min"], "rating min"), _number(data["max"], "rating max")
        return RatingScaleRule(low, high, dict(anchors), step)
    expected = ", ".join(f'"{k}"' for k in RULE_KINDS)
    raise InvalidRule(f"rule kind must be one of {expected}; got {kind!r}")
