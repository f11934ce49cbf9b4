"""The demo's deterministic values: each employee's latent performance and their business-system metrics.

Each value is a pure function of its arguments, so that the seed and the demo business systems
(which serve the same metrics over HTTP) agree without sharing any state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from statistics import NormalDist

from hub.demo.indicators import METRICS

# The share of (employee, metric, period) values a demo business system has no record of.
MISSING_VALUE_SHARE = 0.02

_STANDARD_NORMAL = NormalDist()


def _unit(*parts: object) -> float:
    # A uniform draw in (0, 1) from a hash of the arguments, so that a value never depends on
    # the order in which anyone asked for it (unlike a shared random.Random).
    key = "|".join(str(part) for part in parts).encode()
    drawn = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    return (drawn + 0.5) / 2.0**64


def latent_performance(seed: int, employee_no: str) -> float:
    """An employee's underlying performance in (0, 1): what both the raters and the systems reflect."""
    z = _STANDARD_NORMAL.inv_cdf(_unit(seed, employee_no, "latent"))
    # Logistic of a shifted normal: a bell centred near 0.57, thinning towards both ends.
    return 1.0 / (1.0 + math.exp(-(0.3 + 0.85 * z)))


def demo_metric_value(seed: int, employee_no: str, metric: str, period_start: dt.date) -> float | None:
    """The value a demo business system reports for ``metric`` in the period, or None when it has none."""
    profile = METRICS.get(metric)
    if profile is None:
        raise ValueError(f"unknown demo metric {metric!r}; known: {', '.join(sorted(METRICS))}")
    period = period_start.isoformat()
    if _unit(seed, employee_no, metric, period, "missing") < MISSING_VALUE_SHARE:
        return None
    scatter = _STANDARD_NORMAL.inv_cdf(_unit(seed, employee_no, metric, period, "value"))
    quality = latent_performance(seed, employee_no) + profile.noise * scatter
    raw = profile.worst + (profile.best - profile.worst) * quality
    return round(min(max(raw, profile.low), profile.high), profile.decimals)


def metric_checksum(
    system: str, metric: str, employee_no: str, period_start: dt.date, period_end: dt.date, value: float
) -> str:
    """The sha256 hex of the canonical JSON of one reported value: its provenance fingerprint."""
    record = {
        "employee_no": employee_no,
        "metric": metric,
        "period": f"{period_start.isoformat()}/{period_end.isoformat()}",
        "system": system,
        "value": value,
    }
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
