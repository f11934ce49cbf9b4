"""Group statistics of scores in one SQL statement: count, mean, spread, extremes, quartiles and grades.

What the analysts' statistics read of the database is one row per group (a *cell*), never a row per result:

* PostgreSQL: a plain ``GROUP BY`` with ``avg``, ``stddev_pop``, ``min``, ``max``, one
  ``percentile_cont(ARRAY[.25, .5, .75, .9]) WITHIN GROUP (ORDER BY value)`` (one sort for the four
  percentiles) and ``count(*) FILTER (WHERE grade = ...)`` per grade.
* SQLite has neither ``percentile_cont`` nor ``stddev``: a subquery numbers each group's values with window
  functions (``row_number``, ``count``, ``avg``, ``lead`` over the group ordered by value) and the outer
  ``GROUP BY`` picks, per percentile, the row at ``floor((n - 1) * p)`` and interpolates towards the next one
  (``percentile_cont``'s definition: linear interpolation between closest ranks), and averages the squared
  distances to the group's mean. The one step left to Python is the square root of that variance, on the
  aggregated row (SQLite's ``sqrt`` exists only in builds with its math functions).

Rows of a cell that the caller's filters or privacy rules leave out of the figures still count where the
disclosure rules need them (``Cell.outer``, ``Cell.unfiltered``): the statement carries those counts beside the
figures, so that deciding which cells may be released needs no second read. GROUPING SETS are not used: every
coarser group that disclosure checks against is a sum of the cells' counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import (
    Float,
    Integer,
    Row,
    RowMapping,
    Select,
    SQLColumnExpression,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import WithinGroup
from sqlalchemy.sql.functions import FunctionElement

from hub.domain import Grade

PERCENTILES = (0.25, 0.5, 0.75, 0.9)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Figures:
    """The statistics of one value over a cell's rows that count (``None`` for a cell without any)."""

    count: int
    mean: float | None = None
    stddev: float | None = None
    min: float | None = None
    max: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None


@dataclass(frozen=True, slots=True)
class CellFigures:
    """One group's row: its key, its counts for the disclosure rules, its figures per value and its grades."""

    key: tuple[object, ...]
    outer: int
    """Every row of the cell the statement read."""
    unfiltered: int
    """The rows that ``counted`` kept, before the narrowing ``inside`` conditions."""
    figures: Mapping[str, Figures]
    grades: Mapping[Grade, int] = field(default_factory=dict)
    """Rows per grade among those ``inside`` (only when the statement was given a grade column)."""


@dataclass(frozen=True, slots=True)
class Measure:
    """A value to summarise; ``nullable`` when some rows have none (they are left out of its figures)."""

    name: str
    column: SQLColumnExpression[float | None]
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class StatisticsQuery:
    """What to group, what to measure and which rows count, over the FROM and WHERE of ``base``."""

    base: Select[int]
    """Its FROM, joins and WHERE are kept; its columns are replaced."""
    keys: Sequence[SQLColumnExpression[object]]
    measures: Sequence[Measure]
    counted: SQLColumnExpression[bool] | None = None
    """Rows counted as members at all (``None``: every row); the others count only in ``outer``."""
    inside: Sequence[SQLColumnExpression[bool]] = ()
    """Narrowing conditions (score bounds): rows outside count in ``unfiltered`` but not in the figures."""
    grade: SQLColumnExpression[object] | None = None


def statistics_statement(query: StatisticsQuery, dialect: str) -> Select[*tuple[object, ...]]:
    """The one statement that answers ``query``, for ``dialect`` (``postgresql`` or ``sqlite``)."""
    if dialect == "postgresql":
        return _postgresql(query)
    return _windowed(query)


def read_cells(query: StatisticsQuery, dialect: str, rows: Sequence[Row[*tuple[object, ...]]]) -> list[CellFigures]:
    """The statement's rows as cells (the same shape on both dialects)."""
    width = len(query.keys)
    cells = []
    for row in rows:
        mapping = row._mapping
        if not mapping["outer_count"]:
            continue  # the one row an ungrouped aggregate answers over no rows at all
        figures = {measure.name: _figures(mapping, measure.name, dialect) for measure in query.measures}
        grades = {grade: int(mapping[f"grade_{grade.value}"]) for grade in Grade} if query.grade is not None else {}
        cells.append(
            CellFigures(
                key=tuple(row[:width]),
                outer=int(mapping["outer_count"]),
                unfiltered=int(mapping["unfiltered_count"] or 0),
                figures=figures,
                grades=grades,
            )
        )
    return cells


def _counted(query: StatisticsQuery) -> SQLColumnExpression[bool]:
    return query.counted if query.counted is not None else true()


def _inside(query: StatisticsQuery, measure: Measure | None) -> list[SQLColumnExpression[bool]]:
    conditions = [*([query.counted] if query.counted is not None else []), *query.inside]
    if measure is not None and measure.nullable:
        conditions.append(measure.column.is_not(None))
    return conditions


def _keys(query: StatisticsQuery) -> list[SQLColumnExpression[object]]:
    return [key.label(f"k{index}") for index, key in enumerate(query.keys)]


def _filtered(
    aggregate: FunctionElement[T] | WithinGroup[T], conditions: Sequence[SQLColumnExpression[bool]]
) -> SQLColumnExpression[T]:
    # An aggregate over every row needs no FILTER: the common case (hr_admin, no score bounds) stays plain.
    return aggregate.filter(and_(*conditions)) if conditions else aggregate


