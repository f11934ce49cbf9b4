"""The white paper's insights: how the top grade differs from the rest, and who shows attrition signals.

``high_performer_profile`` reads sums from SQL (``hub.analytics.profile``: three statements whatever the
number of results) and releases each figure only under the access policy's minimum group size ``m``
(``hub.policy.minimum_group_size``: 1 for hr_admin). An insider who sees this profile also sees the cycle's
``scoreStatistics`` and ``schemeDiagnostics``, which describe the whole of which top and rest are the two
halves; so

* a side of a comparison (the top grade or the rest) is withheld when it has fewer than ``m`` people
  (``SMALL_GROUP``), and so is the other side (``SMALL_COMPLEMENT``): the whole less a large side is the small one;
* the shares per post and per tenure band form tables whose cells (post or band, top or rest) pass
  ``resolvers.disclosure.releasable``: a row with a small cell is withheld, and so is the smallest row needed
  so that no total less the shown rows leaves a small group (``TABLE_TOTALS``);
* for an analyst without the names grant every figure covers only results in (department, post, grade)
  cells of at least ``m``, the cells ``scoreStatistics`` grouped by grade shows them; the people of large
  (department, post) cells that this leaves out are what its ungrouped figures have more, so a comparison
  or row that leaves out between 1 and ``m - 1`` of them is withheld too (``TABLE_TOTALS``).

``attrition_signals`` applies ``hub.analytics.attrition``'s rules to the people in reach, reading their
training through the request's training loader (one call per batch of employees).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, case, false, literal, select

from hub import policy
from hub.analytics.attrition import (
    HISTORY,
    AttritionFlag,
    Standing,
    category_means_statement,
    ranked_history,
    result_flags,
    training_flag,
)
from hub.analytics.profile import (
    TOP_GRADE,
    Moments,
    TenureBand,
    Withheld,
    group_statement,
    hedges_g,
    indicator_statement,
)
from hub.db.models import AppraisalResult
from hub.domain import Grade
from resolvers import cycle_ids as ids
from resolvers.context import Context
from resolvers.disclosure import Cell, Key, releasable
from resolvers.errors import SystemFailure
from resolvers.small_groups import in_large_result_cell


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """One side of a comparison: its size, mean and sample standard deviation, or the reason they are null."""

    count: int | None
    mean: float | None
    stddev: float | None
    withheld: Withheld | None


@dataclass(frozen=True, slots=True)
class Contrast:
    """The top grade against the rest on one measure (0-100 scale)."""

    top: GroupFigures
    rest: GroupFigures
    difference: float | None
    hedges_g: float | None


@dataclass(frozen=True, slots=True)
class IndicatorContrast:
    """The top grade against the rest on one indicator's normalised scores (every version of it)."""

    indicator_id: int
    comparison: Contrast


@dataclass(frozen=True, slots=True)
class TopShare:
    """How many people of a post or tenure band hold the top grade."""

    post_id: int | None
    band: TenureBand | None
    count: int | None
    top_count: int | None
    top_share: float | None
    withheld: Withheld | None


@dataclass(frozen=True, slots=True)
class HighPerformerProfile:
    cycle_id: int
    top_grade: Grade
    minimum_group_size: int
    total: Contrast
    indicators: list[IndicatorContrast]
    posts: list[TopShare]
    tenure: list[TopShare]
    note: str | None = None


Counts = Mapping[Key, int]
"""People per cell: a grade, or a post or tenure band and a grade (the values as strings)."""


def _reason(
    own: set[Key], other: set[Key], small: set[Key], withheld: set[Key], sizes: tuple[int, int] | None = None
) -> Withheld | None:
    """Why a row or a side made of the cells ``own`` is withheld. A row's figures include each of its cells (its
    top count is one), so a small cell is its SMALL_GROUP. A side of a comparison is a union of grade cells, with
    ``sizes`` (its people, the other side's, against the minimum: (own < m, other < m) as 1 or 0): SMALL_GROUP only
    when it is small itself, SMALL_COMPLEMENT when the other side is, else TABLE_TOTALS (a small grade inside
    it, or beside it, that the whole less the grades shown would give away)."""
    if not own & withheld:
        return None
    if sizes is None:
        if own & small:
            return Withheld.SMALL_GROUP
        return Withheld.SMALL_COMPLEMENT if other & small else Withheld.TABLE_TOTALS
    own_small, other_small = sizes
    if own_small:
        return Withheld.SMALL_GROUP
    return Withheld.SMALL_COMPLEMENT if other_small and other & small else Withheld.TABLE_TOTALS


def _table(kept: Counts, every: Counts, minimum: int) -> tuple[set[Key], set[Key]]:
    """(small cells, withheld cells) of a table whose last dimension is the grade, as ``scoreStatistics``
    grouped by grade decides them: ``kept`` counts the people the figures cover, ``every`` also those a
    pseudonymous table leaves out (``Cell.outer``)."""
    cells = {
        key: Cell(members=kept.get(key, 0), unfiltered=kept.get(key, 0), outer=count) for key, count in every.items()
    }
    width = len(next(iter(cells))) if cells else 1
    small = {key for key, cell in cells.items() if not policy.releasable_cell(cell.members, cell.unfiltered, minimum)}
    return small, set(cells) - releasable(cells, minimum, outer=width - 1)


