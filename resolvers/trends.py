"""Trends and comparisons: an employee's results across cycles, group means per cycle, two cycles compared, posts
side by side on the unified scale.

The figures come from the aggregate statements of ``hub.analytics.trends``, over the caller's scope. The small-group
rule is scoreStatistics' (``resolvers.results``, ``resolvers.disclosure``): for everyone but hr_admin a figure of
fewer than the minimum group size is withheld (its count stays), with secondary suppression so that no released
figures subtract to a withheld one; for an analyst without the names grant every figure also leaves out the people
of small (department, post) cells, and nobody is listed by row but whom the result lists would show.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from hub import policy
from hub.analytics import trends as sql
from hub.analytics.withheld import Withheld
from hub.db.models import Post
from hub.domain import Grade, GroupDimension, grade_steps
from resolvers import cycle_ids as ids
from resolvers import small_groups
from resolvers.context import Context
from resolvers.disclosure import Cell, Key, withheld_reasons
from resolvers.errors import BadUserInput, parse_id
from resolvers.records import CycleRow, ResultRow
from resolvers.results import ResultChange

_PostKey = TypeVar("_PostKey", int, str)

MOVED_FAR = 2
"""Grades moved, either way, that put a person on the comparison's list of movers."""


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One result of an employee's trend, with the one before it in the trend (None for the first)."""

    result: ResultRow
    previous: ResultRow | None


@dataclass(frozen=True, slots=True)
class GroupMean:
    """A group's results in one cycle; ``mean`` None when withheld (a small group), ``change`` the mean less the
    group's mean in the cycle before it in the trend, when both are released."""

    cycle_id: int
    count: int
    mean: float | None
    change: float | None
    withheld: Withheld | None = None


@dataclass(frozen=True, slots=True)
class GroupTrend:
    key: str
    cycles: list[GroupMean]


@dataclass(frozen=True, slots=True)
class GradeMigration:
    """People graded ``from_grade`` in the earlier cycle and ``to_grade`` in the later; None when withheld."""

    from_grade: Grade
    to_grade: Grade
    count: int | None
    withheld: Withheld | None = None


@dataclass(frozen=True, slots=True)
class CycleComparison:
    earlier_id: int
    later_id: int
    groups: list[GroupTrend]
    migrations: list[GradeMigration]
    moved_far: list[ResultChange]
    """Who moved two grades or more: each later result beside the earlier one."""


@dataclass(frozen=True, slots=True)
class SchemeUse:
    """Results of a post scored under one scheme version (its number is the version's own)."""

    scheme_version_id: int
    count: int


@dataclass(frozen=True, slots=True)
class PostStanding:
    post_id: int
    count: int
    mean: float | None
    schemes: list[SchemeUse]
    withheld: Withheld | None = None


@dataclass(frozen=True, slots=True)
class PostComparison:
    cycle_id: int
    posts: list[PostStanding]
    mixed_scheme_versions: bool
    note: str | None


async def employee_trend(context: Context, employee_id: int) -> list[TrendPoint]:
    """The employee's results the caller may see, oldest cycle first, each beside the one before it."""
    found = await context.loaders.results_by_employee.load(employee_id)
    shown = [result for result in found if await small_groups.result_shown(context, result)]
    return [TrendPoint(result, shown[index - 1] if index else None) for index, result in enumerate(shown)]


def _dimension(group_by: GroupDimension | None) -> GroupDimension | None:
    if group_by is not None and group_by not in sql.GROUP_COLUMNS:
        raise BadUserInput(
            f"'groupBy' {group_by.value} is not for trends: group by DEPARTMENT, POST or POST_FAMILY",
            argument="groupBy",
        )
    return group_by


def _conditions(context: Context) -> list[ColumnElement[bool]]:
    """The rows a figure may count: the caller's scope and, for a pseudonymous analyst, large cells only."""
    conditions = list(context.scope.results())
    if context.pseudonyms is not None:
        conditions.append(small_groups.in_large_result_cell(context.settings.min_group_size, context.scope.results()))
    return conditions


