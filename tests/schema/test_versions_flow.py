"""Versions that flow, through the API (issue 13, point 6): indicatorVersionAdopt gives every scheme using the
indicator its next version in one change, or refuses naming the post and writes nothing; cycleOpen warns of a
pinned version that a newer one replaces within the period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, SchemeVersion
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.hub.operations.test_adoption import CODE, FEB, JAN, definition, new_version, schemes_using
from tests.hub.operations.test_schemes import ROLES, counts, publish

Sessions = async_sessionmaker[AsyncSession]
ADOPT = """
mutation($v: ID!, $d: Date!) {
  indicatorVersionAdopt(indicatorVersionId: $v, effectiveFrom: $d, changeNote: "TEAMWORK v2 everywhere") {
    __typename
    ... on IndicatorVersionAdopted { schemeVersions { id changeNote effectiveFrom post { id }
                                                      items { weight indicatorVersion { id } } } }
    ... on MutationError { code field message }
  }
}
"""
OPEN = """
mutation($c: ID!) {
  cycleOpen(cycleId: $c) {
    ... on CycleChanged { cycle { state }
      warnings { why post { id } schemeVersion { id } indicatorVersion { id } successor { id version } } }
  }
}
"""
CREATE = """mutation { cycleCreate(input: {name: "2027 Q1", periodStart: "2027-01-01", periodEnd: "2027-03-31"})
  { ... on CycleChanged { cycle { id } warnings { why } } } }"""


async def test_adopting_through_the_api_is_one_change_with_one_entry(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    version = await new_version(sessionmaker, JAN)
    answer = (await app_client.data(ADOPT, {"v": str(version), "d": JAN.isoformat()}))["indicatorVersionAdopt"]
    assert answer["__typename"] == "IndicatorVersionAdopted"
    adopted = answer["schemeVersions"]
    assert sorted(int(scheme["post"]["id"]) for scheme in adopted) == sorted(using)
    for scheme in adopted:
        assert (scheme["changeNote"], scheme["effectiveFrom"]) == ("TEAMWORK v2 everywhere", JAN.isoformat())
        assert str(version) in {item["indicatorVersion"]["id"] for item in scheme["items"]}
        assert sum(item["weight"] for item in scheme["items"]) == 100
    async with sessionmaker() as session:
        (entry,) = await session.scalars(select(AuditEntry).where(AuditEntry.operation == "indicatorVersionAdopt"))
    assert {f"scheme_version:{scheme['id']}" for scheme in adopted} | {f"indicator_version:{version}"} <= set(entry.ids)


async def test_a_post_that_refuses_is_named_and_nothing_is_written(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    first = min(using)  # the first post is published first: the refusal of a later one must undo it
    items, _ = await definition(sessionmaker, using[max(using)])
    await publish(sessionmaker, max(using), [(v, w) for _, v, w in items], effective_from=FEB, rater_weights=ROLES)
    version = await new_version(sessionmaker, JAN)
    tables = await counts(sessionmaker)
    answer = (await app_client.data(ADOPT, {"v": str(version), "d": JAN.isoformat()}))["indicatorVersionAdopt"]
    assert (answer["code"], answer["field"]) == ("OVERLAPPING_EFFECTIVE_DATES", "effectiveFrom")
    assert answer["message"].startswith("post ")
    assert await counts(sessionmaker) == tables
    async with sessionmaker() as session:
        assert (await session.get_one(SchemeVersion, using[first])).effective_to is None


async def test_opening_a_cycle_warns_of_a_version_replaced_within_its_period(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    using = await schemes_using(sessionmaker, CODE, JAN)
    successor = await new_version(sessionmaker, FEB)
    created = (await app_client.data(CREATE))["cycleCreate"]
    assert created["warnings"] == []  # only opening pins, so only opening warns
    opened = (await app_client.data(OPEN, {"c": created["cycle"]["id"]}))["cycleOpen"]
    assert opened["cycle"]["state"] == "OPEN"  # a warning, not a refusal
    warnings = opened["warnings"]
    assert {(int(w["post"]["id"]), int(w["schemeVersion"]["id"])) for w in warnings} == set(using.items())
    assert all(w["successor"] == {"id": str(successor), "version": 2} for w in warnings)
    assert all(w["indicatorVersion"]["id"] != str(successor) for w in warnings)
    end = (FEB - dt.timedelta(days=1)).isoformat()
    assert all(w["why"].startswith(f"{CODE} v1 ends on {end}") for w in warnings)


async def test_versions_taking_effect_together_are_adopted_in_one_call(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    teamwork, learning = await new_version(sessionmaker, JAN), await new_version(sessionmaker, JAN, "LEARNING")
    together = ADOPT.replace("changeNote:", "alsoAdopt: $also, changeNote:").replace(
        "$d: Date!", "$d: Date!, $also: [ID!]!"
    )
    variables = {"v": str(teamwork), "d": JAN.isoformat()}
    malformed = (await app_client.data(together, {**variables, "also": ["x"]}))["indicatorVersionAdopt"]
    assert (malformed["code"], malformed["field"]) == ("NOT_FOUND", "alsoAdopt")
    answer = (await app_client.data(together, {**variables, "also": [str(learning)]}))["indicatorVersionAdopt"]
    adopted = answer["schemeVersions"]
    assert len(adopted) == len(await schemes_using(sessionmaker, CODE, JAN))
    assert all({str(teamwork), str(learning)} <= {i["indicatorVersion"]["id"] for i in s["items"]} for s in adopted)