def contrast(moments: Mapping[Grade, Moments], every: Mapping[Grade, int], minimum: int) -> Contrast:
    """The top grade against the other grades together, each side released only when every grade cell it
    covers is (see the module's docstring)."""
    small, withheld = _table(
        {(grade.value,): found.count for grade, found in moments.items()},
        {(grade.value,): count for grade, count in every.items()},
        minimum,
    )
    top_keys: set[Key] = {(grade.value,) for grade in every if grade is TOP_GRADE}
    rest_keys: set[Key] = {(grade.value,) for grade in every if grade is not TOP_GRADE}
    top = sum((found for grade, found in moments.items() if grade is TOP_GRADE), Moments())
    rest = sum((found for grade, found in moments.items() if grade is not TOP_GRADE), Moments())
    top_small, rest_small = int(top.count < minimum), int(rest.count < minimum)
    shown_top = _figures(top, _reason(top_keys, rest_keys, small, withheld, (top_small, rest_small)))
    shown_rest = _figures(rest, _reason(rest_keys, top_keys, small, withheld, (rest_small, top_small)))
    if shown_top.mean is None or shown_rest.mean is None:
        return Contrast(shown_top, shown_rest, None, None)
    return Contrast(shown_top, shown_rest, shown_top.mean - shown_rest.mean, hedges_g(top, rest))


def _figures(side: Moments, reason: Withheld | None) -> GroupFigures:
    if reason is not None:
        return GroupFigures(None, None, None, reason)
    return GroupFigures(side.count, side.mean, side.stddev, None)


def shares(kept: Counts, every: Counts, minimum: int) -> dict[str, TopShare]:
    """Per row (a post id or a tenure band, the first of each key): its people and top-grade people; only its
    people when one of its (row, grade) cells is withheld."""
    small, withheld = _table(kept, every, minimum)
    rows: dict[str, TopShare] = {}
    for row in sorted({key[0] for key in every}):
        own = {key for key in every if key[0] == row}
        reason = _reason(own, set(), small, withheld)
        if reason is not None:
            # The row's size stays: scoreStatistics lists a withheld group with its size too (the people of
            # large (department, post) cells, for a pseudonymous caller); only the top count would tell.
            rows[row] = TopShare(None, None, sum(every[key] for key in own), None, None, reason)
            continue
        count, top = sum(kept.get(key, 0) for key in own), kept.get((row, TOP_GRADE.value), 0)
        rows[row] = TopShare(None, None, count, top, top / count if count else None, None)
    return rows


async def high_performer_profile(context: Context, cycle_id: str) -> HighPerformerProfile:
    """The profile of a cycle's top grade within the caller's reach; NOT_FOUND for an unknown cycle."""
    cycle = await ids.known_cycle(context, cycle_id)
    cycle_key = cycle.id
    minimum = policy.minimum_group_size(context.principal, context.settings)
    conditions: list[ColumnElement[bool]] = list(context.scope.results())
    kept: ColumnElement[int] = literal(1)
    if context.pseudonyms is not None:
        conditions.append(in_large_result_cell(minimum, context.scope.results()))
        kept = case((in_large_result_cell(minimum, context.scope.results(), by_grade=True), 1), else_=0)
    async with context.sessionmaker() as session:
        groups = (await session.execute(group_statement(cycle_key, conditions, cycle.period_end, kept))).all()
        indicators = (await session.execute(indicator_statement(cycle_key, conditions, kept))).all()
    total: defaultdict[Grade, Moments] = defaultdict(Moments)
    every: defaultdict[Grade, int] = defaultdict(int)
    post_kept: defaultdict[Key, int] = defaultdict(int)
    post_every: defaultdict[Key, int] = defaultdict(int)
    band_kept: defaultdict[Key, int] = defaultdict(int)
    band_every: defaultdict[Key, int] = defaultdict(int)
    for post_id, band, grade, in_cell, count, summed, squares in groups:
        every[grade] += count
        post_every[(str(post_id), grade.value)] += count
        band_every[(band, grade.value)] += count
        if in_cell:
            total[grade] += Moments(count, summed, squares)
            post_kept[(str(post_id), grade.value)] += count
            band_kept[(band, grade.value)] += count
    posts = shares(post_kept, post_every, minimum)
    bands = shares(band_kept, band_every, minimum)
    compared = contrast(total, every, minimum)
    return HighPerformerProfile(
        cycle_id=cycle_key,
        top_grade=TOP_GRADE,
        minimum_group_size=minimum,
        total=compared,
        note=blocker(compared, total, minimum, named=context.pseudonyms is None),
        indicators=_indicator_contrasts(indicators, minimum),
        posts=[dataclasses.replace(share, post_id=int(row)) for row, share in posts.items()],
        # Bands in their natural order, shortest service first and UNKNOWN last (the enum's), not alphabetically.
        tenure=[dataclasses.replace(bands[band.value], band=band) for band in TenureBand if band.value in bands],
    )


