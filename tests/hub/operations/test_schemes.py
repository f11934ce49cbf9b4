"""Scheme versioning: publishing a post's next scheme version, refusals, and pinned versions left alone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import NonPositiveWeight, WeightsDoNotSum
from hub.db.models import CycleScheme, Indicator, IndicatorVersion, Post, SchemeItem, SchemeRaterWeight, SchemeVersion
from hub.demo.organisation import SeedSummary
from hub.domain import IndicatorCategory, RaterRole
from hub.operations import schemes
from hub.operations.commands import Caller
from hub.operations.errors import InvalidInput, NotFound, OverlappingDates

Sessionmaker = async_sessionmaker[AsyncSession]
JAN = dt.date(2027, 1, 1)
ROLES = {RaterRole.SELF: 10.0, RaterRole.MANAGER: 60.0, RaterRole.PEER: 20.0, RaterRole.SUBORDINATE: 10.0}
TABLES = (SchemeVersion, SchemeItem, SchemeRaterWeight)


async def counts(sessionmaker: Sessionmaker) -> tuple[int, ...]:
    async with sessionmaker() as session:
        return tuple([int(await session.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES])


async def current_version(sessionmaker: Sessionmaker, category: IndicatorCategory) -> int:
    """The id of an open-ended (so in force in 2027) version of some indicator of ``category``."""
    async with sessionmaker() as session:
        version_id = await session.scalar(
            select(IndicatorVersion.id)
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
            .where(Indicator.category == category, IndicatorVersion.effective_to.is_(None))
            .order_by(IndicatorVersion.effective_from, IndicatorVersion.id)
            .limit(1)
        )
    assert version_id is not None
    return version_id


async def latest_scheme(sessionmaker: Sessionmaker, post_code: str = "FIN-01") -> SchemeVersion:
    async with sessionmaker() as session:
        scheme = await session.scalar(
            select(SchemeVersion)
            .join(Post, Post.id == SchemeVersion.post_id)
            .where(Post.code == post_code)
            .order_by(SchemeVersion.version.desc())
            .limit(1)
        )
    assert scheme is not None
    return scheme


async def publish(
    sessionmaker: Sessionmaker, post_id: int, items: list[tuple[int, float]], **overrides: Any
) -> schemes.SchemeVersionRecord:
    arguments: dict[str, Any] = {
        "post_id": post_id,
        "items": items,
        "rater_weights": ROLES,
        "effective_from": JAN,
        "change_note": "Heavier weight on the finance metric.",
        "author": "hr.admin",
    } | overrides
    author = arguments.pop("author")
    arguments["items"] = tuple(schemes.SchemeItemInput(indicator_version_id=i, weight=w) for i, w in arguments["items"])
    arguments["rater_weights"] = tuple(
        schemes.RaterWeightInput(role=r, weight=w) for r, w in arguments["rater_weights"].items()
    )
    return await schemes.publish_scheme_version(
        sessionmaker, schemes.SchemeVersionPublishInput(**arguments), Caller(author)
    )


async def rows(sessionmaker: Sessionmaker, statement: Any) -> list[tuple[Any, ...]]:
    """The rows ``statement`` reads, as tuples."""
    async with sessionmaker() as session:
        return [tuple(row) for row in await session.execute(statement)]


async def refused_on(sessionmaker: Sessionmaker, items: list[tuple[int, float]]) -> str | None:
    """The field InvalidInput names when the next scheme of the latest one's post is published with ``items``."""
    previous = await latest_scheme(sessionmaker)
    with pytest.raises(InvalidInput) as caught:
        await publish(sessionmaker, previous.post_id, items)
    return caught.value.field


async def core_and_extension(sessionmaker: Sessionmaker) -> tuple[int, int]:
    return (
        await current_version(sessionmaker, IndicatorCategory.CORE),
        await current_version(sessionmaker, IndicatorCategory.EXTENSION),
    )


