"""Queries over appraisal results: the paginated list and the analysts' statistics."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, select
from sqlalchemy.orm import QueryableAttribute

from hub import policy
from hub.db.models import AppraisalResult, Cycle, Department, Post
from hub.domain import GroupDimension
from resolvers.context import Context
from resolvers.disclosure import Cell, Key, releasable
from resolvers.errors import BadUserInput, parse_id
from resolvers.filters import ResultFilter, result_conditions
from resolvers.ids import RESULT, pseudonymous_connection, pseudonymous_page, refuse_small_selection
from resolvers.loaders.base import select_rows
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection, read_page
from resolvers.records import ResultRow
from resolvers.small_groups import in_large_result_cell, limited_cycle


@dataclass(frozen=True, slots=True)
class ResultChange:
    """A result beside the same employee's previous published one (``PreviousResultByResultLoader``)."""

    current: ResultRow
    previous: ResultRow


async def results(
    context: Context,
    cycle_id: str,
    first: int | None,
    after: str | None,
    filter_: ResultFilter | None,
    count_total: bool = True,
) -> Connection:
    """A page of a cycle's results in id order, with the total matching the filter when ``count_total``."""
    first = check_page_size(first, context.settings.max_page_size)
    cycle_key = parse_id(cycle_id)
    conditions = await listed_results(context, cycle_key, filter_)
    if context.pseudonyms is not None:
        page_keys, has_next, total_count = await pseudonymous_page(
            context, RESULT, AppraisalResult.id, conditions, first, after
        )
        statement = select_rows(AppraisalResult).where(AppraisalResult.id.in_([key for _, key in page_keys]))
        async with context.sessionmaker() as session:
            found = (await session.execute(statement)).all()
        return pseudonymous_connection(page_keys, found, has_next, total_count)
    after_id = decode_cursor("result", after)
    if cycle_key is None:
        return make_connection("result", [], first, 0 if count_total else None)
    page = select_rows(AppraisalResult).where(*conditions).order_by(AppraisalResult.id).limit(first + 1)
    if after_id is not None:
        page = page.where(AppraisalResult.id > after_id)
    async with context.sessionmaker() as session:
        rows, total = await read_page(session, page, AppraisalResult, conditions, count_total)
    return make_connection("result", rows, first, total)


async def listed_results(
    context: Context, cycle_key: int | None, filter_: ResultFilter | None
) -> list[ColumnElement[bool]]:
    """The conditions of a cycle's result list for this principal (the ``results`` query and the BI export):
    the filter and the row scope and, for a pseudonymous principal, the small-cell rules, refusing
    (BadUserInput) a filter that would single people out."""
    conditions = [AppraisalResult.cycle_id == cycle_key, *result_conditions(filter_), *context.scope.results()]
    if context.pseudonyms is not None:
        refuse_score_thresholds(filter_)
        grouping = result_conditions(_grouping_only(filter_))
        if not grouping and cycle_key is not None and await limited_cycle(context, cycle_key):
            # A cycle limited to some posts (cycleOpen's postIds, families, departmentIds) is a selection by post:
            # listed whole, its rows of small cells would be known to be of its few posts.
            grouping = [AppraisalResult.cycle_id == cycle_key]
        if grouping:
            # A filter by department, post or post family never matches a result of a small cell.
            grouping.append(in_large_result_cell(context.settings.min_group_size))
            conditions.append(grouping[-1])
            base = [AppraisalResult.cycle_id == cycle_key, *context.scope.results()]
            await refuse_small_selection(context, AppraisalResult.id, [*base, *grouping])
    return conditions


def refuse_score_thresholds(filter_: ResultFilter | None) -> None:
    """A pseudonymous principal may not narrow by score: two thresholds a point apart differ by one person,
    whose score is then the difference of two sums (or whose row is the leftover of two lists)."""
    if filter_ is None:
        return
    for argument, value in (("minScore", filter_.min_score), ("maxScore", filter_.max_score)):
        if value is not None:
            raise BadUserInput(
                f"'filter.{argument}' is not for analysts without the names grant: "
                "score thresholds single people out; group by grade instead",
                argument="filter",
            )


def _grouping_only(filter_: ResultFilter | None) -> ResultFilter | None:
    """The part of a result filter that selects by group (department, post, post family)."""
    if filter_ is None:
        return None
    return ResultFilter(department_id=filter_.department_id, post_id=filter_.post_id, post_family=filter_.post_family)


@dataclass(frozen=True, slots=True)
class ScoreGroup:
    key: list[str]
    count: int
    mean: float | None
    stddev: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None


Column = QueryableAttribute[object]
"""A column results are grouped or sliced by."""

_DIMENSION_COLUMNS: dict[GroupDimension, Column] = {
    GroupDimension.DEPARTMENT: Department.code,
    GroupDimension.POST: Post.code,
    GroupDimension.POST_FAMILY: Post.family,
    GroupDimension.GRADE: AppraisalResult.grade,
    GroupDimension.CYCLE: Cycle.name,
}


