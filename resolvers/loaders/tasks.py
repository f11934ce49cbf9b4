"""Rating tasks read from the database: rater-ratee pairs, what each asks for, and what was submitted.

A pair is *submitted* when its rater has rated every people-rated indicator of the ratee's scheme; ratings
can only be given for those indicators (``hub.operations.ratings``), so counting the distinct indicators
rated is enough. ``resolvers.tasks`` reads these for a principal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Cycle, CycleScheme, Employee, IndicatorVersion, RaterAssignment, Rating, SchemeItem
from hub.domain import MANUAL_SOURCE, RaterRole
from hub.operations.ratings import posts_on
from resolvers.loaders.base import SessionLoader, select_rows
from resolvers.records import PersonRow, RatingRow

CycleKey = int
PairKey = tuple[int, int]
"""(ratee id, rater id) within one cycle."""


@dataclass(frozen=True, slots=True)
class RatingTask:
    """One rater's task in a cycle: rate the ratee, in a role, on the ratee's people-rated indicators."""

    cycle_id: int
    ratee: PersonRow
    role: RaterRole
    indicator_version_ids: tuple[int, ...]
    ratings: tuple[RatingRow, ...]
    """What the rater has submitted for this ratee so far (their own ratings, so never withheld from them)."""

    @property
    def submitted(self) -> bool:
        rated = {rating.indicator_version_id for rating in self.ratings}
        return bool(self.indicator_version_ids) and rated >= set(self.indicator_version_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleCounts:
    """Rater-ratee pairs of one role: how many are assigned, and how many have every rating in."""

    role: RaterRole
    expected: int
    submitted: int | None
    """None where the caller may not count an anonymous role's submissions yet (the cycle is DRAFT or OPEN)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RatersOfRole(RoleCounts):
    """A ratee's raters of one role, and who has not submitted yet (None where the caller may not be told who
    an anonymous rater is)."""

    pending: tuple[PersonRow, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RatingProgress(RoleCounts):
    """A cycle's rating progress for the ratees of one department, in one rater role."""

    department_id: int


@dataclass(frozen=True, slots=True)
class Pair:
    cycle_id: int
    ratee_id: int
    rater_id: int
    role: RaterRole


async def people_rated_items(
    session: AsyncSession, pairs: Iterable[Pair]
) -> dict[tuple[CycleKey, int], tuple[int, ...]]:
    """The people-rated indicator versions each ratee is rated on: those of the scheme the cycle pinned for the
    post the ratee held at the period's end (as ratings are checked when submitted)."""
    ratees: defaultdict[CycleKey, set[int]] = defaultdict(set)
    for pair in pairs:
        ratees[pair.cycle_id].add(pair.ratee_id)
    if not ratees:
        return {}
    cycles = await session.scalars(select(Cycle).where(Cycle.id.in_(ratees)))
    post_of = {cycle.id: await posts_on(session, cycle.period_end, ratees[cycle.id]) for cycle in cycles}
    statement = (
        select(CycleScheme.cycle_id, CycleScheme.post_id, SchemeItem.indicator_version_id)
        .join(SchemeItem, SchemeItem.scheme_version_id == CycleScheme.scheme_version_id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .where(CycleScheme.cycle_id.in_(ratees), IndicatorVersion.source_system == MANUAL_SOURCE)
        .order_by(SchemeItem.id)
    )
    by_post: defaultdict[tuple[CycleKey, int], list[int]] = defaultdict(list)
    for cycle_id, post_id, version_id in await session.execute(statement):
        by_post[(cycle_id, post_id)].append(version_id)
    return {
        (cycle_id, ratee_id): tuple(by_post.get((cycle_id, post_id), ()))
        for cycle_id, posts in post_of.items()
        for ratee_id, post_id in posts.items()
    }


async def pairs_where(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[Pair]:
    statement = (
        select(RaterAssignment.cycle_id, RaterAssignment.ratee_id, RaterAssignment.rater_id, RaterAssignment.role)
        .where(*conditions)
        .order_by(RaterAssignment.cycle_id, RaterAssignment.ratee_id, RaterAssignment.rater_id)
    )
    return [Pair(*row) for row in await session.execute(statement)]


async def rated_counts(session: AsyncSession, cycle_id: int, ratee_ids: Iterable[int]) -> dict[PairKey, int]:
    """How many distinct indicators each rater has rated each ratee on in the cycle."""
    statement = (
        select(Rating.ratee_id, Rating.rater_id, func.count(func.distinct(Rating.indicator_version_id)))
        .where(Rating.cycle_id == cycle_id, Rating.ratee_id.in_(set(ratee_ids)))
        .group_by(Rating.ratee_id, Rating.rater_id)
    )
    return {(ratee_id, rater_id): count for ratee_id, rater_id, count in await session.execute(statement)}


async def people_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, PersonRow]:
    statement = select(Employee.id, Employee.employee_no, Employee.name).where(Employee.id.in_(set(ids)))
    return {row.id: row for row in await session.execute(statement)}


class RatingTasksByRaterCycleLoader(SessionLoader[tuple[int, int], list[RatingTask], RatingTask]):
    """A rater's tasks, keyed by (rater id, cycle id), in ratee order: one session and five statements a batch."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[RatingTask]]:
        async with self.sessionmaker() as session:
            pairs = await pairs_where(
                session, tuple_(RaterAssignment.rater_id, RaterAssignment.cycle_id).in_(set(keys))
            )
            items = await people_rated_items(session, pairs)
            found_people = await people_by_id(session, {pair.ratee_id for pair in pairs})
            own = select_rows(Rating).where(tuple_(Rating.rater_id, Rating.cycle_id).in_(set(keys)))
            submitted = (await session.execute(own.order_by(Rating.indicator_version_id))).all()
        ratings: defaultdict[tuple[int, int, int], list[RatingRow]] = defaultdict(list)
        for rating in cast("Sequence[RatingRow]", submitted):
            ratings[(rating.cycle_id, rating.ratee_id, rating.rater_id)].append(rating)
        tasks: defaultdict[tuple[int, int], list[RatingTask]] = defaultdict(list)
        for pair in pairs:
            tasks[(pair.rater_id, pair.cycle_id)].append(
                RatingTask(
                    cycle_id=pair.cycle_id,
                    ratee=found_people[pair.ratee_id],
                    role=pair.role,
                    indicator_version_ids=items.get((pair.cycle_id, pair.ratee_id), ()),
                    ratings=tuple(ratings[(pair.cycle_id, pair.ratee_id, pair.rater_id)]),
                )
            )
        return [tasks.get(key, []) for key in keys]


def counted(pair: Pair, items: dict[tuple[CycleKey, int], tuple[int, ...]], rated: dict[PairKey, int]) -> bool:
    """Whether the pair's rater has rated every people-rated indicator of the ratee."""
    wanted = len(items.get((pair.cycle_id, pair.ratee_id), ()))
    return wanted > 0 and rated.get((pair.ratee_id, pair.rater_id), 0) >= wanted
