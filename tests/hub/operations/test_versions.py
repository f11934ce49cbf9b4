"""Indicator versioning: version 1 with its indicator, later versions closing the previous one, refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import InvalidRule
from hub.db.models import Indicator, IndicatorVersion
from hub.domain import Direction, IndicatorCategory, MissingPolicy
from hub.operations import versions
from hub.operations.commands import Caller
from hub.operations.errors import DuplicateCode, InvalidInput, NotFound, OverlappingDates

Sessionmaker = async_sessionmaker[AsyncSession]
JAN = dt.date(2027, 1, 1)
APR = dt.date(2027, 4, 1)
LINEAR = {"kind": "linear", "floor": 10, "target": 2}
RATING = {"kind": "rating", "min": 1, "max": 5, "anchors": {"5": "Sets the standard for others."}}


async def count(sessionmaker: Sessionmaker, model: type[Indicator] | type[IndicatorVersion]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def extension(sessionmaker: Sessionmaker, **overrides: Any) -> versions.IndicatorVersionRecord:
    arguments: dict[str, Any] = {
        "code": "OVERTIME_HOURS",
        "name": "Overtime hours per month",
        "category": IndicatorCategory.EXTENSION,
        "unit": "h",
        "direction": Direction.LOWER_IS_BETTER,
        "rule": LINEAR,
        "source_system": "TIMESHEETS",
        "source_metric": "overtime_hours",
        "missing_policy": MissingPolicy.EXCLUDE,
        "effective_from": JAN,
        "change_note": None,
        "author": "hr.admin",
    } | overrides
    author = arguments.pop("author")
    command = versions.IndicatorCreateInput(**arguments)
    return (await versions.create_indicator(sessionmaker, command, Caller(author))).version


HR_EDIT: dict[str, Any] = {"rule": LINEAR, "missing_policy": MissingPolicy.EXCLUDE, "author": "hr"}
"""What the refused edits below change in a next version besides the part they are refused for."""


async def next_version(
    sessionmaker: Sessionmaker, indicator_id: int, effective_from: dt.date, **overrides: Any
) -> versions.IndicatorVersionRecord:
    arguments: dict[str, Any] = {
        "rule": {"kind": "linear", "floor": 8, "target": 1},
        "source_system": "TIMESHEETS",
        "source_metric": "overtime_hours",
        "missing_policy": MissingPolicy.ZERO,
        "change_note": "Stricter target after the staffing review.",
        "author": "hr.admin",
    } | overrides
    author = arguments.pop("author")
    command = versions.IndicatorVersionCreateInput(
        indicator_id=indicator_id, effective_from=effective_from, **arguments
    )
    return (await versions.create_indicator_version(sessionmaker, command, Caller(author))).version


async def test_a_new_version_closes_the_previous_one(sessionmaker: Sessionmaker) -> None:
    """Version 2 gets the next number and ends version 1 the day before it starts, leaving its rule alone."""
    first = await extension(sessionmaker)
    assert (first.version, first.effective_from, first.effective_to) == (1, JAN, None)
    assert first.rule == {"kind": "linear", "floor": 10.0, "target": 2.0}

    second = await next_version(sessionmaker, first.indicator_id, APR)

    assert (second.version, second.effective_from, second.effective_to) == (2, APR, None)
    assert second.change_note == "Stricter target after the staffing review."
    async with sessionmaker() as session:
        old = await session.get_one(IndicatorVersion, first.id)
    assert old.effective_to == dt.date(2027, 3, 31)
    assert (old.rule, old.missing_policy, old.effective_from) == (first.rule, first.missing_policy, JAN)


@pytest.mark.parametrize("effective_from", [JAN, dt.date(2026, 12, 1)], ids=["same-day", "earlier"])
async def test_an_overlapping_effective_date_stores_nothing(
    sessionmaker: Sessionmaker, effective_from: dt.date
) -> None:
    """A version that would not start after the latest one is refused and the latest stays open-ended."""
    first = await extension(sessionmaker)
    before = await count(sessionmaker, IndicatorVersion)

    with pytest.raises(OverlappingDates) as caught:
        await next_version(sessionmaker, first.indicator_id, effective_from)

    assert caught.value.field == "effectiveFrom"
    assert await count(sessionmaker, IndicatorVersion) == before
    async with sessionmaker() as session:
        assert (await session.get_one(IndicatorVersion, first.id)).effective_to is None


async def test_a_duplicate_code_is_refused(sessionmaker: Sessionmaker) -> None:
    """The code of a seeded indicator cannot be taken again, and nothing is stored."""
    async with sessionmaker() as session:
        taken = await session.scalar(select(Indicator.code).where(Indicator.category == IndicatorCategory.EXTENSION))
    assert taken is not None
    before = (await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion))

    with pytest.raises(DuplicateCode) as caught:
        await extension(sessionmaker, code=taken)

    assert caught.value.field == "code"
    assert (await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion)) == before


async def test_a_core_indicator_needs_a_rating_rule(sessionmaker: Sessionmaker) -> None:
    """A people-rated indicator with a linear rule is refused on the rule field, and nothing is stored."""
    before = (await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion))

    with pytest.raises(InvalidInput) as caught:
        await extension(
            sessionmaker,
            code="TEAMWORK_2",
            category=IndicatorCategory.CORE,
            source_system="MANUAL",
            source_metric=None,
        )

    assert caught.value.field == "rule"
    assert (await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion)) == before


async def test_a_core_indicator_with_a_rating_rule_is_created(sessionmaker: Sessionmaker) -> None:
    """A people-rated indicator with a manual source and a rating scale gets version 1."""
    record = await extension(
        sessionmaker,
        code="CUSTOMER_FOCUS",
        category=IndicatorCategory.CORE,
        direction=Direction.HIGHER_IS_BETTER,
        rule=RATING,
        source_system="MANUAL",
        source_metric=None,
    )
    assert (record.version, record.source_system, record.source_metric) == (1, "MANUAL", None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "overtime"}, "code"),
        ({"code": "X"}, "code"),
        ({"name": "  "}, "name"),
        ({"source_system": "MANUAL"}, "sourceSystem"),
        ({"source_metric": None}, "sourceMetric"),
        ({"author": ""}, "author"),
        ({"category": IndicatorCategory.CORE, "rule": RATING, "source_metric": None}, "sourceSystem"),
        ({"category": IndicatorCategory.CORE, "rule": RATING, "source_system": "MANUAL"}, "sourceMetric"),
    ],
    ids=[
        "lower-case-code",
        "short-code",
        "blank-name",
        "manual-extension",
        "no-metric",
        "no-author",
        "core-from-a-system",
        "core-with-a-metric",
    ],
)
async def test_bad_definitions_are_refused_on_their_field(
    sessionmaker: Sessionmaker, overrides: dict[str, Any], field: str
) -> None:
    """Each malformed part of a definition is refused with the field that names it, and nothing is stored."""
    before = await count(sessionmaker, Indicator)
    with pytest.raises(InvalidInput) as caught:
        await extension(sessionmaker, **overrides)
    assert caught.value.field == field
    assert await count(sessionmaker, Indicator) == before


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "linear", "floor": 2, "target": 10},
        {"kind": "linear", "flor": 10, "target": 2},
        {"kind": "curve"},
    ],
    ids=["against-the-direction", "typo", "unknown-kind"],
)
async def test_an_unusable_rule_raises_invalid_rule(sessionmaker: Sessionmaker, rule: dict[str, Any]) -> None:
    """A rule that does not parse, or rises where lower is better, passes InvalidRule through."""
    before = await count(sessionmaker, Indicator)
    with pytest.raises(InvalidRule):
        await extension(sessionmaker, rule=rule)
    assert await count(sessionmaker, Indicator) == before


async def test_a_new_version_is_checked_against_its_indicator(sessionmaker: Sessionmaker) -> None:
    """A later version of an extension indicator cannot switch to a manual source."""
    first = await extension(sessionmaker)
    with pytest.raises(InvalidInput) as caught:
        await next_version(
            sessionmaker,
            first.indicator_id,
            APR,
            **HR_EDIT,
            source_system="MANUAL",
            source_metric=None,
            change_note="Rated by hand.",
        )
    assert caught.value.field == "sourceSystem"


async def test_a_new_version_needs_a_change_note(sessionmaker: Sessionmaker) -> None:
    """A blank change note is refused: every change says why it was made."""
    first = await extension(sessionmaker)
    with pytest.raises(InvalidInput) as caught:
        await next_version(sessionmaker, first.indicator_id, APR, **HR_EDIT, change_note=" ")
    assert caught.value.field == "changeNote"


async def test_a_version_of_an_unknown_indicator_is_not_found(sessionmaker: Sessionmaker) -> None:
    """An indicator id that names nothing raises NotFound on indicatorId."""
    with pytest.raises(NotFound) as caught:
        await next_version(sessionmaker, 999_999, APR)
    assert (caught.value.entity, caught.value.field) == ("indicator", "indicatorId")