async def _families(context: Context, key: InstrumentedAttribute[_PostKey]) -> dict[_PostKey, str]:
    """Every post's family by ``key`` (its code or its id): one small statement over the posts."""
    async with context.sessionmaker() as session:
        return {post: family for post, family in (await session.execute(select(key, Post.family))).all()}


async def _ordered_cycles(context: Context, keys: Sequence[int]) -> list[CycleRow]:
    loaded = await context.loaders.cycle_by_id.load_many(list(keys))
    return sorted((cycle for cycle in loaded if cycle is not None), key=lambda cycle: (cycle.period_start, cycle.id))


async def _group_trends(
    context: Context, keys: Sequence[int] | None, dimension: GroupDimension | None
) -> list[GroupTrend]:
    async with context.sessionmaker() as session:
        rows = (await session.execute(sql.group_means(keys, dimension, _conditions(context)))).all()
    figures: dict[Key, tuple[int, float]] = {(str(row[0]), str(row[1])): (int(row[2]), float(row[3])) for row in rows}
    reasons: dict[Key, Withheld | None] = {}
    if not policy.sees_small_groups(context.principal):
        # Posts nest in families: a post's cell is keyed by its family too, so that the family (another trend's
        # group, or scoreStatistics') less its released posts is never a withheld post.
        family = await _families(context, Post.code) if dimension is GroupDimension.POST else {}
        cells: dict[Key, Cell] = {
            (cycle, family.get(group, ""), group): Cell(members=count, unfiltered=count)
            for (cycle, group), (count, _) in figures.items()
        }
        found = withheld_reasons(cells, context.settings.min_group_size)
        reasons = {(cycle, group): reason for (cycle, _, group), reason in found.items()}
    cycles = await _ordered_cycles(context, sorted({int(cycle) for cycle, _ in figures}))
    trends: list[GroupTrend] = []
    for group in sorted({group for _, group in figures}):
        points: list[GroupMean] = []
        previous: float | None = None
        for cycle in cycles:
            key = (str(cycle.id), group)
            if key not in figures:
                previous = None
                continue
            count, mean = figures[key]
            reason = reasons.get(key)
            shown = mean if reason is None else None
            change = shown - previous if shown is not None and previous is not None else None
            points.append(GroupMean(cycle_id=cycle.id, count=count, mean=shown, change=change, withheld=reason))
            previous = shown
        trends.append(GroupTrend(key=group, cycles=points))
    return trends


async def score_trends(
    context: Context, group_by: GroupDimension | None, cycle_ids: Sequence[str] | None
) -> list[GroupTrend]:
    """Per group, the mean total in each cycle (oldest first) and its change from the cycle before; every cycle
    with results the caller may see when ``cycle_ids`` is None."""
    dimension = _dimension(group_by)
    keys = None
    if cycle_ids is not None:
        keys = [cycle.id for cycle in await ids.known_cycles(context, cycle_ids, "cycleIds")]
    return await _group_trends(context, keys, dimension)


async def cycle_comparison(
    context: Context, earlier_id: str, later_id: str, group_by: GroupDimension | None
) -> CycleComparison:
    """Two cycles side by side: the mean shift per group, the grade migration matrix, and who moved two grades or
    more, over the results the caller may see; NOT_FOUND when a cycle is unknown."""
    dimension = _dimension(group_by)
    earlier, later = ids.cycle_key(earlier_id, "a"), ids.cycle_key(later_id, "b")
    if earlier == later:
        raise BadUserInput("'a' and 'b' name the same cycle: compare two cycles", argument="b")
    # One loader batch for both (the answer's earlier and later read them again from it).
    await asyncio.gather(ids.known_cycle(context, earlier, "a"), ids.known_cycle(context, later, "b"))
    groups = await _group_trends(context, [earlier, later], dimension)
    conditions = _conditions(context)
    async with context.sessionmaker() as session:
        matrix = (await session.execute(sql.grade_migrations(earlier, later, conditions))).all()
        changed = (await session.execute(sql.grade_pairs(earlier, later, conditions))).all()
    counts = {(str(row[0]), str(row[1])): int(row[2]) for row in matrix}
    reasons: dict[Key, Withheld | None] = (
        {}
        if policy.sees_small_groups(context.principal)
        else withheld_reasons(
            {key: Cell(count, count) for key, count in counts.items()}, context.settings.min_group_size
        )
    )
    migrations = [
        _migration(before, after, count, reasons.get((before, after)))
        for (before, after), count in sorted(counts.items(), key=_grade_pair_order)
    ]
    far = [row for row in changed if abs(grade_steps(Grade(row[2]), Grade(row[3]))) >= MOVED_FAR]
    moved = await _movers(context, [(int(row[0]), int(row[1])) for row in far])
    return CycleComparison(earlier, later, groups, migrations, moved)


