"""Versions that flow (issue 13, point 6): adopting an indicator version in every scheme that uses its indicator,
in one transaction, and the warning of a cycle that pins a version not in force for its period."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Indicator, IndicatorVersion, Post, SchemeItem, SchemeRaterWeight, SchemeVersion
from hub.demo.organisation import SeedSummary
from hub.operations import versions
from hub.operations.adoption import IndicatorVersionAdopt, adopt_indicator_version
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, CycleOpen, create_cycle, open_cycle
from hub.operations.errors import InvalidInput, NotFound, OverlappingDates
from tests.hub.operations.test_schemes import ROLES, counts, publish, rows

Sessions = async_sessionmaker[AsyncSession]
JAN, FEB = dt.date(2027, 1, 1), dt.date(2027, 2, 1)
CODE = "TEAMWORK"


async def new_version(sessionmaker: Sessions, effective_from: dt.date, code: str = CODE) -> int:
    """The next version of ``code``, the same definition as its latest one, effective ``effective_from``."""
    async with sessionmaker() as session:
        indicator = await session.scalar(select(Indicator.id).where(Indicator.code == code))
        latest = await versions.latest_version(session, IndicatorVersion, IndicatorVersion.indicator_id == indicator)
    assert latest is not None
    command = versions.IndicatorVersionCreateInput(
        indicator_id=latest.indicator_id,
        rule=latest.rule,
        source_system=latest.source_system,
        source_metric=latest.source_metric,
        effective_from=effective_from,
        change_note="anchors reworded",
    )
    return (await versions.create_indicator_version(sessionmaker, command, Caller("hr"))).version.id


async def schemes_using(sessionmaker: Sessions, code: str, day: dt.date) -> dict[int, int]:
    """Post id -> the id of its scheme version in force on ``day`` that weighs a version of ``code``."""
    found = (
        select(SchemeVersion.post_id, SchemeVersion.id)
        .join(SchemeItem, SchemeItem.scheme_version_id == SchemeVersion.id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(Indicator.code == code, SchemeVersion.effective_from <= day)
        .where((SchemeVersion.effective_to.is_(None)) | (SchemeVersion.effective_to >= day))
    )
    return {post: scheme for post, scheme in await rows(sessionmaker, found)}


async def definition(sessionmaker: Sessions, scheme_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A scheme version's (position, indicator version, weight) items and (role, weight) rater weights."""
    items = select(SchemeItem.position, SchemeItem.indicator_version_id, SchemeItem.weight).where(
        SchemeItem.scheme_version_id == scheme_id
    )
    roles = select(SchemeRaterWeight.role, SchemeRaterWeight.weight).where(
        SchemeRaterWeight.scheme_version_id == scheme_id
    )
    return sorted(await rows(sessionmaker, items)), sorted(await rows(sessionmaker, roles))


def adopt(version_id: int, day: dt.date = JAN, *also: int) -> IndicatorVersionAdopt:
    return IndicatorVersionAdopt(version_id, day, "TEAMWORK v2 in every scheme", also)


