"""Weights adding up to 100, and totals under each missing policy, by example and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.appraisal import (
    NonPositiveWeight,
    ScoringBlocked,
    WeightedInput,
    WeightsDoNotSum,
    validate_weights,
    weighted_total,
)
from hub.domain import MissingPolicy

ZERO, EXCLUDE, BLOCK = MissingPolicy.ZERO, MissingPolicy.EXCLUDE, MissingPolicy.BLOCK


def test_validate_weights_accepts_100_within_tolerance() -> None:
    """Weights adding up to 100 (give or take float rounding) pass."""
    validate_weights([30.0, 70.0])
    validate_weights([100 / 3, 100 / 3, 100 / 3])


def test_validate_weights_refuses_a_wrong_sum() -> None:
    """Weights adding up to 99 raise WeightsDoNotSum carrying the total."""
    with pytest.raises(WeightsDoNotSum) as caught:
        validate_weights([30.0, 69.0])
    assert caught.value.total == 99.0
    assert caught.value.code == "WEIGHTS_DO_NOT_SUM"


@pytest.mark.parametrize("weights", [[0.0, 100.0], [-10.0, 110.0], [math.nan, 100.0]])
def test_validate_weights_refuses_non_positive_weights(weights: list[float]) -> None:
    """A zero, negative or nan weight is refused even when the sum is 100."""
    with pytest.raises(NonPositiveWeight) as caught:
        validate_weights(weights)
    assert caught.value.index == 0
    assert isinstance(caught.value, WeightsDoNotSum)


def test_all_present_uses_weights_as_given() -> None:
    """Scores 80 and 50 with weights 30 and 70 total 24 + 35 = 59."""
    result = weighted_total([WeightedInput(80.0, 30.0, ZERO), WeightedInput(50.0, 70.0, ZERO)])
    assert result.total == pytest.approx(59.0)
    assert result.effective_weights == (30.0, 70.0)
    assert result.weighted_scores == pytest.approx((24.0, 35.0))


def test_zero_policy_counts_a_missing_value_as_zero() -> None:
    """A missing ZERO item keeps its weight and adds 0: 80 * 30% + 0 * 70% = 24."""
    result = weighted_total([WeightedInput(80.0, 30.0, ZERO), WeightedInput(None, 70.0, ZERO)])
    assert result.total == pytest.approx(24.0)
    assert result.counted_scores == (80.0, 0.0)
    assert result.excluded == ()


def test_exclude_policy_rescales_the_other_weights() -> None:
    """Weights 20/30/50 with the 50 excluded become 40/60/0: 90 * 0.4 + 60 * 0.6 = 72."""
    result = weighted_total(
        [
            WeightedInput(90.0, 20.0, ZERO),
            WeightedInput(60.0, 30.0, EXCLUDE),
            WeightedInput(None, 50.0, EXCLUDE),
        ]
    )
    assert result.effective_weights == pytest.approx((40.0, 60.0, 0.0))
    assert result.weighted_scores == pytest.approx((36.0, 36.0, 0.0))
    assert result.total == pytest.approx(72.0)
    assert result.excluded == (2,)


def test_block_policy_blocks_scoring() -> None:
    """A missing BLOCK item raises ScoringBlocked naming the item."""
    with pytest.raises(ScoringBlocked) as caught:
        weighted_total([WeightedInput(90.0, 50.0, ZERO), WeightedInput(None, 50.0, BLOCK)])
    assert caught.value.index == 1


def test_everything_excluded_blocks_scoring() -> None:
    """When every item is missing and excluded there is nothing to score."""
    with pytest.raises(ScoringBlocked) as caught:
        weighted_total([WeightedInput(None, 50.0, EXCLUDE), WeightedInput(None, 50.0, EXCLUDE)])
    assert caught.value.index is None


@st.composite
def weighted_inputs(draw: st.DrawFn) -> list[WeightedInput]:
    """Between 1 and 10 items whose weights add up to 100, some missing under ZERO or EXCLUDE."""
    raw_weights = draw(st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=10))
    total = math.fsum(raw_weights)
    return [
        WeightedInput(
            draw(st.none() | st.floats(0.0, 100.0)),
            w / total * 100.0,
            draw(st.sampled_from([ZERO, EXCLUDE])),
        )
        for w in raw_weights
    ]


@given(weighted_inputs())
def test_total_is_the_weighted_sum(items: list[WeightedInput]) -> None:
    """The total equals the sum of counted score x effective weight / 100, and stays within 0..100."""
    assume(any(i.score is not None or i.missing is ZERO for i in items))
    result = weighted_total(items)
    expected = math.fsum(
        (s or 0.0) * w / 100.0 for s, w in zip(result.counted_scores, result.effective_weights, strict=True)
    )
    assert result.total == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= result.total <= 100.0


@given(weighted_inputs())
def test_reweighting_keeps_effective_weights_summing_to_100(items: list[WeightedInput]) -> None:
    """Whatever is excluded, the effective weights add up to 100 and excluded items carry 0."""
    assume(any(i.score is not None or i.missing is ZERO for i in items))
    result = weighted_total(items)
    assert math.fsum(result.effective_weights) == pytest.approx(100.0, abs=1e-6)
    for index in result.excluded:
        assert result.effective_weights[index] == 0.0
    # Rescaling keeps the kept weights in proportion to one another.
    kept = [(i.weight, w) for i, w in zip(items, result.effective_weights, strict=True) if w > 0]
    ratios = [eff / orig for orig, eff in kept]
    assert max(ratios) == pytest.approx(min(ratios))
