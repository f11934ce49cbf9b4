"""The result stream filtered as a training or payroll module would: by event type, cycle and post family.

``resultEvents`` (the catch-up read) over HTTP in process on the demo, whose past cycle is published; the
live subscription with the same filter is in tests/served/test_revised_events.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Post
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org

EVENTS = """query($cycle: ID, $filter: ResultEventFilter) {
  resultEvents(first: 500, cycleId: $cycle, filter: $filter) { type result { id employee { id } post { family } } } }"""
CORRECT = """mutation($input: ResultCorrectInput!) { resultCorrect(input: $input) { __typename } }"""


async def events(client: GraphQLClient, **variables: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.data(EVENTS, variables))["resultEvents"]
    return found


async def families_of(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> Counter[str]:
    """Results of the cycle per post family, by the test's own SQL."""
    statement = (
        select(Post.family)
        .join(AppraisalResult, AppraisalResult.post_id == Post.id)
        .where(AppraisalResult.cycle_id == cycle_id)
    )
    async with sessionmaker() as session:
        return Counter(await session.scalars(statement))


async def test_events_filter_by_type_cycle_and_post_family(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    every = await events(app_client)
    assert every and {event["type"] for event in every} == {"result.published"}
    corrected = every[0]["result"]["id"]
    variables = {"input": {"resultId": corrected, "totalScore": 55.0, "reason": "a source value was wrong"}}
    assert (await app_client.data(CORRECT, variables))["resultCorrect"]["__typename"] == "ResultCorrected"

    revised = await events(app_client, filter={"types": ["result.revised"]})
    assert [(event["type"], event["result"]["id"]) for event in revised] == [("result.revised", corrected)]
    published = await events(app_client, filter={"types": ["result.published"]})
    assert len(published) == len(every)

    counts = await families_of(sessionmaker, seeded.past_cycle_id)
    family, expected = counts.most_common()[-1]  # the smallest family: a filter that keeps a few
    assert len(counts) > 1 and expected < len(every)
    kept = await events(app_client, filter={"postFamilies": [family], "types": ["result.published"]})
    assert len(kept) == expected and {event["result"]["post"]["family"] for event in kept} == {family}

    assert await events(app_client, cycle=str(seeded.past_cycle_id)) == [*every, *revised]
    assert await events(app_client, cycle=str(seeded.current_cycle_id)) == []


async def test_a_filter_that_names_nothing_known_is_refused(app_client: GraphQLClient) -> None:
    """A misspelt type or family would otherwise look like a quiet stream."""
    filters: list[tuple[dict[str, list[str]], str]] = [
        ({"types": ["result.publish"]}, "unknown: result.publish"),
        ({"types": []}, "it names none (null keeps the default)"),
        ({"postFamilies": ["NOPE"]}, "unknown: NOPE"),
        ({"postFamilies": []}, "it names none (null keeps every family)"),
    ]
    for filter_, says in filters:
        body = await app_client.execute(EVENTS, {"filter": filter_})
        assert body["data"] is None, filter_
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}, filter_
        assert body["errors"][0]["message"].endswith(says), body["errors"][0]["message"]


async def test_a_manager_filtering_still_sees_only_their_people(app_client: GraphQLClient, org: Org) -> None:
    everyone = await events(app_client, filter={"types": ["result.published"]})
    theirs = await events(app_client.as_principal("manager", org.manager_no), filter={"types": ["result.published"]})
    assert 0 < len(theirs) < len(everyone)
    assert {int(event["result"]["employee"]["id"]) for event in theirs} <= org.team
