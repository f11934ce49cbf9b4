"""Scoring's read step: every input of a cycle in a few statements, under the cycle's lock.

The pinned schemes (compiled once each) and the participants for the whole cycle; the measured values with their
provenance and the rating means per role one slice of participants at a time (:func:`read_measures`), so that
scoring holds the inputs of one slice, never of the whole organisation. The statements are one function each:
``bench.scoring`` times the same statements.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appraisal import CompiledScheme, SchemeItem, parse_rule
from hub.db.models import Cycle, CycleScheme, Indicator, IndicatorVersion, MetricValue, Rating, SchemeRaterWeight
from hub.db.models import SchemeItem as SchemeItemRow
from hub.domain import MANUAL_SOURCE, Direction, MissingPolicy, RaterRole
from hub.operations.batches import partitions
from hub.operations.item_definitions import with_item_definitions
from hub.operations.participation import Participant, participants


@dataclass(slots=True)
class Scheme:
    """A pinned scheme, compiled once, with which of its items are people-rated."""

    compiled: CompiledScheme
    manual_ids: frozenset[int]
    role_weights: dict[RaterRole, float]


def pins_statement(cycle_id: int) -> Select[int, int]:
    """(post id, the scheme version the cycle pinned for it)."""
    return select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle_id)


def scheme_items_statement(
    scheme_version_ids: Collection[int],
) -> Select[int, int, float, dict[str, object], MissingPolicy, str, Direction]:
    """The items of the scheme versions with their indicator version's definition, in position order."""
    items = select(
        SchemeItemRow.scheme_version_id,
        SchemeItemRow.indicator_version_id,
        SchemeItemRow.weight,
        IndicatorVersion.rule,
        IndicatorVersion.missing_policy,
        IndicatorVersion.source_system,
        Indicator.direction,
    )
    return (
        with_item_definitions(items)
        .where(SchemeItemRow.scheme_version_id.in_(scheme_version_ids))
        .order_by(SchemeItemRow.scheme_version_id, SchemeItemRow.position, SchemeItemRow.id)
    )


def rater_weights_statement(scheme_version_ids: Collection[int]) -> Select[int, RaterRole, float]:
    """The rater roles' weights of the scheme versions."""
    return select(SchemeRaterWeight.scheme_version_id, SchemeRaterWeight.role, SchemeRaterWeight.weight).where(
        SchemeRaterWeight.scheme_version_id.in_(scheme_version_ids)
    )


def metric_values_statement(
    cycle_id: int, first: int, last: int
) -> Select[int, int, float, str, str, dt.datetime, bool, str]:
    """The stored metric values of the cycle of the employees ``first``..``last`` (their ids, inclusive), with their
    provenance (a :data:`MeasuredValue` each)."""
    return select(
        MetricValue.employee_id,
        MetricValue.indicator_version_id,
        MetricValue.value,
        MetricValue.system,
        MetricValue.metric,
        MetricValue.fetched_at,
        MetricValue.stale,
        MetricValue.checksum,
    ).where(MetricValue.cycle_id == cycle_id, MetricValue.employee_id.between(first, last))


def rating_means_statement(cycle_id: int, first: int, last: int) -> Select[int, int, RaterRole, Decimal | float]:
    """(ratee, indicator version, rater role, mean rating) of the ratees ``first``..``last`` (their ids, inclusive),
    averaged in SQL (a Decimal on PostgreSQL)."""
    return (
        select(Rating.ratee_id, Rating.indicator_version_id, Rating.role, func.avg(Rating.value))
        .where(Rating.cycle_id == cycle_id, Rating.ratee_id.between(first, last))
        .group_by(Rating.ratee_id, Rating.indicator_version_id, Rating.role)
    )


async def _schemes(session: AsyncSession, cycle_id: int) -> tuple[dict[int, int], dict[int, Scheme]]:
    """post id -> pinned scheme version id, and each pinned scheme compiled."""
    pins = dict((await session.execute(pins_statement(cycle_id))).all())
    item_rows = (await session.execute(scheme_items_statement(set(pins.values())))).all()
    weight_rows = (await session.execute(rater_weights_statement(set(pins.values())))).all()
    items: defaultdict[int, list[SchemeItem]] = defaultdict(list)
    manual: defaultdict[int, set[int]] = defaultdict(set)
    for row in item_rows:
        items[row.scheme_version_id].append(
            SchemeItem(row.indicator_version_id, row.weight, parse_rule(row.rule), row.direction, row.missing_policy)
        )
        if row.source_system == MANUAL_SOURCE:
            manual[row.scheme_version_id].add(row.indicator_version_id)
    role_weights: defaultdict[int, dict[RaterRole, float]] = defaultdict(dict)
    for weight_row in weight_rows:
        role_weights[weight_row.scheme_version_id][weight_row.role] = weight_row.weight
    schemes = {
        scheme_id: Scheme(CompiledScheme(scheme_items), frozenset(manual[scheme_id]), role_weights[scheme_id])
        for scheme_id, scheme_items in items.items()
    }
    return pins, schemes


MeasuredValue: TypeAlias = Row[int, int, float, str, str, dt.datetime, bool, str]
"""A stored metric value with its provenance: (employee_id, indicator_version_id, value, system, metric,
fetched_at, stale, checksum)."""


async def _metric_values(
    session: AsyncSession, cycle_id: int, first: int, last: int
) -> dict[tuple[int, int], MeasuredValue]:
    values: dict[tuple[int, int], MeasuredValue] = {}
    async for rows in partitions(session, metric_values_statement(cycle_id, first, last)):
        values.update(((row.employee_id, row.indicator_version_id), row) for row in rows)
    return values


async def _rating_means(
    session: AsyncSession, cycle_id: int, first: int, last: int
) -> dict[tuple[int, int], dict[RaterRole, float]]:
    """(ratee, indicator version) -> mean rating per rater role, averaged in SQL."""
    means: defaultdict[tuple[int, int], dict[RaterRole, float]] = defaultdict(dict)
    async for rows in partitions(session, rating_means_statement(cycle_id, first, last)):
        for ratee_id, indicator_version_id, role, mean in rows:
            means[(ratee_id, indicator_version_id)][role] = float(mean)
    return means


@dataclass(slots=True)
class Inputs:
    """What scoring reads for the whole cycle, under the cycle's lock: the pinned schemes and the participants (in
    employee id order)."""

    pins: dict[int, int]
    schemes: dict[int, Scheme]
    people: list[Participant]


@dataclass(slots=True)
class Measures:
    """The measured values and rating means of one slice of participants."""

    metrics: dict[tuple[int, int], MeasuredValue]
    ratings: dict[tuple[int, int], dict[RaterRole, float]]


async def read_inputs(session: AsyncSession, cycle: Cycle) -> Inputs:
    pins, schemes = await _schemes(session, cycle.id)
    return Inputs(pins, schemes, await participants(session, cycle, list(pins)))


async def read_measures(session: AsyncSession, cycle_id: int, people: Sequence[Participant]) -> Measures:
    """The measured values and rating means of ``people`` (a slice of the participants, in employee id order),
    read by the range of their ids: two statements per slice, each a range scan of its table's unique index."""
    first, last = people[0].employee_id, people[-1].employee_id
    return Measures(
        await _metric_values(session, cycle_id, first, last), await _rating_means(session, cycle_id, first, last)
    )
