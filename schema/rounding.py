"""Scores as the API shows them: rounded half-up to two decimals, while the database keeps them exact.

Totals are sums of weighted parts, so a stored total is often 42.50000000000001; a portal showed that as
it came. The rounding happens here, at the schema boundary, and nowhere below: scoring, ranking, grading,
calibration checks and filters (``minScore``) work on the exact stored values; only where a person types
back a value they read is it compared as shown (``resultCorrect``). Half-up on the decimal a
person reads (``hub.appraisal.shown``, which the hub's own comparisons of shown values use too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Generic, TypeVar, overload

import strawberry
from strawberry.types.field import StrawberryField

from hub.appraisal.shown import shown_cents
from schema import fields

ROUNDED = "Rounded half-up to two decimals; stored exactly."
"""What every rounded field's description says."""
ROUNDED_FIGURE = "Rounded half-up to two decimals; computed from the exact stored scores."
"""What a rounded statistic's description says (it is computed, not stored)."""

P = TypeVar("P")
"""The record kind a rounded field is read from (``resolvers.records``)."""


def exact_cents(value: float) -> Decimal:
    """``value`` rounded half-up to two decimals, as an exact decimal (for differences of shown values)."""
    return shown_cents(value)


@overload
def two_decimals(value: float) -> float: ...


@overload
def two_decimals(value: None) -> None: ...


@overload
def two_decimals(value: float | None) -> float | None: ...


def two_decimals(value: float | None) -> float | None:
    """``value`` rounded half-up to two decimals; None stays None (and so do NaN and infinities, unrounded)."""
    if value is None or not math.isfinite(value):
        return value
    return float(exact_cents(value))


class Scores(Generic[P]):
    """The rounded score fields of the type read from records of kind ``P`` (subscripted, as ``Relations``)."""

    @classmethod
    def rounded(
        cls,
        graphql_type: object,
        read: Callable[[P], float | None],
        description: str | None = None,
        *,
        rounding: str = ROUNDED,
    ) -> StrawberryField:
        """A field of type ``graphql_type`` (``float`` or ``float | None``): ``read`` of the record, rounded."""

        def resolve(root: strawberry.Parent[P]) -> float | None:
            return two_decimals(read(root))

        stated = f"{description} {rounding}" if description else rounding
        return fields.field(description=stated, graphql_type=graphql_type)(resolve)