async def test_publishing_numbers_the_next_version_and_closes_the_previous(
    sessionmaker: Sessionmaker,
) -> None:
    """A 30/70 scheme for a demo post becomes version n+1 and ends version n the day before."""
    previous = await latest_scheme(sessionmaker)
    assert previous.effective_to is None
    core, measured = await core_and_extension(sessionmaker)

    record = await publish(sessionmaker, previous.post_id, [(measured, 70), (core, 30)])

    assert (record.version, record.effective_from, record.effective_to) == (previous.version + 1, JAN, None)
    assert [(i.indicator_version_id, i.weight, i.position) for i in record.items] == [
        (measured, 70.0, 0),
        (core, 30.0, 1),
    ]
    assert {r.role: r.weight for r in record.rater_weights} == ROLES
    assert (await latest_scheme(sessionmaker)).id == record.id
    async with sessionmaker() as session:
        closed = await session.get_one(SchemeVersion, previous.id)
    stored = await rows(
        sessionmaker,
        select(SchemeItem.indicator_version_id, SchemeItem.position)
        .where(SchemeItem.scheme_version_id == record.id)
        .order_by(SchemeItem.position),
    )
    assert closed.effective_to == dt.date(2026, 12, 31)
    assert [tuple(row) for row in stored] == [(measured, 0), (core, 1)]


@pytest.mark.parametrize(("weights", "error"), [((30, 69), WeightsDoNotSum), ((0, 100), NonPositiveWeight)])
async def test_weights_not_adding_up_to_100_store_nothing(
    sessionmaker: Sessionmaker, weights: tuple[float, float], error: type[WeightsDoNotSum]
) -> None:
    """Weights of 99 (or a zero weight) raise the scoring error with its code and write no row anywhere."""
    previous = await latest_scheme(sessionmaker)
    core, measured = await core_and_extension(sessionmaker)
    before = await counts(sessionmaker)

    with pytest.raises(error) as caught:
        await publish(sessionmaker, previous.post_id, [(core, weights[0]), (measured, weights[1])])

    assert caught.value.code == error.code
    assert await counts(sessionmaker) == before
    assert (await latest_scheme(sessionmaker)).effective_to is None


async def test_an_unknown_indicator_version_is_not_found(sessionmaker: Sessionmaker) -> None:
    """An item naming no indicator version raises NotFound on items, and nothing is stored."""
    previous = await latest_scheme(sessionmaker)
    core = await current_version(sessionmaker, IndicatorCategory.CORE)
    before = await counts(sessionmaker)

    with pytest.raises(NotFound) as caught:
        await publish(sessionmaker, previous.post_id, [(core, 30), (999_999, 70)])

    assert (caught.value.entity, caught.value.field) == ("indicatorVersion", "items")
    assert await counts(sessionmaker) == before


async def test_an_unknown_post_is_not_found(sessionmaker: Sessionmaker) -> None:
    """A post id that names nothing raises NotFound on postId."""
    core, measured = await core_and_extension(sessionmaker)
    with pytest.raises(NotFound) as caught:
        await publish(sessionmaker, 999_999, [(core, 30), (measured, 70)])
    assert (caught.value.entity, caught.value.field) == ("post", "postId")


