"""The analysts' statistics: total scores per group (``scoreStatistics``) and indicator scores per indicator
version (``indicatorStatistics``), each one statement (``hub.analytics.statistics``) plus the disclosure rules.

Except for hr_admin, whose every figure is released, the statement returns the figures of the finest cells the
rules need and ``resolvers.disclosure`` decides which may be released, from their counts alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

from sqlalchemy import Select, SQLColumnExpression, select

from hub import policy
from hub.analytics.statistics import CellFigures, Figures, Measure, StatisticsQuery, read_cells, statistics_statement
from hub.analytics.withheld import Withheld, describe
from hub.db.models import AppraisalResult, Cycle, Department, IndicatorScore, Post
from hub.domain import Grade, GroupDimension
from resolvers import cycle_ids as ids
from resolvers.context import Context
from resolvers.disclosure import Cell, Key, withheld_reasons
from resolvers.errors import BadUserInput, parse_id
from resolvers.filters import ResultFilter, result_conditions
from resolvers.results import refuse_score_thresholds
from resolvers.small_groups import in_large_result_cell

TOTAL = "total"
RAW, NORMALIZED = "raw", "normalized"


@dataclass(frozen=True, slots=True)
class GradeCount:
    grade: Grade
    count: int


@dataclass(frozen=True, slots=True)
class ScoreGroup(Figures):
    """A group's key, the figures of its total scores and its grade distribution."""

    key: list[str] = field(default_factory=list)
    grades: list[GradeCount] = field(default_factory=list)
    withheld: Withheld | None = None
    """Why the figures are null (the group is listed with its size only); None when released."""


@dataclass(frozen=True, slots=True)
class IndicatorGroup:
    """One indicator version's statistics in one group (a post, a post family, or the whole cycle)."""

    indicator_version_id: int
    key: list[str]
    raw: Figures | None
    normalized: Figures | None
    withheld: str | None


Column = SQLColumnExpression[object]
"""A column results are grouped or sliced by."""

_DIMENSION_COLUMNS: dict[GroupDimension, Column] = {
    GroupDimension.DEPARTMENT: Department.code,
    GroupDimension.POST: Post.code,
    GroupDimension.POST_FAMILY: Post.family,
    GroupDimension.GRADE: AppraisalResult.grade,
    GroupDimension.CYCLE: Cycle.name,
}
# The columns of the joined tables a grouping or a slice reads.
_READ_FROM: dict[type[Post] | type[Department] | type[Cycle], tuple[Column, ...]] = {
    Post: (Post.code, Post.family),
    Department: (Department.code,),
    Cycle: (Cycle.name,),
}
_INDICATOR_DIMENSIONS = {GroupDimension.POST, GroupDimension.POST_FAMILY}


def _group(key: Sequence[object], cell: CellFigures) -> ScoreGroup:
    figures = cell.figures[TOTAL]
    return ScoreGroup(
        key=[str(value) for value in key],
        grades=[GradeCount(grade, cell.grades.get(grade, 0)) for grade in Grade],
        **{figure.name: getattr(figures, figure.name) for figure in fields(Figures)},
    )


def _results_base(context: Context, cycle_key: int, columns: Sequence[Column]) -> Select[int]:
    """The cycle's results in the caller's scope, joined to what ``columns`` read (an inner join the planner
    cannot drop costs a hash join over every result: grouped by post, departments and cycles are not read)."""
    base = select(AppraisalResult.id).select_from(AppraisalResult)
    for table, column in ((Post, AppraisalResult.post_id), (Department, AppraisalResult.department_id)):
        if any(_reads(expression, table) for expression in columns):
            base = base.join(table, table.id == column)
    if any(_reads(expression, Cycle) for expression in columns):
        base = base.join(Cycle, Cycle.id == AppraisalResult.cycle_id)
    return base.where(AppraisalResult.cycle_id == cycle_key, *context.scope.results())