def _migration(before: str, after: str, count: int, withheld: Withheld | None) -> GradeMigration:
    return GradeMigration(Grade(before), Grade(after), None if withheld else count, withheld)


def _grade_pair_order(item: tuple[tuple[str, str], int]) -> tuple[int, int]:
    (before, after), _ = item
    return list(Grade).index(Grade(before)), list(Grade).index(Grade(after))  # best first


async def _movers(context: Context, pairs: list[tuple[int, int]]) -> list[ResultChange]:
    """The pairs of results as the result lists would show them (scope, small cells): one loader batch."""
    loader = context.loaders.result_by_id
    rows = await loader.load_many([key for pair in pairs for key in pair])
    loaded = {row.id: row for row in rows if row is not None}
    moves: list[ResultChange] = []
    for before_id, after_id in pairs:
        before, after = loaded.get(before_id), loaded.get(after_id)
        if before is None or after is None:
            continue
        if not (await small_groups.result_shown(context, before) and await small_groups.result_shown(context, after)):
            continue
        moves.append(ResultChange(current=after, previous=before))
    return moves


async def post_comparison(context: Context, cycle_id: str, post_ids: Sequence[str] | None) -> PostComparison:
    """Posts of a cycle side by side on the unified 0-100 scale, each with the scheme versions its results were
    scored under, and a note when those versions differ (the totals then weigh differently defined indicators)."""
    cycle_key = (await ids.known_cycle(context, cycle_id)).id
    async with context.sessionmaker() as session:
        rows = (await session.execute(sql.post_standings(cycle_key, _conditions(context)))).all()
    schemes: defaultdict[int, list[SchemeUse]] = defaultdict(list)
    sums: defaultdict[int, float] = defaultdict(float)
    versions_of: defaultdict[int, set[int]] = defaultdict(set)
    for post_id, scheme_version_id, version, count, mean in rows:
        schemes[post_id].append(SchemeUse(scheme_version_id, count))
        sums[post_id] += float(mean) * count
        versions_of[post_id].add(version)
    sizes = {post_id: sum(use.count for use in uses) for post_id, uses in schemes.items()}
    # Every post of the cycle is a cell, listed or not: a parent (the cycle) minus released posts is then safe.
    # A post's family is part of its key: a family (scoreStatistics by POST_FAMILY) less its released posts is then
    # safe too.
    reasons: dict[Key, Withheld | None] = {}
    if not policy.sees_small_groups(context.principal):
        family = await _families(context, Post.id)
        cells: dict[Key, Cell] = {
            (family.get(post_id, ""), str(post_id)): Cell(size, size) for post_id, size in sizes.items()
        }
        reasons = {key[1:]: why for key, why in withheld_reasons(cells, context.settings.min_group_size).items()}
    wanted = None if post_ids is None else {key for key in (parse_id(post_id) for post_id in post_ids) if key}
    standings = [
        PostStanding(
            post_id=post_id,
            count=sizes[post_id],
            mean=sums[post_id] / sizes[post_id] if reasons.get((str(post_id),)) is None else None,
            schemes=schemes[post_id],
            withheld=reasons.get((str(post_id),)),
        )
        for post_id in sorted(schemes)
        if wanted is None or post_id in wanted
    ]
    versions = sorted({version for standing in standings for version in versions_of[standing.post_id]})
    mixed = len(versions) > 1
    note = (
        f"The posts were scored under different scheme versions ({', '.join(f'v{v}' for v in versions)}): the totals "
        "share the 0-100 scale, but their indicators, weights or rules differ, so a gap between posts may be the "
        "schemes' as much as the people's."
        if mixed
        else None
    )
    return PostComparison(cycle_key, standings, mixed, note)
