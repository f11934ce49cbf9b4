"""360-degree ratings: combine the ratings of self, manager, peers and subordinates into one score."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from hub.appraisal.errors import InvalidConfiguration, InvalidValue
from hub.domain import RaterRole


def combine_ratings(
    scores_by_role: Mapping[RaterRole, Sequence[float]],
    role_weights: Mapping[RaterRole, float],
) -> float | None:
    """Average each role's ratings, then weight the roles; None when no role that counts has rated.

    Role weights need not add up to 100: only the roles that rated share the weight, so a missing
    peer review does not drag the score down. A role absent from ``role_weights`` counts 0 (its
    ratings are collected for the conversation, not for the score, e.g. a self-rating).
    """
    for role, weight in role_weights.items():
        if not (math.isfinite(weight) and weight >= 0):
            raise InvalidConfiguration(f"the weight of {role.value} raters must be 0 or more, got {weight!r}")
    weighted_sum = 0.0
    weight_sum = 0.0
    for role, ratings in scores_by_role.items():
        weight = role_weights.get(role, 0.0)
        if not ratings or weight == 0.0:
            continue
        for rating in ratings:
            if not math.isfinite(rating):
                raise InvalidValue(f"a {role.value} rating must be a finite number, got {rating!r}")
        weighted_sum += weight * math.fsum(ratings) / len(ratings)
        weight_sum += weight
    if weight_sum == 0.0:
        return None
    return weighted_sum / weight_sum
