"""The values an indicator version accepts: its declared valid range, and 0-100 for a percentage.

One place decides whether a measured or rated value makes sense, so that an import (a line problem), a
collection (missing for that employee) and a rating (a refusal naming ``value``) apply the same range.
A version may declare ``valid_min`` and ``valid_max`` (either end open); an indicator measured in percent
(its unit ``%``) lies in 0-100 at the ends it leaves undeclared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.operations.errors import InvalidInput

PERCENT_UNITS = ("%", "percent")
"""The units of an indicator measured in percent (the demo's indicators say ``%``): its values lie in 0-100."""


@dataclass(frozen=True, slots=True)
class ValidRange:
    """The closed interval a version's values must lie in; ``None`` leaves that end open."""

    low: float | None = None
    high: float | None = None

    def problem(self, value: float) -> str | None:
        """What makes ``value`` no value of this range (``None`` when it is one): not a finite number, or
        outside the range (a 180 % is a unit mix-up or a typo, never a result to score)."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"the value {value!r} is not a finite number"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"the value {value:g} is outside the valid range {self.describe()}"
        return None

    def describe(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{low}..{high}"


def valid_range(unit: str | None, valid_min: float | None, valid_max: float | None) -> ValidRange:
    """The range of a version: what it declares, a percentage's 0 and 100 where it declares nothing."""
    if unit in PERCENT_UNITS:
        return ValidRange(0.0 if valid_min is None else valid_min, 100.0 if valid_max is None else valid_max)
    return ValidRange(valid_min, valid_max)


def checked_bounds(valid_min: float | None, valid_max: float | None) -> tuple[float | None, float | None]:
    """A declared range as given, or InvalidInput naming the bound at fault (not finite, or min not below max)."""
    for bound, field in ((valid_min, "validMin"), (valid_max, "validMax")):
        if bound is not None and not math.isfinite(bound):
            raise InvalidInput(f"{field} must be a finite number", field=field)
    if valid_min is not None and valid_max is not None and valid_min >= valid_max:
        raise InvalidInput(f"validMin ({valid_min:g}) must be below validMax ({valid_max:g})", field="validMin")
    return valid_min, valid_max
