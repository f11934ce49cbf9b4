"""scoreStatistics ignored filter.periodFrom and periodTo on its protected path (everyone but hr_admin): a period
that ends before the cycle starts returned the whole cycle. Every path now applies them: a cycle outside the period
gives no groups, one inside it its groups. (The other filter fields are applied or refused on every path: postId,
postFamily and grade slice the table, the score bounds narrow it or are refused without the names grant,
departmentId is refused; indicatorStatistics, scoreTrends and cycleComparison take no filter.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

SCORES = """query($c: ID!, $f: ResultFilter) { scoreStatistics(cycleId: $c, groupBy: [POST_FAMILY], filter: $f) {
  key count } }"""


async def test_every_path_of_score_statistics_applies_the_period(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    async with sessionmaker() as session:
        start, end = (
            await session.execute(select(Cycle.period_start, Cycle.period_end).where(Cycle.id == seeded.past_cycle_id))
        ).one()
    cycle = str(seeded.past_cycle_id)
    day = dt.timedelta(days=1)
    outside = [{"periodTo": str(start - day)}, {"periodFrom": str(start + day)}, {"periodTo": str(end - day)}]
    inside = [{"periodFrom": str(start), "periodTo": str(end)}, {"periodFrom": str(start - day)}]
    for name, client in (
        ("hr_admin", app_client),
        ("analyst with names", app_client.as_principal("analyst", grants=["names"])),
        ("pseudonymous analyst", app_client.as_principal("analyst")),
    ):
        whole = (await client.data(SCORES, {"c": cycle, "f": None}))["scoreStatistics"]
        assert whole, name
        for period in outside:
            assert (await client.data(SCORES, {"c": cycle, "f": period}))["scoreStatistics"] == [], (name, period)
        for period in inside:
            assert (await client.data(SCORES, {"c": cycle, "f": period}))["scoreStatistics"] == whole, (name, period)