def _reads(expression: Column, table: type[Post] | type[Department] | type[Cycle]) -> bool:
    return any(expression is column for column in _READ_FROM[table])


async def _cells(context: Context, query: StatisticsQuery, cycle_key: int) -> list[CellFigures]:
    """The one statement of a request: a row per cell. Found none: is there such a cycle (NOT_FOUND if not)?"""
    async with context.sessionmaker() as session:
        dialect = session.get_bind().dialect.name
        rows = (await session.execute(statistics_statement(query, dialect))).all()
    cells = read_cells(query, dialect, rows)
    if not cells:
        await ids.known_cycle(context, cycle_key)
    return cells


async def score_statistics(
    context: Context, cycle_id: str, group_by: Sequence[GroupDimension], filter_: ResultFilter | None
) -> list[ScoreGroup]:
    """Count, mean, spread, percentiles and grades of total scores per group, groups in key order."""
    if len(set(group_by)) != len(group_by):
        raise BadUserInput("'groupBy' names a dimension twice", argument="groupBy")
    cycle_key = ids.cycle_key(cycle_id)
    if not policy.sees_small_groups(context.principal):
        # Everyone else could combine tables to isolate a small group: see resolvers.disclosure.
        return _in_key_order(await _protected_statistics(context, cycle_key, group_by, filter_), group_by)
    keys = [_DIMENSION_COLUMNS[dimension] for dimension in group_by]
    query = StatisticsQuery(
        base=_results_base(context, cycle_key, keys).where(*result_conditions(filter_)),
        keys=keys,
        measures=[Measure(TOTAL, AppraisalResult.total_score)],
        grade=AppraisalResult.grade,
    )
    # HR sees every individual score anyway.
    groups = [_group(cell.key, cell) for cell in await _cells(context, query, cycle_key)]
    return _in_key_order(groups, group_by)


_GRADE_RANK = {grade.value: rank for rank, grade in enumerate(Grade)}


def _in_key_order(groups: list[ScoreGroup], group_by: Sequence[GroupDimension]) -> list[ScoreGroup]:
    """Groups by key, a grade in the scale's order (S, A, B, C, D), not alphabetically; the same on both databases."""

    def order(group: ScoreGroup) -> tuple[tuple[int, str], ...]:
        return tuple(
            (_GRADE_RANK.get(value, len(_GRADE_RANK)) if dimension is GroupDimension.GRADE else 0, value)
            for dimension, value in zip(group_by, group.key, strict=True)
        )

    return sorted(groups, key=order)


