"""Anonymous raters stay anonymous: a role's ratings reach the ratee and their managers only in a crowd.

The insider is a manager with few people: with one direct report rating them, every SUBORDINATE rating
they read is that person's. Peer and subordinate ratings are shown only when at least
PERFHUB_MIN_ANONYMOUS_RATERS (3) distinct raters of the role rated; below it the role is withheld with its
count. Anonymous ratings carry no timestamp and come in an order tied to neither rater nor time. The
score still uses every rating. The ratings are set up by the test (SQL of its own) on a team lead with
at least three reports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, Rating
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from hub.operations.commands import Caller
from hub.operations.cycles import CycleReopen, reopen_cycle
from hub.operations.scoring import CycleScore, score_cycle
from tests.conftest import GraphQLClient
from tests.insider.org_chart import Chart, read_chart

RATINGS = """
query($id: ID!, $c: ID!) {
  employee(id: $id) {
    ratingsReceived(cycleId: $c) { role value comment submittedAt rater { id } indicatorVersion { id } }
    ratingsWithheld(cycleId: $c) { role raters minimumRaters reason }
  }
}
"""
TOTAL = "query($id: ID!, $c: ID!) { employee(id: $id) { result(cycleId: $c) { totalScore } } }"
ANONYMOUS = ("PEER", "SUBORDINATE")
BASE_TIME = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


async def rated_indicator_versions(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> list[int]:
    async with sessionmaker() as session:
        found = await session.scalars(select(Rating.indicator_version_id).where(Rating.cycle_id == cycle_id).distinct())
        return sorted(found.all())


async def set_raters(
    sessionmaker: async_sessionmaker[AsyncSession],
    cycle_id: int,
    ratee: int,
    role: RaterRole,
    raters: list[int],
    value: float | None = None,
) -> None:
    """The ratee's ratings of ``role`` become exactly these raters' (each on every rated indicator).

    Values rise with the rater's position while submission times fall, so that an order by time (or by
    rater) differs from the order by value.
    """
    versions = await rated_indicator_versions(sessionmaker, cycle_id)
    rows = [
        {
            "cycle_id": cycle_id,
            "ratee_id": ratee,
            "rater_id": rater,
            "role": role,
            "indicator_version_id": version,
            "value": value if value is not None else float(1 + position % 5),
            "comment": None,
            "submitted_at": BASE_TIME - dt.timedelta(hours=position),
        }
        for position, rater in enumerate(raters)
        for version in versions
    ]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            delete(Rating).where(Rating.cycle_id == cycle_id, Rating.ratee_id == ratee, Rating.role == role)
        )
        await session.execute(insert(Rating), rows)


async def stored(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int, ratee: int) -> dict[str, set[int]]:
    """Distinct raters per role, as stored."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(Rating.role, Rating.rater_id).where(Rating.cycle_id == cycle_id, Rating.ratee_id == ratee)
            )
        ).all()
    raters: dict[str, set[int]] = {}
    for role, rater in rows:
        raters.setdefault(str(role), set()).add(rater)
    return raters


async def count_ratings(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int, ratee: int) -> int:
    async with sessionmaker() as session:
        total = await session.scalar(
            select(func.count()).select_from(Rating).where(Rating.cycle_id == cycle_id, Rating.ratee_id == ratee)
        )
    return int(total or 0)


@pytest.fixture
async def chart(sessionmaker: async_sessionmaker[AsyncSession]) -> Chart:
    return await read_chart(sessionmaker)


def lead_with_reports(chart: Chart, at_least: int = 3) -> tuple[int, int]:
    """A team lead with at least ``at_least`` reports, and their boss."""
    for lead in chart.team_leads():
        if len(chart.reports(lead)) >= at_least:
            boss = chart.manager_of[lead]
            assert boss is not None
            return lead, boss
    raise AssertionError("the demo has a team lead with three reports")


def lead_and_their_boss(app_client: GraphQLClient, chart: Chart, at_least: int = 3) -> tuple[int, GraphQLClient]:
    """A team lead with at least ``at_least`` reports, and a client signed in as the lead's boss."""
    lead, boss = lead_with_reports(chart, at_least)
    return lead, app_client.as_principal("manager", chart.number_of[boss])