async def test_adopting_publishes_each_posts_next_scheme_with_the_item_swapped(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    before = await schemes_using(sessionmaker, CODE, JAN)
    assert len(before) > 1
    version = await new_version(sessionmaker, JAN)
    old = {post: await definition(sessionmaker, scheme) for post, scheme in before.items()}
    records = await adopt_indicator_version(sessionmaker, adopt(version), Caller("hr"))
    assert sorted(record.post_id for record in records) == sorted(before)
    for record in records:
        items, roles = await definition(sessionmaker, record.id)
        old_items, old_roles = old[record.post_id]
        assert roles == old_roles
        assert [(p, w) for p, _, w in items] == [(p, w) for p, _, w in old_items]
        changed = [(o[1], n[1]) for o, n in zip(old_items, items, strict=True) if o != n]
        assert len(changed) == 1 and changed[0][1] == version
        assert (record.effective_from, record.change_note) == (JAN, "TEAMWORK v2 in every scheme")
    async with sessionmaker() as session:
        closed = [(await session.get_one(SchemeVersion, scheme)).effective_to for scheme in before.values()]
    assert closed == [JAN - dt.timedelta(days=1)] * len(before)
    # Adopted already: a second call finds nothing to change and writes nothing.
    tables = await counts(sessionmaker)
    assert await adopt_indicator_version(sessionmaker, adopt(version), Caller("hr")) == []
    assert await counts(sessionmaker) == tables


async def test_a_post_that_cannot_take_it_leaves_every_post_unchanged(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    # The last post already has a scheme from February: January's would overlap it.
    last = max(using)
    items, _ = await definition(sessionmaker, using[last])
    await publish(sessionmaker, last, [(v, w) for _, v, w in items], effective_from=FEB, rater_weights=ROLES)
    version = await new_version(sessionmaker, JAN)
    snapshot = select(SchemeVersion.id, SchemeVersion.effective_to).order_by(SchemeVersion.id)
    tables, validity = await counts(sessionmaker), await rows(sessionmaker, snapshot)
    with pytest.raises(OverlappingDates) as refused:
        await adopt_indicator_version(sessionmaker, adopt(version), Caller("hr"))
    async with sessionmaker() as session:
        code = await session.scalar(select(Post.code).where(Post.id == last))
    assert refused.value.message.startswith(f"post {code}: ") and refused.value.field == "effectiveFrom"
    assert (await counts(sessionmaker), await rows(sessionmaker, snapshot)) == (tables, validity)


async def test_versions_taking_effect_together_are_adopted_together(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    assert using == await schemes_using(sessionmaker, "LEARNING", JAN)  # every scheme weighs both
    teamwork, learning = await new_version(sessionmaker, JAN), await new_version(sessionmaker, JAN, "LEARNING")
    tables = await counts(sessionmaker)
    # Alone, TEAMWORK v2 cannot move a scheme to a day on which its LEARNING v1 is no longer in force.
    with pytest.raises(InvalidInput) as refused:
        await adopt_indicator_version(sessionmaker, adopt(teamwork), Caller("hr"))
    assert "LEARNING v1" in refused.value.message and refused.value.field == "effectiveFrom"
    assert await counts(sessionmaker) == tables
    records = await adopt_indicator_version(sessionmaker, adopt(teamwork, JAN, learning), Caller("hr"))
    assert sorted(record.post_id for record in records) == sorted(using)
    assert all({teamwork, learning} <= {item.indicator_version_id for item in r.items} for r in records)


async def test_a_version_not_in_force_that_day_or_unknown_is_refused(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    version = await new_version(sessionmaker, JAN)
    tables = await counts(sessionmaker)
    with pytest.raises(InvalidInput) as refused:
        await adopt_indicator_version(sessionmaker, adopt(version, JAN - dt.timedelta(days=1)), Caller("hr"))
    assert refused.value.field == "effectiveFrom"
    for unknown, field in ((adopt(999_999), "indicatorVersionId"), (adopt(version, JAN, 999_999), "alsoAdopt")):
        with pytest.raises(NotFound) as missing:
            await adopt_indicator_version(sessionmaker, unknown, Caller("hr"))
        assert missing.value.field == field
    assert await counts(sessionmaker) == tables


async def test_opening_warns_of_a_pinned_version_that_ends_within_the_period(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    successor = await new_version(sessionmaker, FEB)
    period = CycleCreateInput(name="2027 Q1", period_start=JAN, period_end=dt.date(2027, 3, 31))
    cycle = await create_cycle(sessionmaker, period, Caller("hr"))
    opened = await open_cycle(sessionmaker, CycleOpen(cycle.id), Caller("hr"))
    assert {(w.post_id, w.scheme_version_id) for w in opened.warnings} == set(using.items())
    assert {w.successor_id for w in opened.warnings} == {successor}
    assert all("ends on 2027-01-31, before the period ends on 2027-03-31" in w.why for w in opened.warnings)


async def test_opening_after_the_adoption_warns_of_nothing(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    await adopt_indicator_version(sessionmaker, adopt(await new_version(sessionmaker, JAN)), Caller("hr"))
    period = CycleCreateInput(name="2027 Q1", period_start=JAN, period_end=dt.date(2027, 3, 31))
    cycle = await create_cycle(sessionmaker, period, Caller("hr"))
    assert (await open_cycle(sessionmaker, CycleOpen(cycle.id), Caller("hr"))).warnings == []
