"""Retiring an indicator: from a day on nothing new uses it, and everything that used it stays readable.

A retired indicator keeps its versions, the scheme versions that weighed it and every result scored
under it; what retirement stops is the future: a new version of it effective on or after the day, and a
new scheme version effective on or after the day that lists one of its versions, are refused with
``IndicatorRetired``. Cycles that pinned a scheme using it before then score under it as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Indicator, IndicatorVersion
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import IndicatorRetired, InvalidInput, NotFound
from hub.operations.versions import latest_version, require_text


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorRetire:
    indicator_id: Annotated[int, IdOf("indicator")]
    retired_on: dt.date = described(
        "From this day on no new version of the indicator and no new scheme version using it is accepted."
    )
    reason: str = described("Why the indicator is retired; kept with it.")


@dataclass(frozen=True, slots=True)
class IndicatorRetirement:
    """An indicator's retirement as stored."""

    indicator_id: int
    retired_on: dt.date
    reason: str


async def retire_indicator(
    sessionmaker: async_sessionmaker[AsyncSession], command: IndicatorRetire, caller: Caller
) -> IndicatorRetirement:
    """Retire an indicator from a day after its latest version took effect; once retired, it stays retired."""
    reason = require_text(command.reason, "reason", 10_000)
    async with sessionmaker() as session, session.begin():
        # Locked like a new version (versions.create_indicator_version), so neither races the other.
        indicator = await session.scalar(
            select(Indicator).where(Indicator.id == command.indicator_id).with_for_update()
        )
        if indicator is None:
            raise NotFound("indicator", command.indicator_id, field="indicatorId")
        if indicator.retired_on is not None:
            raise IndicatorRetired(
                f"{indicator.code} is already retired from {indicator.retired_on.isoformat()}", field="indicatorId"
            )
        latest = await latest_version(session, IndicatorVersion, IndicatorVersion.indicator_id == indicator.id)
        if latest is not None and command.retired_on <= latest.effective_from:
            # Retiring before the latest version starts would leave a version that was never usable.
            raise InvalidInput(
                f"retiredOn must be after {latest.effective_from.isoformat()}, when the latest version took effect",
                field="retiredOn",
            )
        indicator.retired_on = command.retired_on
        indicator.retired_reason = reason
        await session.flush()
        await audit_change(session, caller.audit, f"indicator:{indicator.id}")
        return IndicatorRetirement(indicator.id, command.retired_on, reason)


async def refuse_retired(session: AsyncSession, version_ids: Collection[int], effective_from: dt.date) -> None:
    """IndicatorRetired (field ``items``) when a new scheme version effective ``effective_from`` lists a
    version of an indicator retired by then."""
    retired = (
        await session.execute(
            select(Indicator.code, Indicator.retired_on)
            .join(IndicatorVersion, IndicatorVersion.indicator_id == Indicator.id)
            .where(IndicatorVersion.id.in_(set(version_ids)), Indicator.retired_on <= effective_from)
            .order_by(Indicator.code)
        )
    ).first()
    if retired is not None:
        raise IndicatorRetired(
            f"{retired.code} is retired from {retired.retired_on.isoformat()}: a scheme from "
            f"{effective_from.isoformat()} cannot use it",
            field="items",
        )