def blocker(compared: Contrast, moments: Mapping[Grade, Moments], minimum: int, named: bool) -> str | None:
    """Why the comparison on the total is withheld when one side is a small group, in words: the side, its
    size (``named``: a caller who reads the rows anyway; a pseudonymous caller is not told a size) and the
    minimum; None when neither side is withheld as small."""
    sides = (
        (f"the top grade ({TOP_GRADE})", compared.top, compared.rest, [TOP_GRADE]),
        ("the other grades together", compared.rest, compared.top, [grade for grade in moments if grade != TOP_GRADE]),
    )
    for words, side, other, grades in sides:
        if side.withheld is not Withheld.SMALL_GROUP:
            continue
        people = sum(moments[grade].count for grade in grades if grade in moments)
        size = f"has {people} {'person' if people == 1 else 'people'}, fewer than" if named else "has fewer people than"
        then = (
            ", and so are the other side's (the whole, shown elsewhere, less one side is the other)"
            if other.withheld is Withheld.SMALL_COMPLEMENT
            else ""
        )
        return f"{words} {size} the minimum group size {minimum}: its figures are withheld{then}"
    return None


def _indicator_contrasts(
    rows: Iterable[Row[int, Grade, int, int, float, float]], minimum: int
) -> list[IndicatorContrast]:
    moments: defaultdict[int, defaultdict[Grade, Moments]] = defaultdict(lambda: defaultdict(Moments))
    every: defaultdict[int, defaultdict[Grade, int]] = defaultdict(lambda: defaultdict(int))
    for indicator_id, grade, in_cell, count, summed, squares in rows:
        every[indicator_id][grade] += count
        if in_cell:
            moments[indicator_id][grade] += Moments(count, summed, squares)
    return [IndicatorContrast(key, contrast(moments[key], counts, minimum)) for key, counts in sorted(every.items())]


@dataclass(frozen=True, slots=True)
class AttritionSignal:
    """A person the rules flagged in a cycle, with every flag raised."""

    employee_id: int
    result_id: int
    flags: list[AttritionFlag]


@dataclass(frozen=True, slots=True)
class AttritionSignals:
    cycle_id: int
    people: list[AttritionSignal]
    training_checked: bool
    training_error: str | None


async def attrition_signals(context: Context, cycle_id: str) -> AttritionSignals:
    """The people in the caller's attrition reach flagged in the cycle, by employee id; NOT_FOUND for an unknown
    cycle. A failing training system leaves TRAINING_STOPPED unchecked and says so."""
    cycle = await ids.known_cycle(context, cycle_id)
    cycle_key = cycle.id
    reach = list(context.scope.results())
    if not policy.reads_every_attrition_signal(context.principal):
        managed = context.scope.managed_ids()
        reach.append(false() if managed is None else AppraisalResult.employee_id.in_(managed))
    async with context.sessionmaker() as session:
        ranked = ranked_history(cycle_key, cycle.period_start, reach)
        history = select(ranked).where(ranked.c.n <= HISTORY).order_by(ranked.c.employee_id, ranked.c.n)
        rows = (await session.execute(history)).all()
        recent = select(ranked.c.result_id).where(ranked.c.n <= 2)
        means = {row[0]: (row[1], row[2]) for row in await session.execute(category_means_statement(recent))}
    people: dict[int, tuple[str, int, list[Standing]]] = {}
    for row in rows:
        core, extension = means.get(row.result_id, (None, None))
        standing = Standing(
            row.result_id, row.cycle_id, row.period_start, row.period_end, row.total_score, core, extension
        )
        people.setdefault(row.employee_id, (row.employee_no, row.result_id, []))[2].append(standing)
    flags = {employee_id: result_flags(standings) for employee_id, (_, _, standings) in people.items()}
    error = await _training_flags(context, people, flags)
    signals = [
        AttritionSignal(employee_id, people[employee_id][1], raised)
        for employee_id, raised in sorted(flags.items())
        if raised
    ]
    return AttritionSignals(cycle_key, signals, error is None, error)


async def _training_flags(
    context: Context,
    people: dict[int, tuple[str, int, list[Standing]]],
    flags: dict[int, list[AttritionFlag]],
) -> str | None:
    """Adds TRAINING_STOPPED to ``flags``: the training of everyone with a previous result, since its cycle
    began, through the request's loader (a call per batch); the system's error when it could not answer."""
    asked = {employee_id: found for employee_id, found in people.items() if len(found[2]) >= 2}
    loader = context.loaders.training_records_by_employee
    answers = await asyncio.gather(
        *(loader.load((number, standings[1].period_start)) for number, _, standings in asked.values()),
        return_exceptions=True,
    )
    error = None
    for (employee_id, (_, _, standings)), answer in zip(asked.items(), answers, strict=True):
        if isinstance(answer, SystemFailure):
            error = answer.message
            continue
        if isinstance(answer, BaseException):
            raise answer
        stopped = training_flag(standings, (record.completed_on for record in answer), context.today)
        if stopped is not None:
            flags[employee_id].append(stopped)
    return error
