"""Grade bands, and ranks and percentiles within a group, by example and by property."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.appraisal import GradeBands, InvalidConfiguration, InvalidValue, rank_and_percentile
from hub.domain import Grade


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        (100.0, Grade.S),
        (90.0, Grade.S),
        (89.99, Grade.A),
        (80.0, Grade.A),
        (70.0, Grade.B),
        (60.0, Grade.C),
        (59.99, Grade.D),
        (0.0, Grade.D),
    ],
)
def test_default_grade_bands(total: float, grade: Grade) -> None:
    """Default bands: S >= 90, A >= 80, B >= 70, C >= 60, else D; a bound belongs to the higher grade."""
    assert GradeBands().grade(total) is grade


def test_custom_grade_bands_are_validated() -> None:
    """Custom bounds apply, and bounds that do not strictly decrease or leave 0..100 are refused."""
    assert GradeBands(s=95, a=85, b=75, c=50).grade(90.0) is Grade.A
    with pytest.raises(InvalidConfiguration, match="strictly decrease"):
        GradeBands(s=90, a=90, b=70, c=60)
    with pytest.raises(InvalidConfiguration, match=r"0\.\.100"):
        GradeBands(s=120)
    with pytest.raises(InvalidValue):
        GradeBands().grade(math.nan)


def test_competition_ranking_1224() -> None:
    """95, 90, 90, 80 rank 1, 2, 2, 4 and the result follows the input order."""
    result = rank_and_percentile([90.0, 80.0, 95.0, 90.0])
    assert [rank for rank, _ in result] == [2, 4, 1, 2]


def test_percentile_is_share_below_plus_half_the_ties() -> None:
    """For 95, 90, 90, 80: 80 -> (0 + 0.5)/4 = 12.5, 90 -> (1 + 1)/4 = 50, 95 -> (3 + 0.5)/4 = 87.5."""
    percentiles = [p for _, p in rank_and_percentile([95.0, 90.0, 80.0, 90.0])]
    assert percentiles == [87.5, 50.0, 12.5, 50.0]
    assert rank_and_percentile([70.0]) == [(1, 50.0)]
    assert rank_and_percentile([]) == []


def test_rank_and_percentile_scales_to_100000() -> None:
    """A group of 100,000 is ranked (O(n log n)) and the best and worst land where expected."""
    rng = random.Random(7)
    values = [rng.uniform(0, 100) for _ in range(100_000)]
    result = rank_and_percentile(values)
    best, worst = values.index(max(values)), values.index(min(values))
    assert result[best][0] == 1 and result[best][1] == pytest.approx(99.9995)
    assert result[worst][0] == 100_000 and result[worst][1] == pytest.approx(0.0005)


def test_non_finite_values_cannot_be_ranked() -> None:
    """A nan in the group raises instead of producing an arbitrary order."""
    with pytest.raises(InvalidValue):
        rank_and_percentile([1.0, math.nan])


# Few distinct values, so that ties are common.
groups = st.lists(st.integers(0, 8).map(lambda x: x * 12.5), min_size=1, max_size=40)


@given(groups)
def test_rank_and_percentile_match_their_definition(values: list[float]) -> None:
    """Rank is 1 + the number strictly above; percentile is 100 * (below + equal / 2) / n."""
    n = len(values)
    for value, (rank, percentile) in zip(values, rank_and_percentile(values), strict=True):
        above = sum(1 for v in values if v > value)
        below = sum(1 for v in values if v < value)
        equal = n - above - below
        assert rank == 1 + above
        assert percentile == pytest.approx(100.0 * (below + equal / 2) / n)
        assert 0.0 < percentile < 100.0


@given(groups)
def test_a_higher_value_never_ranks_worse(values: list[float]) -> None:
    """A strictly higher value gets a strictly better rank and percentile; ties share both."""
    result = rank_and_percentile(values)
    for i, (vi, (ri, pi)) in enumerate(zip(values, result, strict=True)):
        for vj, (rj, pj) in zip(values[i + 1 :], result[i + 1 :], strict=True):
            if vi > vj:
                assert ri < rj and pi > pj
            elif vi == vj:
                assert (ri, pi) == (rj, pj)