async def test_a_later_version_leaves_the_pinned_schemes_unchanged(
    sessionmaker: Sessionmaker, seeded: SeedSummary
) -> None:
    """Cycle pins, and the pinned version's items and rater weights, read the same after a new version."""
    previous = await latest_scheme(sessionmaker)
    cycles = (seeded.past_cycle_id, seeded.current_cycle_id)

    async def snapshot() -> tuple[list[Any], list[Any], list[Any]]:
        pins = select(CycleScheme.cycle_id, CycleScheme.post_id, CycleScheme.scheme_version_id).where(
            CycleScheme.cycle_id.in_(cycles)
        )
        items = select(SchemeItem.id, SchemeItem.indicator_version_id, SchemeItem.weight, SchemeItem.position).where(
            SchemeItem.scheme_version_id == previous.id
        )
        roles = select(SchemeRaterWeight.role, SchemeRaterWeight.weight).where(
            SchemeRaterWeight.scheme_version_id == previous.id
        )
        return (
            await rows(sessionmaker, pins.order_by(CycleScheme.id)),
            await rows(sessionmaker, items.order_by(SchemeItem.id)),
            await rows(sessionmaker, roles.order_by(SchemeRaterWeight.id)),
        )

    before = await snapshot()
    async with sessionmaker() as session:
        assert await schemes.scheme_version_in_use(session, previous.id)
    assert (seeded.current_cycle_id, previous.post_id, previous.id) in before[0]
    assert before[1] and before[2]

    core, measured = await core_and_extension(sessionmaker)
    record = await publish(sessionmaker, previous.post_id, [(core, 30), (measured, 70)])

    assert await snapshot() == before
    async with sessionmaker() as session:
        assert await schemes.scheme_version_in_use(session, previous.id)
        assert not await schemes.scheme_version_in_use(session, record.id)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rater_weights": {}}, "raterWeights"),
        ({"rater_weights": {RaterRole.MANAGER: 90.0}}, "raterWeights"),
        ({"rater_weights": {RaterRole.MANAGER: 110.0, RaterRole.PEER: -10.0}}, "raterWeights"),
        ({"change_note": None}, "changeNote"),
        ({"author": " "}, "author"),
        ({"items": []}, "items"),
    ],
    ids=[
        "core-without-rater-weights",
        "rater-weights-to-90",
        "negative-rater-weight",
        "no-change-note",
        "no-author",
        "no-items",
    ],
)
async def test_bad_schemes_are_refused_on_their_field(
    sessionmaker: Sessionmaker, overrides: dict[str, Any], field: str
) -> None:
    """Each malformed part of a scheme is refused with the field that names it, and nothing is stored."""
    previous = await latest_scheme(sessionmaker)
    core, measured = await core_and_extension(sessionmaker)
    before = await counts(sessionmaker)
    with pytest.raises(InvalidInput) as caught:
        await publish(sessionmaker, previous.post_id, **({"items": [(core, 30), (measured, 70)]} | overrides))
    assert caught.value.field == field
    assert await counts(sessionmaker) == before


async def test_an_indicator_may_appear_only_once(sessionmaker: Sessionmaker) -> None:
    """Two versions of one indicator in one scheme are refused on items."""
    core = await current_version(sessionmaker, IndicatorCategory.CORE)
    assert await refused_on(sessionmaker, [(core, 50), (core, 50)]) == "items"


async def test_every_indicator_version_must_be_in_force(sessionmaker: Sessionmaker) -> None:
    """A closed indicator version cannot be used from a date after its validity ended."""
    async with sessionmaker() as session:
        closed = await session.scalar(
            select(IndicatorVersion.id).where(IndicatorVersion.effective_to.is_not(None)).limit(1)
        )
    assert closed is not None
    core = await current_version(sessionmaker, IndicatorCategory.CORE)
    assert await refused_on(sessionmaker, [(core, 30), (closed, 70)]) == "items"


async def test_a_scheme_must_start_after_the_latest_one(sessionmaker: Sessionmaker) -> None:
    """A scheme version effective on its predecessor's start date overlaps it and is refused."""
    previous = await latest_scheme(sessionmaker)
    core, measured = await core_and_extension(sessionmaker)
    before = await counts(sessionmaker)
    with pytest.raises(OverlappingDates) as caught:
        await publish(
            sessionmaker,
            previous.post_id,
            [(core, 30), (measured, 70)],
            effective_from=previous.effective_from,
        )
    assert caught.value.field == "effectiveFrom"
    assert await counts(sessionmaker) == before


async def test_a_core_scheme_without_rater_weights_is_told_what_to_pass_and_the_example_works(
    sessionmaker: Sessionmaker,
) -> None:
    """No default decides HR's policy: the refusal says what raterWeights is and gives an example, which is
    accepted as it stands."""
    previous = await latest_scheme(sessionmaker)
    core, measured = await core_and_extension(sessionmaker)
    items: list[tuple[int, float]] = [(core, 30), (measured, 70)]
    with pytest.raises(InvalidInput) as caught:
        await publish(sessionmaker, previous.post_id, items=items, rater_weights={})
    example = re.findall(r"\{role: (\w+), weight: (\d+)\}", caught.value.message)
    assert len(example) >= 2 and "raterWeights: [" in caught.value.message
    record = await publish(
        sessionmaker, previous.post_id, items=items, rater_weights={RaterRole(r): float(w) for r, w in example}
    )
    assert {r.role.value: r.weight for r in record.rater_weights} == {r: float(w) for r, w in example}