async def _protected_statistics(
    context: Context, cycle_key: int, group_by: Sequence[GroupDimension], filter_: ResultFilter | None
) -> list[ScoreGroup]:
    """Statistics that no combination of answers narrows below the minimum group size.

    A filter that selects by a dimension (post, post family, grade) is a dimension of the table that
    decides what is withheld, so that a filtered table is a slice of the same table, never a new one
    to subtract from; the score bounds are narrowing filters. A department filter means a subtree, whose
    difference with a sub-subtree is a department's own people: it is refused, group by DEPARTMENT instead.
    """
    if filter_ is not None and filter_.department_id is not None:
        raise BadUserInput(
            "'filter.departmentId' is for hr_admin only in scoreStatistics (a subtree minus its sub-subtrees "
            "isolates a small group); group by DEPARTMENT instead",
            argument="filter",
        )
    columns: list[Column] = [_DIMENSION_COLUMNS[dimension] for dimension in group_by]
    # (column, the value a row must have) for each filter by a dimension.
    sliced: list[tuple[Column, object]] = []
    if filter_ is not None:
        if filter_.post_id is not None:
            sliced.append((AppraisalResult.post_id, parse_id(filter_.post_id)))
        if filter_.post_family is not None:
            sliced.append((Post.family, filter_.post_family))
        if filter_.grade is not None:
            sliced.append((AppraisalResult.grade, filter_.grade))
    width = len(columns)
    keyed: list[Column] = list(columns)
    # Where each slice's value stands in a cell's key. A sliced dimension that is also grouped by is not keyed
    # twice: twice, the grade was no longer "in the key once" and the by-grade table lost its check against the
    # table without grade (each grade's slice then released what the unsliced table withholds: review finding 1).
    slice_at: list[tuple[int, object]] = []
    for column, value in sliced:
        place = next((index for index, keyed_column in enumerate(keyed) if keyed_column is column), None)
        if place is None:
            place = len(keyed)
            keyed.append(column)
        slice_at.append((place, value))
    if any(column is Post.code or column is AppraisalResult.post_id for column in keyed) and not any(
        column is Post.family for column in keyed
    ):
        # Posts nest in families: the family is a parent of its posts (a family's figures less its released posts
        # are otherwise a withheld post's), so it is a dimension of the table, never released as one.
        keyed.append(Post.family)
    pseudonymous = context.pseudonyms is not None
    minimum = policy.minimum_group_size(context.principal, context.settings)
    # The position of the grade in the key, when it is there once (as a dimension or as a filter).
    grades = [index for index, column in enumerate(keyed) if column is AppraisalResult.grade]
    grade_at = grades[0] if pseudonymous and len(grades) == 1 else None
    base = _results_base(context, cycle_key, keyed)
    if filter_ is not None:
        # The period selects whole cycles (the cycle is in it or not): no cell is narrowed, so it applies as it is.
        base = base.where(
            *result_conditions(ResultFilter(period_from=filter_.period_from, period_to=filter_.period_to))
        )
    counted = None
    if pseudonymous:
        # Tables of different groupings nest (a post family holds a department and one person besides): so
        # every figure leaves out the people of small (department, post) cells, and each group is a union of
        # whole large cells. By grade, the cells are (department, post, grade): the people of small ones are
        # counted (``outer``) only to check the table against the same table without grade.
        # Movers with a small cell elsewhere are left out as the filtered lists leave them out
        # (``in_large_result_cell``): no figure differs from a list by them.
        refuse_score_thresholds(filter_)
        base = base.where(in_large_result_cell(minimum, context.scope.results()))
        if grades:
            counted = in_large_result_cell(minimum, context.scope.results(), by_grade=True)
    bounds: list[SQLColumnExpression[bool]] = []
    if filter_ is not None and filter_.min_score is not None:
        bounds.append(AppraisalResult.total_score >= filter_.min_score)
    if filter_ is not None and filter_.max_score is not None:
        bounds.append(AppraisalResult.total_score <= filter_.max_score)
    query = StatisticsQuery(
        base=base,
        keys=keyed,
        measures=[Measure(TOTAL, AppraisalResult.total_score)],
        counted=counted,
        inside=bounds,
        grade=AppraisalResult.grade,
    )
    found = {_key(cell.key): cell for cell in await _cells(context, query, cycle_key)}
    cells = {
        key: Cell(members=cell.figures[TOTAL].count, unfiltered=cell.unfiltered, outer=cell.outer)
        for key, cell in found.items()
    }
    reasons = withheld_reasons(cells, minimum, outer=grade_at)
    groups: list[ScoreGroup] = []
    # A slice keeps the cells whose sliced dimensions match; each maps one-to-one onto a groupBy key.
    for key in sorted(reasons):
        cell, reason = found[key], reasons[key]
        if not all(cell.key[place] == value for place, value in slice_at):
            continue
        if reason is not None:
            # Listed when some of its people count (a cell only the pseudonymous rules leave empty is not a group).
            if cell.unfiltered:
                groups.append(_withheld_group(cell.key[:width], cell, reason))
        elif cell.figures[TOTAL].count:
            group = _group(cell.key[:width], cell)
            # A group's minimum and maximum are each one person's exact score.
            groups.append(replace(group, min=None, max=None) if pseudonymous else group)
    return groups


