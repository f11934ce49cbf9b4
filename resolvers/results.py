"""Queries over appraisal results: the paginated list and the analysts' statistics."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import QueryableAttribute

from hub.auth import Role
from hub.db.models import AppraisalResult, Cycle, Department, Post
from hub.domain import GroupDimension
from resolvers.context import Context
from resolvers.errors import BadUserInput, parse_id
from resolvers.filters import ResultFilterInput, result_conditions
from resolvers.ids import RESULT, pseudonymous_connection, pseudonymous_page
from resolvers.loaders.base import select_rows
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection


async def results(
    context: Context, cycle_id: str, first: int | None, after: str | None, filter_: ResultFilterInput | None
) -> Connection:
    """A page of a cycle's results in id order, with the total matching the filter."""
    first = check_page_size(first, context.settings.max_page_size)
    cycle_key = parse_id(cycle_id)
    conditions = [AppraisalResult.cycle_id == cycle_key, *result_conditions(filter_), *context.scope.results()]
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
        return make_connection("result", [], first, 0)
    page = select_rows(AppraisalResult).where(*conditions).order_by(AppraisalResult.id).limit(first + 1)
    if after_id is not None:
        page = page.where(AppraisalResult.id > after_id)
    count = select(func.count()).select_from(AppraisalResult).where(*conditions)
    async with context.sessionmaker() as session:
        rows = (await session.execute(page)).all()
        total = (await session.execute(count)).scalar_one()
    return make_connection("result", rows, first, total)


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


_DIMENSION_COLUMNS: dict[GroupDimension, QueryableAttribute[Any]] = {
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


def suppressed(key: list[str], count: int) -> ScoreGroup:
    return ScoreGroup(key=key, count=count, mean=None, stddev=None, min=None, max=None, p50=None, p90=None)


async def score_statistics(
    context: Context, cycle_id: str, group_by: Sequence[GroupDimension], filter_: ResultFilterInput | None
) -> list[ScoreGroup]:
    """Count, mean, spread and percentiles of total scores per group, groups in key order."""
    if len(set(group_by)) != len(group_by):
        raise BadUserInput("'groupBy' names a dimension twice", argument="groupBy")
    cycle_key = parse_id(cycle_id)
    if cycle_key is None:
        return []
    dimensions = [_DIMENSION_COLUMNS[dimension] for dimension in group_by]
    statement = (
        select(*dimensions, AppraisalResult.total_score)
        .select_from(AppraisalResult)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Department, Department.id == AppraisalResult.department_id)
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.cycle_id == cycle_key, *result_conditions(filter_), *context.scope.results())
    )
    async with context.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    groups: defaultdict[tuple[str, ...], list[float]] = defaultdict(list)
    width = len(dimensions)
    for row in rows:
        groups[tuple(str(value) for value in row[:width])].append(row[width])
    # HR sees every individual score anyway; for everyone else a group too small to hide one person's
    # score keeps its count but loses its statistics.
    smallest = 1 if Role.HR_ADMIN in context.principal.roles else context.settings.min_group_size
    return [
        summarise(list(key), values) if len(values) >= smallest else suppressed(list(key), len(values))
        for key, values in sorted(groups.items())
    ]
