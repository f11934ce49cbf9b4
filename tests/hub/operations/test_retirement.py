"""Retiring an indicator: nothing new uses it from the day on, everything that used it stays as it was."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Indicator, IndicatorVersion
from hub.domain import IndicatorCategory
from hub.operations.commands import Caller
from hub.operations.errors import IndicatorRetired, InvalidInput, NotFound, OperationError
from hub.operations.retirement import IndicatorRetire, retire_indicator
from tests.hub.operations.test_schemes import core_and_extension, counts, latest_scheme, publish
from tests.hub.operations.test_versions import JAN, count, extension, next_version

Sessions = async_sessionmaker[AsyncSession]
MAR, JUN = dt.date(2027, 3, 1), dt.date(2027, 6, 1)


async def _retire(sessionmaker: Sessions, indicator_id: int, on: dt.date, reason: str = "replaced") -> None:
    await retire_indicator(
        sessionmaker, IndicatorRetire(indicator_id=indicator_id, retired_on=on, reason=reason), Caller("hr")
    )


async def test_a_retired_indicator_takes_no_new_version_from_its_retirement_on(sessionmaker: Sessions) -> None:
    """A version before the day is still a version; one on or after it is refused naming effectiveFrom."""
    first = await extension(sessionmaker)
    await _retire(sessionmaker, first.indicator_id, JUN, "measured by the new ticket system instead")
    async with sessionmaker() as session:
        stored = await session.get_one(Indicator, first.indicator_id)
    assert (stored.retired_on, stored.retired_reason) == (JUN, "measured by the new ticket system instead")
    before = await count(sessionmaker, IndicatorVersion)
    with pytest.raises(IndicatorRetired) as caught:
        await next_version(sessionmaker, first.indicator_id, JUN)
    assert (caught.value.code, caught.value.field) == ("INDICATOR_RETIRED", "effectiveFrom")
    assert await count(sessionmaker, IndicatorVersion) == before
    assert (await next_version(sessionmaker, first.indicator_id, MAR)).version == 2


async def test_a_scheme_from_the_retirement_on_cannot_use_it_and_one_before_can(sessionmaker: Sessions) -> None:
    previous = await latest_scheme(sessionmaker)
    core, measured = await core_and_extension(sessionmaker)
    async with sessionmaker() as session:
        indicator_id = await session.scalar(
            select(IndicatorVersion.indicator_id).where(IndicatorVersion.id == measured)
        )
    assert indicator_id is not None
    await _retire(sessionmaker, indicator_id, MAR)
    before = await counts(sessionmaker)
    with pytest.raises(IndicatorRetired) as caught:
        await publish(sessionmaker, previous.post_id, [(measured, 70), (core, 30)], effective_from=MAR)
    assert caught.value.field == "items"
    assert await counts(sessionmaker) == before
    # Before the day, the scheme may still use it; it stays readable with its versions ever after.
    published = await publish(sessionmaker, previous.post_id, [(measured, 70), (core, 30)], effective_from=JAN)
    assert [item.indicator_version_id for item in published.items] == [measured, core]


@pytest.mark.parametrize("case", ["already retired", "before the latest version", "blank reason", "unknown"])
async def test_a_retirement_the_rules_refuse_changes_nothing(sessionmaker: Sessions, case: str) -> None:
    first = await extension(sessionmaker)
    await next_version(sessionmaker, first.indicator_id, MAR)
    if case == "already retired":
        await _retire(sessionmaker, first.indicator_id, JUN)
    indicator_id = 10**9 if case == "unknown" else first.indicator_id
    on = MAR if case == "before the latest version" else dt.date(2027, 9, 1)
    reason = "   " if case == "blank reason" else "replaced"
    async with sessionmaker() as session:
        before = await session.get(Indicator, first.indicator_id)
        assert before is not None
        stored_before = before.retired_on
    expected: type[OperationError] = {"already retired": IndicatorRetired, "unknown": NotFound}.get(case, InvalidInput)
    with pytest.raises(expected) as caught:
        await _retire(sessionmaker, indicator_id, on, reason)
    assert (
        caught.value.field
        == {
            "already retired": "indicatorId",
            "before the latest version": "retiredOn",
            "blank reason": "reason",
            "unknown": "indicatorId",
        }[case]
    )
    async with sessionmaker() as session:
        after = await session.get_one(Indicator, first.indicator_id)
    assert after.retired_on == stored_before


async def test_core_indicators_retire_alike(sessionmaker: Sessions) -> None:
    """Retirement is about the indicator, whatever its category: a demo CORE indicator retires too."""
    async with sessionmaker() as session:
        core = await session.scalar(
            select(Indicator.id).where(Indicator.category == IndicatorCategory.CORE).order_by(Indicator.id).limit(1)
        )
    assert core is not None
    await _retire(sessionmaker, core, JUN)
    async with sessionmaker() as session:
        assert (await session.get_one(Indicator, core)).retired_on == JUN
