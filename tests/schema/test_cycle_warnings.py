"""What a cycle step tells HR without refusing it: the posts an opening leaves out for want of a scheme in force
(with how many people they hold), a joining post without one refused by code, an overlapping period, and the
scope and joins noted in the cycle's transitions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import CycleScheme, Department, Post
from tests.conftest import GraphQLClient
from tests.schema.test_cycle_participants import HIRE, answer, new_cycle

OPEN = """
mutation($c: ID!, $families: [String!]! = []) {
  cycleOpen(cycleId: $c, families: $families) {
    __typename
    ... on CycleChanged {
      cycle { transitions { fromState toState note } }
      cycleWarnings { code message employees post { code } otherCycle { id } }
    }
  }
}
"""
JOIN = """
mutation($c: ID!, $posts: [ID!]!) {
  cycleJoin(cycleId: $c, postIds: $posts) {
    __typename
    ... on CycleChanged { cycle { transitions { fromState toState note } } }
    ... on MutationError { code field message }
  }
}
"""
POST = """
mutation($code: String!, $department: ID!) {
  postCreate(input: {code: $code, name: $code, family: "FINANCE", departmentId: $department}) {
    ... on PostChanged { post { id } }
  }
}
"""
CREATE = """
mutation($name: String!, $start: Date!, $end: Date!) {
  cycleCreate(input: {name: $name, periodStart: $start, periodEnd: $end}) {
    ... on CycleChanged { cycle { id } cycleWarnings { code message employees post { id } otherCycle { id } } }
  }
}
"""


async def post_without_scheme(
    client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], code: str, people: int
) -> str:
    """A new FINANCE post (so no scheme version) holding ``people`` new hires."""
    async with sessionmaker() as session:
        department = await session.scalar(select(func.min(Department.id)))
    post: str = (await client.data(POST, {"code": code, "department": str(department)}))["postCreate"]["post"]["id"]
    for number in range(people):
        hire = {"employeeNo": f"{code}-{number}", "name": f"Hire {number}", "hiredOn": "2026-09-01", "postId": post}
        assert (await answer(client, HIRE, input=hire))["__typename"] == "EmployeeChanged"
    return post


async def test_an_opening_names_the_posts_it_leaves_out_with_their_people(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await post_without_scheme(app_client, sessionmaker, "FIN-NEW", people=2)
    await post_without_scheme(app_client, sessionmaker, "FIN-EMPTY", people=0)

    limited = await answer(app_client, OPEN, c=await new_cycle(app_client, "Finance"), families=["FINANCE"])
    assert limited["__typename"] == "CycleChanged", limited
    warned = {(w["code"], w["post"]["code"], w["employees"]) for w in limited["cycleWarnings"]}
    # Named by the scope, both are told, the empty one too; each message names the post and the count.
    assert warned == {("POST_WITHOUT_SCHEME", "FIN-NEW", 2), ("POST_WITHOUT_SCHEME", "FIN-EMPTY", 0)}
    assert any("FIN-NEW" in w["message"] and " 2 " in w["message"] for w in limited["cycleWarnings"])
    opening = limited["cycle"]["transitions"][-1]
    assert (opening["fromState"], opening["toState"]) == ("DRAFT", "OPEN")
    assert opening["note"].startswith("opened for families FINANCE: ")

    # With no scope named, a post nobody holds leaves nobody out and goes unmentioned.
    everything = await answer(app_client, OPEN, c=await new_cycle(app_client, "Everyone"))
    assert [(w["post"]["code"], w["employees"]) for w in everything["cycleWarnings"]] == [("FIN-NEW", 2)]
    assert everything["cycle"]["transitions"][-1]["note"].startswith("opened for every post with a scheme in force")


async def test_a_post_without_a_scheme_cannot_join_and_nothing_is_pinned(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    post = await post_without_scheme(app_client, sessionmaker, "FIN-LATE", people=1)
    cycle = await new_cycle(app_client, "Late post")
    assert (await answer(app_client, OPEN, c=cycle, families=["SECURITY"]))["__typename"] == "CycleChanged"
    async with sessionmaker() as session:
        pins = select(func.count()).select_from(CycleScheme).where(CycleScheme.cycle_id == int(cycle))
        before = await session.scalar(pins)
        refused = await answer(app_client, JOIN, c=cycle, posts=[post])
        assert (refused["code"], refused["field"]) == ("POST_WITHOUT_SCHEME", "postIds")
        assert "FIN-LATE" in refused["message"]
        assert await session.scalar(pins) == before


async def test_a_join_is_noted_in_the_transitions(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = await new_cycle(app_client, "Security then admin")
    assert (await answer(app_client, OPEN, c=cycle, families=["SECURITY"]))["__typename"] == "CycleChanged"
    async with sessionmaker() as session:
        admin = await session.scalar(select(Post.id).where(Post.code == "ADM-01"))
    joined = await answer(app_client, JOIN, c=cycle, posts=[str(admin)])
    step = joined["cycle"]["transitions"][-1]
    assert (step["fromState"], step["toState"], step["note"]) == ("OPEN", "OPEN", "joined: posts ADM-01")
    # Joining what is already in changes nothing, and writes no step (new-user review F8).
    again = await answer(app_client, JOIN, c=cycle, posts=[str(admin)])
    assert again["cycle"]["transitions"] == joined["cycle"]["transitions"]


async def test_an_overlapping_period_is_a_warning_not_a_refusal(app_client: GraphQLClient) -> None:
    first: dict[str, Any] = (
        await app_client.data(CREATE, {"name": "2031 H1", "start": "2031-01-01", "end": "2031-06-30"})
    )["cycleCreate"]
    assert first["cycleWarnings"] == []
    second = (await app_client.data(CREATE, {"name": "2031 Q2", "start": "2031-04-01", "end": "2031-06-30"}))[
        "cycleCreate"
    ]
    assert [(w["code"], w["otherCycle"]["id"]) for w in second["cycleWarnings"]] == [
        ("PERIOD_OVERLAP", first["cycle"]["id"])
    ]
    assert "2031 H1" in second["cycleWarnings"][0]["message"]
    apart = (await app_client.data(CREATE, {"name": "2031 H2", "start": "2031-07-01", "end": "2031-12-31"}))[
        "cycleCreate"
    ]
    assert apart["cycleWarnings"] == []
