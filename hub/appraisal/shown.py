"""A score as people read it: rounded half-up to two decimals.

The database keeps scores exact and the API shows them rounded (``schema/rounding.py``), so a person who
types back a value they read types the rounded one. Whatever compares such a value with a stored one
(``resultCorrect``'s "changes nothing" check) compares at this precision. Half-up on the decimal a person
reads (``Decimal(str(value))``, the shortest repr), so 2.675 shows as 2.68, not as binary floating point
would round it (2.67).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENTS = Decimal("0.01")


def shown_cents(value: float) -> Decimal:
    """``value`` rounded half-up to two decimals, as an exact decimal (for comparing or subtracting shown values)."""
    return Decimal(str(value)).quantize(_CENTS, rounding=ROUND_HALF_UP)
