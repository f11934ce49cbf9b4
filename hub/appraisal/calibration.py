"""Calibration: check a group's grade distribution against the share each grade may take."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.appraisal.errors import InvalidConfiguration
from hub.domain import Grade

# A share computed as 1/10 must not breach a limit of 0.1 because of float rounding.
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class DistributionWarning:
    """A grade given to more of the group than allowed; shares are fractions (0.1 is 10%)."""

    grade: Grade
    share: float
    limit: float
    count: int
    allowed_count: int  # the most employees the grade may hold in this group

    def message(self, group: str) -> str:
        """For people: ``group`` names the group checked, e.g. "the cycle" or "post Security guard"."""
        results = round(self.count / self.share) if self.share else self.count
        return (
            f"grade {self.grade.value} is given to {self.count} of {results} results in {group} "
            f"({self.share:.0%}), above the target of {self.limit:.0%}: at most {self.allowed_count}"
        )


def check_distribution(grades: Sequence[Grade], max_share: Mapping[Grade, float]) -> list[DistributionWarning]:
    """Return the grades whose share of ``grades`` exceeds their limit, best grade first.

    ``max_share`` holds fractions in 0..1, e.g. {Grade.S: 0.1} for "at most 10% S"; grades without a
    limit are not checked. An empty group breaches nothing.
    """
    for grade, limit in max_share.items():
        if not (math.isfinite(limit) and 0.0 <= limit <= 1.0):
            raise InvalidConfiguration(
                f"the limit for grade {grade.value} must be a fraction in 0..1 (10% is 0.1), got {limit!r}"
            )
    n = len(grades)
    if n == 0:
        return []
    counts = Counter(grades)
    breaches = []
    for grade in Grade:  # enum order is best first
        cap = max_share.get(grade)
        if cap is None:
            continue
        share = counts[grade] / n
        if share > cap + SHARE_TOLERANCE:
            allowed = math.floor(cap * n + SHARE_TOLERANCE)
            breaches.append(DistributionWarning(grade, share, cap, counts[grade], allowed))
    return breaches