def percentile(ordered: Sequence[float], share: float) -> float:
    """Linear interpolation between closest ranks (the 'inclusive' definition spreadsheets use)."""
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(key: list[str], values: list[float]) -> ScoreGroup:
    ordered = sorted(values)
    return ScoreGroup(
        key=key,
        count=len(ordered),
        mean=statistics.fmean(ordered),
        stddev=statistics.pstdev(ordered) if len(ordered) > 1 else 0.0,
        min=ordered[0],
        max=ordered[-1],
        p50=percentile(ordered, 0.5),
        p90=percentile(ordered, 0.9),
    )


async def score_statistics(
    context: Context, cycle_id: str, group_by: Sequence[GroupDimension], filter_: ResultFilter | None
) -> list[ScoreGroup]:
    """Count, mean, spread and percentiles of total scores per group, groups in key order."""
    if len(set(group_by)) != len(group_by):
        raise BadUserInput("'groupBy' names a dimension twice", argument="groupBy")
    cycle_key = parse_id(cycle_id)
    if cycle_key is None:
        return []
    if not policy.sees_small_groups(context.principal):
        # Everyone else could combine tables to isolate a small group: see resolvers.disclosure.
        return await _protected_statistics(context, cycle_key, group_by, filter_)
    dimensions = [_DIMENSION_COLUMNS[dimension] for dimension in group_by]
    statement = _statistics_rows(context, cycle_key, dimensions).where(*result_conditions(filter_))
    async with context.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    groups: defaultdict[tuple[str, ...], list[float]] = defaultdict(list)
    width = len(dimensions)
    for row in rows:
        groups[tuple(str(value) for value in row[:width])].append(row[width])
    # HR sees every individual score anyway.
    return [summarise(list(key), values) for key, values in sorted(groups.items())]


# Loose on purpose: the rows are read by position, the total score (a float) after grouping columns of
# several types, and SQLAlchemy cannot type a typed column that follows a variable number of others.
def _statistics_rows(context: Context, cycle_key: int, columns: Sequence[Column]) -> Select[*tuple[Any, ...]]:
    return (
        select(*columns, AppraisalResult.total_score)
        .select_from(AppraisalResult)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Department, Department.id == AppraisalResult.department_id)
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.cycle_id == cycle_key, *context.scope.results())
    )


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
    statement = _statistics_rows(context, cycle_key, [*columns, *(column for column, _ in sliced)])
    pseudonymous = context.pseudonyms is not None
    minimum = context.settings.min_group_size
    # The position of the grade in the key, when it is there once (as a dimension or as a filter).
    keyed: list[Column] = [*columns, *(column for column, _ in sliced)]
    grades = [index for index, column in enumerate(keyed) if column is AppraisalResult.grade]
    grade_at = grades[0] if pseudonymous and len(grades) == 1 else None
    if pseudonymous:
        # Tables of different groupings nest (a post family holds a department and one person besides): so
        # every figure leaves out the people of small (department, post) cells, and each group is a union of
        # whole large cells. By grade, the cells are (department, post, grade): the people of small ones are
        # counted (``outer``) only to check the table against the same table without grade.
        refuse_score_thresholds(filter_)
        statement = statement.where(in_large_result_cell(minimum))
        if grades:
            statement = statement.add_columns(case((in_large_result_cell(minimum, by_grade=True), 1), else_=0))
    async with context.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    low = filter_.min_score if filter_ is not None else None
    high = filter_.max_score if filter_ is not None else None
    values: defaultdict[Key, list[float]] = defaultdict(list)
    unfiltered: defaultdict[Key, int] = defaultdict(int)
    outer: defaultdict[Key, int] = defaultdict(int)
    wanted: dict[Key, bool] = {}
    for row in rows:
        key = tuple(str(value) for value in row[: width + len(sliced)])
        score = row[width + len(sliced)]
        outer[key] += 1
        wanted[key] = all(row[width + index] == value for index, (_, value) in enumerate(sliced))
        if pseudonymous and grades and not row[width + len(sliced) + 1]:
            continue  # a small (department, post, grade) cell
        unfiltered[key] += 1
        if (low is None or score >= low) and (high is None or score <= high):
            values[key].append(score)
    cells = {
        key: Cell(members=len(values[key]), unfiltered=unfiltered[key], outer=count) for key, count in outer.items()
    }
    released = releasable(cells, minimum, outer=grade_at)
    # A slice keeps the cells whose sliced dimensions match; each maps one-to-one onto a groupBy key.
    groups = [summarise(list(key[:width]), values[key]) for key in sorted(released) if wanted[key] and values[key]]
    # A group's minimum and maximum are each one person's exact score.
    return [dataclasses.replace(group, min=None, max=None) for group in groups] if pseudonymous else groups
