"""HR's merit matrix: grade x position in the salary range -> a raise percentage and a bonus factor.

Pure: the matrix is checked here when HR sets it (every refusal names its field), stored as JSON, and
applied to one compensation record at a time. Position in range is ``(base - minimum) / (maximum -
minimum)`` of the post family's configured monthly base range; ``bounds`` split it into bands (two bounds,
three bands: below the first, between, from the second on). A base below the range counts in the lowest
band and one above it in the highest: the matrix says what HR decided for them, nothing is extrapolated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from hub.domain import Grade
from hub.operations.commands import described
from hub.operations.errors import InvalidInput

MAX_BOUNDS = 9
MAX_RAISE_PERCENT = 100.0
MAX_BONUS_FACTOR = 10.0
# The active ISO 4217 currency codes (2025), so that a typo ("XYZ") is refused rather than stored as a matrix
# no compensation record can ever match. A short list in code: no dependency for one check.
_ISO_4217_CODES = """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class SalaryRangeInput:
    """The monthly base salary range of one post family."""

    post_family: str = described("A post family (e.g. FINANCE); each family at most once.")
    minimum: float = described("The range's lowest monthly base salary, above 0.")
    maximum: float = described("The range's highest monthly base salary, above minimum.")


@dataclass(frozen=True, slots=True, kw_only=True)
class MeritCellInput:
    """What the matrix gives one grade in one band of position in range."""

    grade: Grade
    band: int = described("The band of position in range: 0 below the first bound, 1 from it to the next, ...")
    raise_percent: float = described(f"The raise of the monthly base salary, in percent (0..{MAX_RAISE_PERCENT:g}).")
    bonus_factor: float = described(
        f"The factor applied to the employee's bonus in their compensation record (0..{MAX_BONUS_FACTOR:g}; "
        "1 keeps it)."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MeritMatrixSetInput:
    """A whole merit matrix; it replaces the one in force (which stays in the history)."""

    currency: str = described("The currency of the salary ranges (ISO 4217, e.g. CNY); records in another get none.")
    salary_ranges: tuple[SalaryRangeInput, ...] = described(
        "The salary range of each post family guided; a family without one gets no guidance."
    )
    position_bounds: tuple[float, ...] = described(
        f"Up to {MAX_BOUNDS} bounds of position in range, strictly increasing, each strictly between 0 and 1; "
        "n bounds make n + 1 bands."
    )
    cells: tuple[MeritCellInput, ...] = described("Exactly one cell per grade (S, A, B, C, D) and band.")


@dataclass(frozen=True, slots=True)
class Cell:
    raise_percent: float
    bonus_factor: float


@dataclass(frozen=True, slots=True)
class Matrix:
    """A checked merit matrix."""

    currency: str
    ranges: Mapping[str, tuple[float, float]]
    bounds: tuple[float, ...]
    cells: Mapping[tuple[Grade, int], Cell]

    @property
    def bands(self) -> int:
        return len(self.bounds) + 1

    def band(self, position: float) -> int:
        """The band of a position in range (the bounds each belong to the band above them)."""
        return sum(1 for bound in self.bounds if position >= bound)

    def definition(self) -> dict[str, object]:
        """The matrix as stored (JSON)."""
        return {
            "currency": self.currency,
            "ranges": {family: list(bounds) for family, bounds in self.ranges.items()},
            "bounds": list(self.bounds),
            "cells": [
                [grade.value, band, cell.raise_percent, cell.bonus_factor]
                for (grade, band), cell in sorted(self.cells.items(), key=lambda item: (item[0][0].value, item[0][1]))
            ],
        }

    @classmethod
    def stored(cls, definition: Mapping[str, object]) -> Matrix:
        """A matrix read back from its JSON (written by ``definition``)."""
        ranges = definition["ranges"]
        bounds = definition["bounds"]
        cells = definition["cells"]
        currency = definition["currency"]
        assert isinstance(ranges, dict) and isinstance(bounds, list) and isinstance(cells, list)
        assert isinstance(currency, str)
        return cls(
            currency=currency,
            ranges={str(family): (float(low), float(high)) for family, (low, high) in ranges.items()},
            bounds=tuple(float(bound) for bound in bounds),
            cells={(Grade(grade), int(band)): Cell(float(pct), float(factor)) for grade, band, pct, factor in cells},
        )


def checked(command: MeritMatrixSetInput) -> Matrix:
    """The matrix the command describes, or ``InvalidInput`` naming the first field that is wrong."""
    if command.currency not in ISO_4217:
        raise InvalidInput(f"currency must be an ISO 4217 code (e.g. CNY), got {command.currency!r}", field="currency")
    ranges: dict[str, tuple[float, float]] = {}
    for item in command.salary_ranges:
        if item.post_family in ranges:
            raise InvalidInput(f"post family {item.post_family!r} has two salary ranges", field="salaryRanges")
        if not (math.isfinite(item.minimum) and math.isfinite(item.maximum) and 0 < item.minimum < item.maximum):
            raise InvalidInput(
                f"the range of {item.post_family!r} must have 0 < minimum < maximum, "
                f"got {item.minimum} .. {item.maximum}",
                field="salaryRanges",
            )
        ranges[item.post_family] = (item.minimum, item.maximum)
    if not ranges:
        raise InvalidInput("name the salary range of at least one post family", field="salaryRanges")
    bounds = command.position_bounds
    if len(bounds) > MAX_BOUNDS or not all(math.isfinite(b) and 0 < b < 1 for b in bounds):
        raise InvalidInput(f"at most {MAX_BOUNDS} bounds, each strictly between 0 and 1", field="positionBounds")
    if any(lower >= upper for lower, upper in itertools.pairwise(bounds)):
        raise InvalidInput("the bounds must strictly increase", field="positionBounds")
    cells: dict[tuple[Grade, int], Cell] = {}
    bands = len(bounds) + 1
    for cell in command.cells:
        key = (cell.grade, cell.band)
        if not 0 <= cell.band < bands:
            raise InvalidInput(
                f"band {cell.band} of grade {cell.grade.value}: the bands are 0..{bands - 1}", field="cells"
            )
        if key in cells:
            raise InvalidInput(f"grade {cell.grade.value}, band {cell.band} is given twice", field="cells")
        if not (math.isfinite(cell.raise_percent) and 0 <= cell.raise_percent <= MAX_RAISE_PERCENT):
            raise InvalidInput(f"raisePercent must lie in 0..{MAX_RAISE_PERCENT:g}", field="cells")
        if not (math.isfinite(cell.bonus_factor) and 0 <= cell.bonus_factor <= MAX_BONUS_FACTOR):
            raise InvalidInput(f"bonusFactor must lie in 0..{MAX_BONUS_FACTOR:g}", field="cells")
        cells[key] = Cell(cell.raise_percent, cell.bonus_factor)
    missing = [f"{grade.value}/{band}" for grade in Grade for band in range(bands) if (grade, band) not in cells]
    if missing:
        raise InvalidInput(f"every grade needs a cell in every band; missing: {', '.join(missing)}", field="cells")
    return Matrix(currency=command.currency, ranges=ranges, bounds=tuple(bounds), cells=cells)


@dataclass(frozen=True, slots=True)
class Pay:
    """The compensation record guidance is made from: plain values, whichever payroll system said them."""

    effective_date: dt.date
    base_salary: float | None
    bonus: float | None
    currency: str


@dataclass(frozen=True, slots=True)
class Advice:
    """What the matrix advises for one result and one compensation record; ``explanation`` always says why."""

    explanation: str
    salary_minimum: float | None = None
    salary_maximum: float | None = None
    position_in_range: float | None = None
    band: int | None = None
    raise_percent: float | None = None
    bonus_factor: float | None = None
    proposed_base_salary: float | None = None
    proposed_bonus: float | None = None


def _money(amount: float) -> float:
    return float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def in_force(records: list[Pay], on: dt.date) -> Pay | None:
    """The newest record with a base salary that took effect on or before ``on`` (the cycle's last day)."""
    known = [record for record in records if record.base_salary is not None and record.effective_date <= on]
    return max(known, key=lambda record: record.effective_date, default=None)


ANNUAL_DAYS = range(364, 367)
"""The lengths of a period that counts as a year: a calendar or fiscal year (365 or 366 days), or 52 weeks."""


def is_annual(start: dt.date, end: dt.date) -> bool:
    """Whether a cycle's period (both days included) is a year."""
    return (end - start).days + 1 in ANNUAL_DAYS


def period_caveats(start: dt.date, end: dt.date) -> list[str]:
    """What guidance for a cycle of this period claims beyond its inputs: a merit matrix's raises and bonus
    factors are a year's, so a quarter's (or an 18 months') grade applied to them stands in for a year it
    does not cover. Empty for an annual cycle."""
    if is_annual(start, end):
        return []
    days = (end - start).days + 1
    than = "shorter" if days < ANNUAL_DAYS.start else "longer"
    return [
        f"the cycle covers {days} days ({start}..{end}), {than} than a year: the merit matrix's raises and bonus "
        "factors are annual, and this guidance applies the grade of this period to them as if it stood for a whole "
        "year; weigh it with the employee's other results of the year"
    ]


def advise(matrix: Matrix | None, grade: Grade, family: str, record: Pay | None, on: dt.date) -> Advice:
    """The guidance for a result of ``grade`` in a post of ``family``, or none and why."""
    if matrix is None:
        return Advice("no merit matrix is configured (meritMatrixSet): no guidance")
    if record is None or record.base_salary is None:
        return Advice(f"the payroll system has no compensation record with a base salary in force on {on}: no guidance")
    if record.currency != matrix.currency:
        return Advice(f"the record is in {record.currency}, the matrix's ranges in {matrix.currency}: no guidance")
    if family not in matrix.ranges:
        return Advice(f"the matrix has no salary range for post family {family}: no guidance")
    low, high = matrix.ranges[family]
    position = (record.base_salary - low) / (high - low)
    band = matrix.band(position)
    cell = matrix.cells[(grade, band)]
    proposed_bonus = None if record.bonus is None else _money(record.bonus * cell.bonus_factor)
    why = (
        f"grade {grade.value}, base {record.base_salary:g} {record.currency} of {record.effective_date} at "
        f"{position:.2f} of the {family} range {low:g}..{high:g} (band {band}): raise {cell.raise_percent:g}%, "
        f"bonus factor {cell.bonus_factor:g}"
    )
    if record.bonus is None:
        why += "; the record has no bonus, so no bonus is proposed"
    return Advice(
        why,
        salary_minimum=low,
        salary_maximum=high,
        position_in_range=position,
        band=band,
        raise_percent=cell.raise_percent,
        bonus_factor=cell.bonus_factor,
        proposed_base_salary=_money(record.base_salary * (1 + cell.raise_percent / 100)),
        proposed_bonus=proposed_bonus,
    )