def others(chart: Chart, lead: int, count: int) -> list[int]:
    """Peers for the lead: people of the same level elsewhere (neither the lead's boss nor their reports)."""
    excluded = {lead, chart.manager_of[lead], *chart.reports(lead)}
    return [p for p in chart.team_leads() if p not in excluded][:count]


async def lead_rated_by_reports(
    sessionmaker: async_sessionmaker[AsyncSession], chart: Chart, cycle_id: int, raters: int
) -> tuple[int, int]:
    """A team lead (and their boss) whose first ``raters`` reports are their SUBORDINATE raters in the cycle."""
    lead, boss = lead_with_reports(chart)
    await set_raters(sessionmaker, cycle_id, lead, RaterRole.SUBORDINATE, chart.reports(lead)[:raters])
    return lead, boss


async def read(client: GraphQLClient, ratee: int, cycle_id: int) -> dict[str, Any]:
    data = await client.data(RATINGS, {"id": str(ratee), "c": str(cycle_id)})
    employee: dict[str, Any] = data["employee"]
    return employee


@pytest.mark.parametrize("reader", ["ratee", "boss"])
async def test_one_subordinate_rater_is_withheld_from_the_ratee_and_their_boss(
    reader: str,
    app_client: GraphQLClient,
    chart: Chart,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    cycle = seeded.past_cycle_id  # published: the ratee reads their own ratings too
    lead, boss = await lead_rated_by_reports(sessionmaker, chart, cycle, 1)
    await set_raters(sessionmaker, cycle, lead, RaterRole.PEER, others(chart, lead, 2))
    client = (
        app_client.as_principal("employee", chart.number_of[lead])
        if reader == "ratee"
        else app_client.as_principal("manager", chart.number_of[boss])
    )
    seen = await read(client, lead, cycle)
    shown_roles = {r["role"] for r in seen["ratingsReceived"]}
    assert shown_roles == {"SELF", "MANAGER"}
    assert sorted(seen["ratingsWithheld"], key=lambda w: w["role"]) == [
        {"role": "PEER", "raters": 2, "minimumRaters": 3, "reason": seen["ratingsWithheld"][0]["reason"]},
        {"role": "SUBORDINATE", "raters": 1, "minimumRaters": 3, "reason": seen["ratingsWithheld"][1]["reason"]},
    ]
    assert all("fewer than 3" in w["reason"] for w in seen["ratingsWithheld"])
    raters = await stored(sessionmaker, cycle, lead)
    shown = sum(1 for _ in seen["ratingsReceived"])
    versions = await rated_indicator_versions(sessionmaker, cycle)
    withheld_ratings = (len(raters["PEER"]) + len(raters["SUBORDINATE"])) * len(versions)
    assert shown == await count_ratings(sessionmaker, cycle, lead) - withheld_ratings > 0


async def test_hr_admin_sees_every_rating_and_the_read_is_audited(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    lead, _ = await lead_rated_by_reports(sessionmaker, chart, cycle, 1)
    seen = await read(app_client, lead, cycle)
    assert len(seen["ratingsReceived"]) == await count_ratings(sessionmaker, cycle, lead)
    assert seen["ratingsWithheld"] == []
    anonymous = [r for r in seen["ratingsReceived"] if r["role"] in ANONYMOUS]
    assert anonymous and all(r["rater"] is None and r["submittedAt"] is None for r in anonymous)
    async with sessionmaker() as session:
        reads = (
            await session.scalars(select(AuditEntry.ids).where(AuditEntry.operation == "Employee.ratingsReceived"))
        ).all()
    assert len(reads) == 1
    assert f"employee:{lead}" in reads[0] and f"cycle:{cycle}" in reads[0]


async def test_three_raters_are_shown_without_rater_time_or_order_of_submission(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    lead, boss = await lead_rated_by_reports(sessionmaker, chart, cycle, 3)
    await set_raters(sessionmaker, cycle, lead, RaterRole.PEER, others(chart, lead, 3))
    seen = await read(app_client.as_principal("manager", chart.number_of[boss]), lead, cycle)
    assert seen["ratingsWithheld"] == []
    received = seen["ratingsReceived"]
    assert len(received) == await count_ratings(sessionmaker, cycle, lead)
    anonymous = [r for r in received if r["role"] in ANONYMOUS]
    versions = await rated_indicator_versions(sessionmaker, cycle)
    assert len(anonymous) == 2 * 3 * len(versions)
    assert all(r["rater"] is None and r["submittedAt"] is None for r in anonymous)
    # Their own raters (self, manager) are no secret: their time stays.
    assert all(r["submittedAt"] is not None for r in received if r["role"] not in ANONYMOUS)
    # Indicator, then role, then value: the test submitted the highest values first.
    keys = [(int(r["indicatorVersion"]["id"]), r["role"], r["value"]) for r in received]
    assert keys == sorted(keys)


async def test_the_score_counts_a_withheld_rating(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.current_cycle_id  # open: scored here, twice
    lead, manager = lead_and_their_boss(app_client, chart)
    totals = []
    for value in (1.0, 5.0):
        await set_raters(sessionmaker, cycle, lead, RaterRole.SUBORDINATE, chart.reports(lead)[:1], value)
        await score_cycle(sessionmaker, CycleScore(cycle), Caller("test"))
        seen = await read(manager, lead, cycle)
        assert [(w["role"], w["raters"]) for w in seen["ratingsWithheld"] if w["role"] == "SUBORDINATE"] == [
            ("SUBORDINATE", 1)
        ]
        assert all(r["role"] != "SUBORDINATE" for r in seen["ratingsReceived"])
        boss_sees = await manager.data(TOTAL, {"id": str(lead), "c": str(cycle)})
        hr_sees = await app_client.data(TOTAL, {"id": str(lead), "c": str(cycle)})
        assert boss_sees == hr_sees
        totals.append(boss_sees["employee"]["result"]["totalScore"])
        await reopen_cycle(sessionmaker, CycleReopen(cycle, reason="rescore with the other value"), Caller("test"))
    # One withheld rater's 1 or 5 moves the total: the score uses every rating.
    assert totals[0] < totals[1]


async def test_anonymous_ratings_wait_until_the_cycle_stops_taking_ratings(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Read before and after a fourth subordinate rates, an open cycle's list would show exactly that
    # rating: whoever the manager saw submit last is identified. So nothing anonymous shows while OPEN.
    cycle = seeded.current_cycle_id
    lead, manager = lead_and_their_boss(app_client, chart, at_least=4)
    await set_raters(sessionmaker, cycle, lead, RaterRole.SUBORDINATE, chart.reports(lead)[:3])
    before = await read(manager, lead, cycle)
    await set_raters(sessionmaker, cycle, lead, RaterRole.SUBORDINATE, chart.reports(lead)[:4])
    after = await read(manager, lead, cycle)
    # Nor does a count or a role that appears as ratings arrive: before and after read the same.
    assert before["ratingsWithheld"] == after["ratingsWithheld"]
    for seen in (before, after):
        assert all(r["role"] not in ANONYMOUS for r in seen["ratingsReceived"])
        assert [(w["role"], w["raters"], w["minimumRaters"]) for w in seen["ratingsWithheld"]] == [
            ("PEER", None, 3),
            ("SUBORDINATE", None, 3),
        ]
        assert all("stops taking ratings" in w["reason"] for w in seen["ratingsWithheld"])
    await score_cycle(sessionmaker, CycleScore(cycle), Caller("test"))  # OPEN -> SCORED: no rating can arrive any more
    scored = await read(manager, lead, cycle)
    subordinate = [r for r in scored["ratingsReceived"] if r["role"] == "SUBORDINATE"]
    versions = await rated_indicator_versions(sessionmaker, cycle)
    assert len(subordinate) == 4 * len(versions)
    assert all(w["role"] != "SUBORDINATE" for w in scored["ratingsWithheld"])


async def test_an_open_cycle_lists_the_anonymous_roles_before_the_first_rating_too(
    app_client: GraphQLClient, chart: Chart, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Were the list empty until the first anonymous rating arrived, its appearance would time that rating.
    cycle = seeded.current_cycle_id
    lead, manager = lead_and_their_boss(app_client, chart, at_least=1)
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(Rating).where(Rating.cycle_id == cycle, Rating.ratee_id == lead))
    before = await read(manager, lead, cycle)
    await set_raters(sessionmaker, cycle, lead, RaterRole.PEER, chart.reports(lead)[:1])
    after = await read(manager, lead, cycle)
    assert before["ratingsReceived"] == []
    assert before["ratingsWithheld"] == after["ratingsWithheld"]
    assert [w["role"] for w in before["ratingsWithheld"]] == list(ANONYMOUS)
