"""Each indicator version may declare its valid range: checked when declared, and by import and rating alike."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Indicator, IndicatorVersion, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import IndicatorCategory, RaterRole
from hub.operations.commands import Caller
from hub.operations.errors import ImportRejected, InvalidInput, RowProblem
from hub.operations.metrics import MetricValuesImport, import_metric_values
from hub.operations.ranges import ValidRange, checked_bounds, valid_range
from tests.conftest import TODAY
from tests.hub.operations.test_metrics_import import _csv, _measured
from tests.hub.operations.test_ratings import _pair, _rate, _version
from tests.hub.operations.test_versions import count, extension, next_version

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime.combine(TODAY, dt.time(6), tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("unit", "declared", "expected"),
    [
        ("%", (None, None), ValidRange(0.0, 100.0)),
        ("percent", (10.0, None), ValidRange(10.0, 100.0)),
        ("%", (None, 150.0), ValidRange(0.0, 150.0)),
        ("days", (None, None), ValidRange(None, None)),
        (None, (1.0, 5.0), ValidRange(1.0, 5.0)),
    ],
)
def test_a_percentage_lies_in_0_100_at_the_ends_it_does_not_declare(
    unit: str | None, declared: tuple[float | None, float | None], expected: ValidRange
) -> None:
    assert valid_range(unit, *declared) == expected


def test_a_range_names_what_lies_outside_it() -> None:
    days = ValidRange(None, 60.0)
    assert days.problem(60) is None and days.problem(-5) is None
    assert days.problem(61) == "the value 61 is outside the valid range -inf..60"
    assert days.problem(math.nan) == "the value nan is not a finite number"
    assert ValidRange().problem(1e300) is None


@pytest.mark.parametrize(
    ("bounds", "field"), [((5.0, 5.0), "validMin"), ((6.0, 1.0), "validMin"), ((math.inf, None), "validMin")]
)
def test_a_declared_range_must_be_finite_with_min_below_max(
    bounds: tuple[float | None, float | None], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        checked_bounds(*bounds)
    assert caught.value.field == field
    assert checked_bounds(None, 3.0) == (None, 3.0)


async def test_versions_store_their_range_and_a_bad_one_writes_nothing(sessionmaker: Sessions) -> None:
    created = await extension(sessionmaker, valid_min=0.0, valid_max=200.0)
    assert (created.valid_min, created.valid_max) == (0.0, 200.0)
    later = await next_version(
        sessionmaker, created.indicator_id, dt.date(2027, 4, 1), change_note="tighter", valid_max=160.0
    )
    assert (later.valid_min, later.valid_max) == (None, 160.0)
    indicators, versions = await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion)
    with pytest.raises(InvalidInput) as caught:
        await extension(sessionmaker, code="ANOTHER_ONE", valid_min=10.0, valid_max=1.0)
    assert caught.value.field == "validMin"
    with pytest.raises(InvalidInput):
        await next_version(
            sessionmaker, created.indicator_id, dt.date(2027, 7, 1), change_note="x", valid_min=3.0, valid_max=3.0
        )
    assert (await count(sessionmaker, Indicator), await count(sessionmaker, IndicatorVersion)) == (indicators, versions)


async def _declare(sessionmaker: Sessions, code: str, **bounds: float) -> None:
    """Give every version of the indicator ``code`` a declared range (as a new version would declare it)."""
    async with sessionmaker() as session, session.begin():
        indicator = select(Indicator.id).where(Indicator.code == code).scalar_subquery()
        await session.execute(update(IndicatorVersion).where(IndicatorVersion.indicator_id == indicator).values(bounds))


async def test_an_import_refuses_a_value_outside_the_declared_range(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """REIMBURSEMENT_CYCLE in days, declared 0..60: 61 and -1 are line problems, 60 and 0 are values."""
    cycle = seeded.current_cycle_id
    await _declare(sessionmaker, "REIMBURSEMENT_CYCLE", valid_min=0.0, valid_max=60.0)
    people = [m.employee_no for m in await _measured(sessionmaker, cycle) if m.code == "REIMBURSEMENT_CYCLE"]
    lines = [f"{people[0]},REIMBURSEMENT_CYCLE,61,", f"{people[1]},REIMBURSEMENT_CYCLE,-1,"]
    fine = [f"{people[2]},REIMBURSEMENT_CYCLE,60,", f"{people[3]},REIMBURSEMENT_CYCLE,0,"]
    with pytest.raises(ImportRejected) as caught:
        await import_metric_values(
            sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv([*lines, *fine])), Caller("test", now=NOW)
        )
    assert caught.value.problems == [
        RowProblem(2, "the value 61 is outside the valid range 0..60"),
        RowProblem(3, "the value -1 is outside the valid range 0..60"),
    ]
    report = await import_metric_values(
        sessionmaker, MetricValuesImport(cycle_id=cycle, csv=_csv(fine)), Caller("test", now=NOW)
    )
    assert report.imported == 2


async def test_a_rating_outside_the_declared_range_is_refused_and_nothing_stored(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """A 1-5 scale whose version declares 2..5: a 1 is on the scale but outside the range."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(IndicatorVersion).where(IndicatorVersion.id == version).values(valid_min=2.0))
        before = await session.scalar(select(func.count()).select_from(Rating))
    with pytest.raises(InvalidInput) as caught:
        await _rate(sessionmaker, cycle, ratee, manager, version, value=1)
    assert (caught.value.field, caught.value.message) == ("value", "the value 1 is outside the valid range 2..inf")
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Rating)) == before
    assert (await _rate(sessionmaker, cycle, ratee, manager, version, value=2)).value == 2
