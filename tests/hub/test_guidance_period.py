"""Pay guidance says when the cycle is not a year (issue 14, point 5: claim nothing the inputs do not support).

The merit matrix's raises and bonus factors are annual; the demo's cycles are quarters. ``compensationGuidance``
marks every row of a cycle that is not a year (``cycleIsAnnual``) and says what that means (``caveats``); a
cycle of a calendar or fiscal year, or of 52 weeks, carries no caveat.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.closedloop.matrix import is_annual, period_caveats
from hub.db.models import Cycle
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

GUIDANCE = """query($cycle: ID!) {
  compensationGuidance(cycleId: $cycle, first: 5) { employee { employeeNo } cycleIsAnnual caveats }
}"""


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2025-01-01", "2025-12-31"),  # a calendar year
        ("2024-01-01", "2024-12-31"),  # a leap year
        ("2025-04-01", "2026-03-31"),  # a fiscal year
        ("2025-01-06", "2026-01-04"),  # 52 weeks
    ],
)
def test_a_year_carries_no_caveat(start: str, end: str) -> None:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    assert is_annual(first, last) and period_caveats(first, last) == []


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ("2026-07-01", "2026-09-30", "covers 92 days (2026-07-01..2026-09-30), shorter than a year"),
        ("2025-01-01", "2026-06-30", "covers 546 days (2025-01-01..2026-06-30), longer than a year"),
        ("2025-01-01", "2025-12-29", "covers 363 days (2025-01-01..2025-12-29), shorter than a year"),
    ],
)
def test_a_period_that_is_not_a_year_says_so(start: str, end: str, said: str) -> None:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    (caveat,) = period_caveats(first, last)
    assert not is_annual(first, last)
    assert said in caveat and "the merit matrix's raises and bonus factors are annual" in caveat


async def test_guidance_of_a_quarter_says_it_is_not_a_year_and_of_a_year_says_nothing(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        start, end = (
            await session.execute(select(Cycle.period_start, Cycle.period_end).where(Cycle.id == cycle))
        ).one()
    days = (end - start).days + 1
    assert days < 100  # the demo's cycles are quarters

    rows = (await app_client.data(GUIDANCE, {"cycle": str(cycle)}))["compensationGuidance"]
    assert len(rows) == 5
    for row in rows:
        (caveat,) = row["caveats"]
        assert row["cycleIsAnnual"] is False
        assert caveat.startswith(f"the cycle covers {days} days ({start}..{end}), shorter than a year")

    # The same cycle made a year long (its last day kept): the grade now stands for the year it covers.
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Cycle).where(Cycle.id == cycle).values(period_start=end - dt.timedelta(days=364)))
    rows = (await app_client.data(GUIDANCE, {"cycle": str(cycle)}))["compensationGuidance"]
    assert [(row["cycleIsAnnual"], row["caveats"]) for row in rows] == [(True, [])] * 5