def _counts(query: StatisticsQuery, grade: SQLColumnExpression[object] | None) -> list[SQLColumnExpression[object]]:
    columns: list[SQLColumnExpression[object]] = [
        func.count().label("outer_count"),
        _filtered(func.count(), [query.counted] if query.counted is not None else []).label("unfiltered_count"),
    ]
    if grade is not None:
        inside = _inside(query, None)
        columns += [
            _filtered(func.count(), [*inside, grade == grade_.value]).label(f"grade_{grade_.value}") for grade_ in Grade
        ]
    return columns


def _postgresql(query: StatisticsQuery) -> Select[*tuple[object, ...]]:
    columns: list[SQLColumnExpression[object]] = [*_keys(query), *_counts(query, query.grade)]
    for measure in query.measures:
        value, inside, name = measure.column, _inside(query, measure), measure.name
        percentiles = func.percentile_cont(postgresql.array([literal(share) for share in PERCENTILES])).within_group(
            value
        )
        columns += [
            _filtered(func.count(value) if measure.nullable else func.count(), inside).label(f"{name}_n"),
            _filtered(func.avg(value), inside).label(f"{name}_mean"),
            _filtered(func.stddev_pop(value), inside).label(f"{name}_sd"),
            _filtered(func.min(value), inside).label(f"{name}_min"),
            _filtered(func.max(value), inside).label(f"{name}_max"),
            _filtered(percentiles, inside).label(f"{name}_p"),
        ]
    return query.base.with_only_columns(*columns).group_by(*query.keys)


def _windowed(query: StatisticsQuery) -> Select[*tuple[object, ...]]:
    # The subquery: each row's keys, flags and, per measure, its rank, its group's size and mean, and the next
    # value, all within (keys, whether the row counts for that measure).
    keys = _keys(query)
    inner: list[SQLColumnExpression[object]] = [*keys]
    inner.append(case((_counted(query), 1), else_=0).label("counted"))
    if query.grade is not None:
        inner.append(query.grade.label("grade"))
        inner.append(case((and_(true(), *_inside(query, None)), 1), else_=0).label("inside"))
    for measure in query.measures:
        name = measure.name
        conditions = _inside(query, measure)
        flag = case((and_(*conditions), 1), else_=0) if conditions else literal(1)
        partition = [*query.keys, flag] if conditions else [*query.keys]
        inner += [
            flag.label(f"{name}_in"),
            measure.column.label(f"{name}_v"),
            (func.row_number().over(partition_by=partition, order_by=measure.column) - 1).label(f"{name}_rn"),
            func.count().over(partition_by=partition).label(f"{name}_cnt"),
            func.avg(measure.column).over(partition_by=partition).label(f"{name}_avg"),
            func.lead(measure.column).over(partition_by=partition, order_by=measure.column).label(f"{name}_next"),
        ]
    rows = query.base.with_only_columns(*inner).subquery("cell_rows")
    group = [rows.c[f"k{index}"] for index in range(len(query.keys))]
    columns: list[SQLColumnExpression[object]] = [*(column.label(column.name) for column in group)]
    columns.append(func.count().label("outer_count"))
    columns.append(func.sum(rows.c.counted).label("unfiltered_count"))
    if query.grade is not None:
        columns += [
            func.count().filter(and_(rows.c.inside == 1, rows.c.grade == grade.value)).label(f"grade_{grade.value}")
            for grade in Grade
        ]
    for measure in query.measures:
        name = measure.name
        inside, value = rows.c[f"{name}_in"] == 1, rows.c[f"{name}_v"]
        mean = rows.c[f"{name}_avg"]
        columns += [
            func.count().filter(inside).label(f"{name}_n"),
            func.avg(value).filter(inside).label(f"{name}_mean"),
            func.avg((value - mean) * (value - mean)).filter(inside).label(f"{name}_var"),
            func.min(value).filter(inside).label(f"{name}_min"),
            func.max(value).filter(inside).label(f"{name}_max"),
        ]
        rank, size, following = rows.c[f"{name}_rn"], rows.c[f"{name}_cnt"], rows.c[f"{name}_next"]
        for share in PERCENTILES:
            position = cast(size - 1, Float) * share
            low = cast(position, Integer)  # truncation is floor: the position is never negative
            interpolated = value + (func.coalesce(following, value) - value) * (position - low)
            columns.append(func.max(case((and_(inside, rank == low), interpolated))).label(f"{name}_p{_per(share)}"))
    return select(*columns).select_from(rows).group_by(*group)


def _per(share: float) -> int:
    return round(share * 100)


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _figures(row: RowMapping, name: str, dialect: str) -> Figures:
    count = int(row[f"{name}_n"] or 0)
    if count == 0:
        return Figures(count=0)
    if dialect == "postgresql":
        shares = row[f"{name}_p"] or [None] * len(PERCENTILES)
        stddev = _number(row[f"{name}_sd"])
        p25, p50, p75, p90 = (_number(value) for value in shares)
    else:
        variance = _number(row[f"{name}_var"])
        stddev = math.sqrt(max(variance, 0.0)) if variance is not None else None
        p25, p50, p75, p90 = (_number(row[f"{name}_p{_per(share)}"]) for share in PERCENTILES)
    return Figures(
        count=count,
        mean=_number(row[f"{name}_mean"]),
        stddev=stddev,
        min=_number(row[f"{name}_min"]),
        max=_number(row[f"{name}_max"]),
        p25=p25,
        p50=p50,
        p75=p75,
        p90=p90,
    )
