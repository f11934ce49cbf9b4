"""Cycles with participants (issue 13, point 9): a cycle limited to posts, families or departments when it opens,
and posts and people joining it while it is OPEN. Expectations come from the tables, read by the test's own SQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, CycleScheme, Department, Employee, Post, RaterAssignment
from hub.domain import CycleState, RaterRole
from tests.conftest import GraphQLClient

CREATE = """
mutation($name: String!) {
  cycleCreate(input: {name: $name, periodStart: "2026-10-01", periodEnd: "2026-12-31"}) {
    ... on CycleChanged { cycle { id } }
  }
}
"""
OPEN = """
mutation($c: ID!, $posts: [ID!]! = [], $families: [String!]! = [], $departments: [ID!]! = []) {
  cycleOpen(cycleId: $c, postIds: $posts, families: $families, departmentIds: $departments) {
    __typename ... on CycleChanged { cycle { state schemes { post { id } } } } ... on MutationError { code field }
  }
}
"""
JOIN = """
mutation($c: ID!, $posts: [ID!]! = [], $people: [ID!]! = []) {
  cycleJoin(cycleId: $c, postIds: $posts, employeeIds: $people) {
    __typename ... on CycleChanged { cycle { schemes { post { id } } } } ... on MutationError { code field message }
  }
}
"""
HIRE = """
mutation($input: EmployeeCreateInput!) {
  employeeCreate(input: $input) { __typename ... on EmployeeChanged { employee { id } } }
}
"""


async def new_cycle(client: GraphQLClient, name: str) -> str:
    cycle_id: str = (await client.data(CREATE, {"name": name}))["cycleCreate"]["cycle"]["id"]
    return cycle_id


async def answer(client: GraphQLClient, query: str, **variables: Any) -> dict[str, Any]:
    (payload,) = (await client.data(query, variables)).values()
    result: dict[str, Any] = payload
    return result


async def posts_where(sessionmaker: async_sessionmaker[AsyncSession], *conditions: Any) -> set[str]:
    async with sessionmaker() as session:
        return {str(post_id) for post_id in await session.scalars(select(Post.id).where(*conditions))}


async def ratees_of(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: str, role: RaterRole) -> set[int]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(RaterAssignment.ratee_id).where(
                RaterAssignment.cycle_id == int(cycle_id), RaterAssignment.role == role
            )
        )
        return set(found)


async def test_a_cycle_limited_to_a_family_pins_its_posts_and_rates_their_people_only(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = await new_cycle(app_client, "Finance only")
    opened = await answer(app_client, OPEN, c=cycle, families=["FINANCE"])
    assert opened["__typename"] == "CycleChanged", opened
    pinned = {pin["post"]["id"] for pin in opened["cycle"]["schemes"]}
    assert pinned and pinned <= await posts_where(sessionmaker, Post.family == "FINANCE")
    async with sessionmaker() as session:
        posts_of = {employee: post for employee, post in await session.execute(select(Employee.id, Employee.post_id))}
    rated = await ratees_of(sessionmaker, cycle, RaterRole.SELF)
    assert rated and {str(posts_of[ratee]) for ratee in rated} <= pinned
    # Scoring takes the cycle's people only: with no input yet each is blocked (HR allows the rest, with a reason).
    score = """mutation($c: ID!) { cycleScore(cycleId: $c, allowIncomplete: true, reason: "no inputs yet") {
                 ... on CycleScored { scored blocked { employee { id } } } } }"""
    scored = (await app_client.data(score, {"c": cycle}))["cycleScore"]
    blocked = {int(row["employee"]["id"]) for row in scored["blocked"]}
    assert scored["scored"] + len(blocked) == len(rated) and blocked <= rated


async def test_a_cycle_limited_to_a_department_takes_the_departments_below_it(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        root = await session.scalar(select(Department.id).where(Department.parent_id.is_(None)))
        sections = set(await session.scalars(select(Department.id).where(Department.parent_id == root)))
    section = min(sections)
    cycle = await new_cycle(app_client, "One section")
    opened = await answer(app_client, OPEN, c=cycle, departments=[str(section)])
    pinned = {pin["post"]["id"] for pin in opened["cycle"]["schemes"]}
    assert pinned == await posts_where(sessionmaker, Post.department_id == section) & await every_post_with_a_scheme(
        app_client
    )
    # The whole organisation, through its root, is every post.
    everything = await new_cycle(app_client, "Everyone")
    opened = await answer(app_client, OPEN, c=everything, departments=[str(root)])
    assert {pin["post"]["id"] for pin in opened["cycle"]["schemes"]} == await every_post_with_a_scheme(app_client)


async def every_post_with_a_scheme(client: GraphQLClient) -> set[str]:
    cycle = await new_cycle(client, f"Every post {uuid.uuid4()}")
    opened = await answer(client, OPEN, c=cycle)
    return {pin["post"]["id"] for pin in opened["cycle"]["schemes"]}


@pytest.mark.parametrize(
    ("limit", "code", "field"),
    [
        ({"families": ["NO_SUCH_FAMILY"]}, "INVALID_INPUT", "families"),
        ({"posts": ["999999"]}, "NOT_FOUND", "postIds"),
        ({"departments": ["999999"]}, "NOT_FOUND", "departmentIds"),
    ],
)
async def test_a_limit_that_names_nothing_is_refused_and_the_cycle_stays_a_draft(
    app_client: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    limit: dict[str, list[str]],
    code: str,
    field: str,
) -> None:
    cycle = await new_cycle(app_client, f"Refused {field}")
    refused = await answer(app_client, OPEN, c=cycle, **limit)
    assert (refused["code"], refused["field"]) == (code, field)
    async with sessionmaker() as session:
        assert (await session.get(Cycle, int(cycle))).state is CycleState.DRAFT  # type: ignore[union-attr]
        pins = select(func.count()).select_from(CycleScheme).where(CycleScheme.cycle_id == int(cycle))
        assert await session.scalar(pins) == 0


async def test_a_post_and_a_new_hire_join_an_open_cycle(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = await new_cycle(app_client, "Finance first")
    draft_join = await answer(app_client, JOIN, c=cycle, posts=["1"])
    assert draft_join["code"] == "WRONG_CYCLE_STATE"
    opened = await answer(app_client, OPEN, c=cycle, families=["FINANCE"])
    pinned = {pin["post"]["id"] for pin in opened["cycle"]["schemes"]}
    others = sorted(await every_post_with_a_scheme(app_client) - pinned, key=int)
    joining = others[0]

    joined = await answer(app_client, JOIN, c=cycle, posts=[joining])
    assert {pin["post"]["id"] for pin in joined["cycle"]["schemes"]} == pinned | {joining}
    async with sessionmaker() as session:
        people = set(await session.scalars(select(Employee.id).where(Employee.post_id == int(joining))))
    assert people and people <= await ratees_of(sessionmaker, cycle, RaterRole.SELF)
    # Joining again changes nothing.
    before = await ratees_of(sessionmaker, cycle, RaterRole.SELF)
    assert (await answer(app_client, JOIN, c=cycle, posts=[joining]))["__typename"] == "CycleChanged"
    assert await ratees_of(sessionmaker, cycle, RaterRole.SELF) == before

    # A hire into a pinned post after opening has no raters until they join; a post outside the cycle is refused.
    async with sessionmaker() as session:
        manager = await session.scalar(select(Employee.id).where(Employee.post_id == int(joining)).limit(1))
    hire = {
        "employeeNo": "E900001",
        "name": "New Hire",
        "hiredOn": "2026-11-02",
        "postId": joining,
        "managerId": str(manager),
    }
    hired = (await answer(app_client, HIRE, input=hire))["employee"]["id"]
    assert int(hired) not in await ratees_of(sessionmaker, cycle, RaterRole.SELF)
    assert (await answer(app_client, JOIN, c=cycle, people=[hired]))["__typename"] == "CycleChanged"
    assert int(hired) in await ratees_of(sessionmaker, cycle, RaterRole.SELF)
    assert int(hired) in await ratees_of(sessionmaker, cycle, RaterRole.MANAGER)

    outside = {**hire, "employeeNo": "E900002", "postId": others[1]}
    stranger = (await answer(app_client, HIRE, input=outside))["employee"]["id"]
    refused = await answer(app_client, JOIN, c=cycle, people=[stranger])
    assert (refused["code"], refused["field"]) == ("INVALID_INPUT", "employeeIds")
    assert refused["message"].startswith("employee E900002 holds no post"), "named by number, not by row id"
    assert int(stranger) not in await ratees_of(sessionmaker, cycle, RaterRole.SELF)
