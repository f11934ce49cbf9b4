"""Scheme diagnostics: tell from a cycle's scores whether each indicator actually measures anything."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

# Scores within this distance of 100 (or 0) count as at the ceiling (or floor).
EDGE_EPSILON = 1e-9
# Warn when at least this share of scored employees sits at the ceiling: the indicator cannot tell them apart.
CEILING_SHARE_WARNING = 0.5
# Warn when at least this share sits at the floor: the target is out of reach or the data is wrong.
FLOOR_SHARE_WARNING = 0.5
# Warn below this standard deviation (points on the 0-100 scale): everyone gets about the same.
LOW_STDDEV_WARNING = 5.0
# Warn when |correlation with the total| is below this: the indicator is unrelated to performance.
LOW_CORRELATION_WARNING = 0.1
# Warn when the correlation is below this: the indicator rewards what the rest of the scheme penalises.
NEGATIVE_CORRELATION_WARNING = -0.1
# Warn when at least this share of employees has no value.
MISSING_RATE_WARNING = 0.2
# Below this many scored employees the statistics say little; say so instead of judging.
MIN_SAMPLE = 5

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class IndicatorDiagnostics:
    """How one indicator behaved in a cycle; shares and rates are fractions (0.4 is 40%)."""

    count: int  # employees with a score
    mean: float | None
    stddev: float | None  # population standard deviation, in points on the 0-100 scale
    ceiling_share: float | None
    floor_share: float | None
    correlation: float | None  # Pearson, with the total; None when undefined (no spread, < 2 pairs)
    missing_rate: float
    flags: list[str] = field(default_factory=list)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Return the Pearson correlation of two equal-length series, or None when it is undefined."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"{n} x values but {len(ys)} y values; they must line up")
    if n < 2:
        return None
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    syy = math.fsum((y - mean_y) ** 2 for y in ys)
    if sxx <= 0.0 or syy <= 0.0:
        return None
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    # Rounding can push |r| a hair past 1.
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def diagnose_indicator(scores: Sequence[float | None], totals: Sequence[float | None]) -> IndicatorDiagnostics:
    """Diagnose one indicator from its normalised scores (None = missing) and the employees' totals."""
    if len(scores) != len(totals):
        raise ValueError(f"{len(scores)} scores but {len(totals)} totals; they must line up by employee")
    n = len(scores)
    present = [s for s in scores if s is not None]
    count = len(present)
    missing_rate = (n - count) / n if n else 0.0
    flags: list[str] = []
    if n and missing_rate >= MISSING_RATE_WARNING:
        flags.append(f"data missing for {_percent(missing_rate)} of employees")
    if count == 0:
        return IndicatorDiagnostics(0, None, None, None, None, None, missing_rate, flags or ["no scores at all"])

    mean = math.fsum(present) / count
    stddev = math.sqrt(math.fsum((s - mean) ** 2 for s in present) / count)
    ceiling_share = sum(1 for s in present if s >= 100.0 - EDGE_EPSILON) / count
    floor_share = sum(1 for s in present if s <= EDGE_EPSILON) / count
    pairs = [(s, t) for s, t in zip(scores, totals, strict=True) if s is not None and t is not None]
    correlation = pearson([s for s, _ in pairs], [t for _, t in pairs])

    if count < MIN_SAMPLE:
        flags.append(f"too few scores to judge ({count})")
    else:
        if ceiling_share >= CEILING_SHARE_WARNING:
            flags.append(f"does not discriminate: {_percent(ceiling_share)} of employees score at the ceiling")
        if floor_share >= FLOOR_SHARE_WARNING:
            flags.append(f"too hard or broken: {_percent(floor_share)} of employees score at the floor")
        if stddev < LOW_STDDEV_WARNING:
            flags.append(f"almost no spread (stddev {stddev:.1f} on a 0-100 scale)")
        if correlation is not None:
            if correlation < NEGATIVE_CORRELATION_WARNING:
                flags.append(f"moves against the total (correlation {correlation:.2f})")
            elif abs(correlation) < LOW_CORRELATION_WARNING:
                flags.append(f"unrelated to the total (correlation {correlation:.2f})")
    return IndicatorDiagnostics(count, mean, stddev, ceiling_share, floor_share, correlation, missing_rate, flags)


def diagnose_scheme(
    columns: Mapping[K, Sequence[float | None]], totals: Sequence[float | None]
) -> dict[K, IndicatorDiagnostics]:
    """Diagnose every indicator of a scheme; ``columns`` maps an indicator to its scores by employee."""
    return {key: diagnose_indicator(column, totals) for key, column in columns.items()}
