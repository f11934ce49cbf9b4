"""Grades and standing: map a 0-100 total to a grade, and rank a group with percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from hub.appraisal.errors import InvalidConfiguration, InvalidValue
from hub.domain import Grade


@dataclass(frozen=True, slots=True)
class GradeBands:
    """Lower bounds of each grade on the 0-100 scale; below ``c`` is D. One set for every post."""

    s: float = 90.0
    a: float = 80.0
    b: float = 70.0
    c: float = 60.0

    def __post_init__(self) -> None:
        bounds = (self.s, self.a, self.b, self.c)
        if not all(math.isfinite(x) and 0.0 <= x <= 100.0 for x in bounds):
            raise InvalidConfiguration(f"grade lower bounds must lie in 0..100, got {bounds}")
        if not all(upper > lower for upper, lower in pairwise(bounds)):
            raise InvalidConfiguration(f"grade lower bounds must strictly decrease from S to C, got {bounds}")

    def grade(self, total: float) -> Grade:
        """Return the grade whose band holds ``total`` (a bound itself belongs to the higher grade)."""
        if not math.isfinite(total):
            raise InvalidValue(f"a total must be a finite number, got {total!r}")
        if total >= self.s:
            return Grade.S
        if total >= self.a:
            return Grade.A
        if total >= self.b:
            return Grade.B
        if total >= self.c:
            return Grade.C
        return Grade.D

    def lower_bounds(self) -> dict[Grade, float]:
        """Return the lower bound of each grade (D starts at 0)."""
        return {Grade.S: self.s, Grade.A: self.a, Grade.B: self.b, Grade.C: self.c, Grade.D: 0.0}


def rank_and_percentile(values: Sequence[float]) -> list[tuple[int, float]]:
    """Rank a group best first and give each member's percentile, in the input's order; O(n log n).

    Rank is competition ranking: 1 is the highest value and ties share the best rank of their
    block, so 95, 90, 90, 80 rank 1, 2, 2, 4 ("1224").

    Percentile is the classic percentile rank, ``100 * (below + equal / 2) / n``, where ``below``
    counts members scoring strictly lower and ``equal`` counts members with the same value, the
    member itself included. It lies strictly inside 0..100: a group of one is at 50, and the best
    of 100 distinct values is at 99.5. Higher values always get a better rank and a higher percentile.
    """
    n = len(values)
    for value in values:
        if not math.isfinite(value):
            raise InvalidValue(f"cannot rank a non-finite value {value!r}")
    order = sorted(range(n), key=values.__getitem__)  # ascending
    result: list[tuple[int, float]] = [(0, 0.0)] * n
    start = 0
    while start < n:
        value = values[order[start]]
        end = start + 1
        while end < n and values[order[end]] == value:
            end += 1
        # order[start:end] is one block of ties; start members are below it, n - end above it.
        rank = n - end + 1
        percentile = 100.0 * (start + (end - start) / 2.0) / n
        for i in range(start, end):
            result[order[i]] = (rank, percentile)
        start = end
    return result
