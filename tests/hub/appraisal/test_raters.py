"""Combining 360-degree ratings across rater roles."""

from __future__ import annotations

import math

import pytest

from hub.appraisal import InvalidConfiguration, InvalidValue, combine_ratings
from hub.domain import RaterRole

MANAGER, PEER, SELF, SUBORDINATE = RaterRole.MANAGER, RaterRole.PEER, RaterRole.SELF, RaterRole.SUBORDINATE
WEIGHTS = {MANAGER: 50.0, PEER: 30.0, SELF: 20.0}


def test_mean_per_role_then_weighted_by_role() -> None:
    """Manager 4, peers (3, 5, 4) -> 4, self 5: (4*50 + 4*30 + 5*20) / 100 = 4.2."""
    combined = combine_ratings({MANAGER: [4.0], PEER: [3.0, 5.0, 4.0], SELF: [5.0]}, WEIGHTS)
    assert combined == pytest.approx(4.2)


def test_a_role_without_ratings_is_left_out_and_the_rest_reweighted() -> None:
    """Without peer ratings, manager 4 and self 5 weigh 50:20: (200 + 100) / 70 = 4.2857."""
    combined = combine_ratings({MANAGER: [4.0], PEER: [], SELF: [5.0]}, WEIGHTS)
    assert combined == pytest.approx(300.0 / 70.0)


def test_nobody_rated_gives_none() -> None:
    """With no ratings at all there is no combined rating."""
    assert combine_ratings({}, WEIGHTS) is None
    assert combine_ratings({MANAGER: [], PEER: []}, WEIGHTS) is None


def test_a_role_without_a_weight_does_not_count() -> None:
    """Subordinate ratings are ignored when the scheme gives subordinates no weight."""
    assert combine_ratings({MANAGER: [3.0], SUBORDINATE: [5.0]}, WEIGHTS) == pytest.approx(3.0)
    assert combine_ratings({SUBORDINATE: [5.0]}, WEIGHTS) is None


def test_bad_weights_and_ratings_are_refused() -> None:
    """A negative role weight or a nan rating raises."""
    with pytest.raises(InvalidConfiguration):
        combine_ratings({MANAGER: [3.0]}, {MANAGER: -1.0})
    with pytest.raises(InvalidValue):
        combine_ratings({MANAGER: [math.nan]}, WEIGHTS)