def _withheld_group(key: Sequence[object], cell: CellFigures, reason: Withheld) -> ScoreGroup:
    """A withheld group: its key, its size before the score bounds (how many are within them is what a narrowing
    filter must not tell) and its reason; no figure and no grade (grades are score bands)."""
    return ScoreGroup(count=cell.unfiltered, key=[str(value) for value in key], withheld=reason)


def _key(values: Sequence[object]) -> Key:
    return tuple(str(value) for value in values)


async def indicator_statistics(
    context: Context, cycle_id: str, group_by: Sequence[GroupDimension]
) -> list[IndicatorGroup]:
    """Raw values and normalised scores per indicator version, per post, post family or the whole cycle."""
    if len(group_by) > 1 or not set(group_by) <= _INDICATOR_DIMENSIONS:
        raise BadUserInput(
            "'groupBy' of indicatorStatistics is [], [POST] or [POST_FAMILY]: an indicator version belongs to the "
            "schemes of posts",
            argument="groupBy",
        )
    cycle_key = ids.cycle_key(cycle_id)
    # The key is (indicator version, family, post) at its finest: the family is a parent of its posts.
    keys: list[Column] = [IndicatorScore.indicator_version_id]
    if group_by:
        keys.append(Post.family)
    if GroupDimension.POST in group_by:
        keys.append(Post.code)
    base = (
        select(IndicatorScore.id)
        .select_from(IndicatorScore)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .where(AppraisalResult.cycle_id == cycle_key, *context.scope.results())
    )
    pseudonymous = context.pseudonyms is not None
    minimum = policy.minimum_group_size(context.principal, context.settings)
    if pseudonymous:
        # As in scoreStatistics: every group is a union of whole (department, post) cells of the minimum size.
        base = base.where(in_large_result_cell(minimum, context.scope.results()))
    query = StatisticsQuery(
        base=base,
        keys=keys,
        measures=[
            Measure(RAW, IndicatorScore.raw_value, nullable=True),
            Measure(NORMALIZED, IndicatorScore.normalized_score, nullable=True),
        ],
    )
    found = await _cells(context, query, cycle_key)
    by_version: defaultdict[int, dict[Key, CellFigures]] = defaultdict(dict)
    for cell in found:
        by_version[int(str(cell.key[0]))][_key(cell.key[1:])] = cell
    groups: list[IndicatorGroup] = []
    for version, cells in sorted(by_version.items()):
        # Each measure has its own members (the results with a value): released or withheld on its own.
        shown = {name: withheld_reasons(_members(cells, name), minimum) for name in (RAW, NORMALIZED)}
        for key, cell in sorted(cells.items()):
            raw = _shown(cell.figures[RAW], shown[RAW][key] is None, pseudonymous)
            normalized = _shown(cell.figures[NORMALIZED], shown[NORMALIZED][key] is None, pseudonymous)
            held = [name for name in (RAW, NORMALIZED) if cell.figures[name].count and shown[name][key] is not None]
            # One wording for every field (hub.analytics.withheld), per value: each has its own members.
            withheld = "; ".join(
                f"{name}: {describe(shown[name][key] or Withheld.SMALL_GROUP, minimum)}" for name in held
            )
            # The post family is part of a post's key only to check the family against its posts.
            groups.append(
                IndicatorGroup(version, list(key[-1:]) if group_by else [], raw, normalized, withheld or None)
            )
    return groups


def _members(cells: dict[Key, CellFigures], name: str) -> dict[Key, Cell]:
    return {key: Cell(cell.figures[name].count, cell.figures[name].count) for key, cell in cells.items()}


def _shown(figures: Figures, released: bool, pseudonymous: bool) -> Figures | None:
    if not released or not figures.count:
        return None
    # A group's minimum and maximum are each one person's exact value.
    return replace(figures, min=None, max=None) if pseudonymous else figures
