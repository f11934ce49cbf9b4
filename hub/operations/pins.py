"""What a cycle pinned that may not be meant: a scheme weighing an indicator version not in force for the period.

Opening a cycle pins each post's scheme version in force on the period's first day. That scheme may weigh an
indicator version that a newer version replaces before the period ends (or that only starts after the period
does): the cycle would then score the period by a definition HR has already changed. That is a warning, not a
refusal (finishing a period under the rules it started with can be intended): ``cycleOpen`` answers one
:class:`PinWarning` per such item, naming the version that takes over where there is one, so that HR can adopt
it (``indicatorVersionAdopt``) or let the cycle stand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.db.models import Cycle, CycleScheme, Indicator, IndicatorVersion, SchemeItem
from hub.operations.item_definitions import with_item_definitions


@dataclass(frozen=True, slots=True)
class PinWarning:
    """A pinned scheme version weighs an indicator version that is not in force for the whole cycle period."""

    post_id: int
    scheme_version_id: int
    indicator_version_id: int
    successor_id: int | None
    """The indicator's next version, which takes over within the period or is in force instead; None when none."""
    why: str


async def pin_warnings(session: AsyncSession, cycle: Cycle) -> list[PinWarning]:
    """The cycle's pinned items whose indicator version does not cover its whole period, by post and position."""
    start, end = cycle.period_start, cycle.period_end
    successor = aliased(IndicatorVersion)
    pinned = select(
        CycleScheme.post_id,
        CycleScheme.scheme_version_id,
        IndicatorVersion.id,
        IndicatorVersion.version,
        IndicatorVersion.effective_from,
        IndicatorVersion.effective_to,
        Indicator.code,
        successor.id.label("successor_id"),
        successor.version.label("successor_version"),
        successor.effective_from.label("successor_from"),
    ).join(SchemeItem, SchemeItem.scheme_version_id == CycleScheme.scheme_version_id)
    rows = await session.execute(
        with_item_definitions(pinned)
        .outerjoin(
            successor,
            and_(
                successor.indicator_id == IndicatorVersion.indicator_id,
                successor.version == IndicatorVersion.version + 1,
            ),
        )
        .where(CycleScheme.cycle_id == cycle.id)
        .where(or_(IndicatorVersion.effective_from > start, IndicatorVersion.effective_to < end))
        .order_by(CycleScheme.post_id, SchemeItem.position)
    )
    warnings = []
    for row in rows:
        named = f"{row.code} v{row.version}"
        if row.effective_from > start:
            why = f"{named} takes effect on {row.effective_from}, after the period starts on {start}"
        elif row.effective_to < start:
            why = f"{named} ended on {row.effective_to}, before the period starts on {start}"
        else:
            why = f"{named} ends on {row.effective_to}, before the period ends on {end}"
        if row.successor_id is not None:
            why += f"; v{row.successor_version} is in force from {row.successor_from}"
        warnings.append(PinWarning(row.post_id, row.scheme_version_id, row.id, row.successor_id, why))
    return warnings
