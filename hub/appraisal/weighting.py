"""Weights: check that a scheme's weights add up to 100 and combine item scores into a total."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hub.appraisal.errors import InvalidValue, NonPositiveWeight, ScoringBlocked, WeightsDoNotSum
from hub.domain import MissingPolicy

WEIGHT_TOTAL = 100.0
WEIGHT_TOLERANCE = 1e-6


def validate_weights(weights: Sequence[float]) -> None:
    """Raise WeightsDoNotSum unless every weight is above 0 and together they add up to 100."""
    total = math.fsum(weights)
    for index, weight in enumerate(weights):
        if not (math.isfinite(weight) and weight > 0):
            raise NonPositiveWeight(total, index, weight)
    if abs(total - WEIGHT_TOTAL) > WEIGHT_TOLERANCE:
        raise WeightsDoNotSum(total)


@dataclass(frozen=True, slots=True)
class WeightedInput:
    """One scheme item for one employee: its 0-100 score (None = missing), weight and missing policy."""

    score: float | None
    weight: float
    missing: MissingPolicy


@dataclass(frozen=True, slots=True)
class WeightedTotal:
    """A total on the 0-100 scale with, per item, the weight it really carried and what it added."""

    total: float
    # Aligned with the inputs. An excluded item carries 0; the others are scaled back up to 100.
    effective_weights: tuple[float, ...]
    weighted_scores: tuple[float, ...]
    # The score each item counted with: None when excluded, 0 when missing under ZERO.
    counted_scores: tuple[float | None, ...]
    excluded: tuple[int, ...]


def weighted_total(items: Sequence[WeightedInput]) -> WeightedTotal:
    """Combine item scores into a total, applying each item's missing policy (ZERO, EXCLUDE, BLOCK)."""
    validate_weights([item.weight for item in items])
    counted: list[float | None] = []
    kept_weight = 0.0
    for index, item in enumerate(items):
        value = item.score
        if value is None:
            if item.missing is MissingPolicy.BLOCK:
                raise ScoringBlocked(index)
            if item.missing is MissingPolicy.EXCLUDE:
                counted.append(None)
                continue
            value = 0.0
        elif not (math.isfinite(value) and 0.0 <= value <= 100.0):
            raise InvalidValue(f"item #{index} score {value!r} is not on the 0-100 scale")
        counted.append(value)
        kept_weight += item.weight
    if kept_weight <= 0.0:
        raise ScoringBlocked(None)
    # With nothing excluded the weights are used as given (they already add up to 100);
    # otherwise the kept ones are scaled so that they add up to 100 again.
    scale = 1.0 if None not in counted else WEIGHT_TOTAL / kept_weight
    effective = tuple(0.0 if c is None else item.weight * scale for c, item in zip(counted, items, strict=True))
    weighted = tuple(0.0 if c is None else c * w / WEIGHT_TOTAL for c, w in zip(counted, effective, strict=True))
    return WeightedTotal(
        total=clamp_total(math.fsum(weighted)),
        effective_weights=effective,
        weighted_scores=weighted,
        counted_scores=tuple(counted),
        excluded=tuple(i for i, c in enumerate(counted) if c is None),
    )


def clamp_total(total: float) -> float:
    """Keep a sum of weighted scores on the 0-100 scale despite float rounding (100.00000000000001)."""
    return 0.0 if total < 0.0 else WEIGHT_TOTAL if total > WEIGHT_TOTAL else total
