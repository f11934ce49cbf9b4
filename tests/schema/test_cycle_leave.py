"""Posts and people leave an OPEN cycle (``cycleLeave``), and a leaver of the organisation leaves every OPEN cycle
with their deactivation: their rater assignments are withdrawn, the ratings they received stay on record but are
not scored, and the cycle's transitions say who left and why. Refusals leave nothing half-written.

The seeded current cycle is OPEN with ratings; expectations are read from the tables by the test's own SQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import (
    AppraisalResult,
    CycleLeaver,
    CycleScheme,
    CycleTransition,
    Employee,
    Post,
    RaterAssignment,
    Rating,
)
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.schema.test_cycle_participants import answer, new_cycle

LEAVE = """
mutation($c: ID!, $posts: [ID!]! = [], $people: [ID!]! = [], $reason: String!) {
  cycleLeave(cycleId: $c, postIds: $posts, employeeIds: $people, reason: $reason) {
    __typename
    ... on CycleLeft { withdrawn cycle { schemes { post { id } } transitions { fromState toState reason note } } }
    ... on MutationError { code field message }
  }
}
"""
JOIN = """
mutation($c: ID!, $people: [ID!]!) {
  cycleJoin(cycleId: $c, employeeIds: $people) { __typename ... on MutationError { code message } }
}
"""
SCORE = """
mutation($c: ID!) {
  cycleScore(cycleId: $c, allowIncomplete: true, reason: "test") { __typename ... on CycleScored { scored } }
}
"""
DEACTIVATE = """
mutation($e: ID!) {
  employeeDeactivate(input: {employeeId: $e, leftOn: "2026-11-20"}) { __typename }
}
"""


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any, *conditions: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


async def people_of(sessionmaker: async_sessionmaker[AsyncSession], post_id: int) -> set[int]:
    async with sessionmaker() as session:
        return set(await session.scalars(select(Employee.id).where(Employee.post_id == post_id)))


async def state_of(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> tuple[int, ...]:
    """Counts of everything a leave writes: pins, assignments, leavers, transitions."""
    return (
        await count(sessionmaker, CycleScheme, CycleScheme.cycle_id == cycle_id),
        await count(sessionmaker, RaterAssignment, RaterAssignment.cycle_id == cycle_id),
        await count(sessionmaker, CycleLeaver, CycleLeaver.cycle_id == cycle_id),
        await count(sessionmaker, CycleTransition, CycleTransition.cycle_id == cycle_id),
        await count(sessionmaker, Rating, Rating.cycle_id == cycle_id),
    )


async def scored_people(client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], cycle: int) -> set[int]:
    assert (await answer(client, SCORE, c=str(cycle)))["__typename"] == "CycleScored"
    async with sessionmaker() as session:
        return set(await session.scalars(select(AppraisalResult.employee_id).where(AppraisalResult.cycle_id == cycle)))


async def test_a_post_leaves_its_people_unrated_and_unscored_their_ratings_kept(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        post, code = (await session.execute(select(Post.id, Post.code).where(Post.code == "ADM-01"))).one()
    people = await people_of(sessionmaker, post)
    expected = await count(sessionmaker, RaterAssignment, RaterAssignment.ratee_id.in_(people), cycle_id(cycle))
    ratings = await count(sessionmaker, Rating, Rating.ratee_id.in_(people), Rating.cycle_id == cycle)
    assert expected and ratings  # the seed rated them: the test can tell kept from lost

    left = await answer(app_client, LEAVE, c=str(cycle), posts=[str(post)], reason="no appraisal for admin officers")
    assert left["__typename"] == "CycleLeft", left
    assert left["withdrawn"] == expected
    assert str(post) not in {pin["post"]["id"] for pin in left["cycle"]["schemes"]}
    step = left["cycle"]["transitions"][-1]
    assert (step["fromState"], step["toState"], step["reason"]) == ("OPEN", "OPEN", "no appraisal for admin officers")
    assert step["note"] == f"left: posts {code}; {expected} rater assignment(s) withdrawn"
    assert await count(sessionmaker, RaterAssignment, RaterAssignment.ratee_id.in_(people), cycle_id(cycle)) == 0
    assert await count(sessionmaker, Rating, Rating.ratee_id.in_(people), Rating.cycle_id == cycle) == ratings
    assert not (await scored_people(app_client, sessionmaker, cycle)) & people


def cycle_id(cycle: int) -> Any:
    return RaterAssignment.cycle_id == cycle


async def test_a_person_leaves_and_joins_again(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        post = await session.scalar(select(Post.id).where(Post.code == "ADM-01"))
        person, number = (
            await session.execute(
                select(Employee.id, Employee.employee_no).where(Employee.post_id == post).order_by(Employee.id)
            )
        ).first()  # type: ignore[misc]
    as_ratee = RaterAssignment.ratee_id == person
    before = await count(sessionmaker, RaterAssignment, as_ratee, cycle_id(cycle))
    left = await answer(app_client, LEAVE, c=str(cycle), people=[str(person)], reason="long-term leave")
    assert left["withdrawn"] == before > 0
    assert str(post) in {pin["post"]["id"] for pin in left["cycle"]["schemes"]}  # the post stays
    assert (
        left["cycle"]["transitions"][-1]["note"] == f"left: employees {number}; {before} rater assignment(s) withdrawn"
    )
    assert await count(sessionmaker, RaterAssignment, as_ratee, cycle_id(cycle)) == 0
    # Taken out twice: refused, naming them.
    again = await answer(app_client, LEAVE, c=str(cycle), people=[str(person)], reason="again")
    assert (again["code"], again["field"]) == ("INVALID_INPUT", "employeeIds") and number in again["message"]
    # Back in: the default raters again, and no longer a leaver.
    assert (await answer(app_client, JOIN, c=str(cycle), people=[str(person)]))["__typename"] == "CycleChanged"
    assert await count(sessionmaker, RaterAssignment, as_ratee, cycle_id(cycle)) >= 1
    assert await count(sessionmaker, CycleLeaver, CycleLeaver.cycle_id == cycle) == 0


async def test_a_person_who_left_is_not_scored(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        person = await session.scalar(select(func.min(RaterAssignment.ratee_id)).where(cycle_id(cycle)))
    assert (await answer(app_client, LEAVE, c=str(cycle), people=[str(person)], reason="x"))[
        "__typename"
    ] == "CycleLeft"
    assert person not in await scored_people(app_client, sessionmaker, cycle)


@pytest.mark.parametrize(
    ("posts", "people", "reason", "code", "field"),
    [
        (["security"], ["insider"], "  ", "INVALID_INPUT", "reason"),
        ([], [], "nobody", "INVALID_INPUT", "postIds"),
        (["security", "999999"], [], "unknown post", "NOT_FOUND", "postIds"),
        (["security"], ["999999"], "unknown person", "NOT_FOUND", "employeeIds"),
        (["security"], ["insider", "outsider"], "not in it", "INVALID_INPUT", "employeeIds"),
        (["security", "admin"], ["insider"], "post not in it", "INVALID_INPUT", "postIds"),
    ],
)
async def test_a_refused_leave_writes_nothing(
    app_client: GraphQLClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    posts: list[str],
    people: list[str],
    reason: str,
    code: str,
    field: str,
) -> None:
    cycle = await new_cycle(app_client, "Security only")
    opened = """mutation($c: ID!) { cycleOpen(cycleId: $c, families: ["SECURITY"]) { __typename } }"""
    await app_client.data(opened, {"c": cycle})
    async with sessionmaker() as session:
        security = (await session.execute(select(Post.id).where(Post.family == "SECURITY").limit(1))).scalar_one()
        admin = (await session.execute(select(Post.id).where(Post.family == "ADMIN").limit(1))).scalar_one()
    named = {
        "security": str(security),
        "admin": str(admin),
        "insider": str(min(await people_of(sessionmaker, security))),
        "outsider": str(min(await people_of(sessionmaker, admin))),
    }
    before = await state_of(sessionmaker, int(cycle))
    refused = await answer(
        app_client,
        LEAVE,
        c=cycle,
        posts=[named.get(post, post) for post in posts],
        people=[named.get(person, person) for person in people],
        reason=reason,
    )
    assert (refused["code"], refused["field"]) == (code, field), refused
    assert await state_of(sessionmaker, int(cycle)) == before


async def test_a_leave_is_refused_outside_an_open_cycle(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    draft = await new_cycle(app_client, "Still a draft")
    refused = await answer(app_client, LEAVE, c=draft, posts=["1"], reason="early")
    assert (refused["code"], refused["field"]) == ("WRONG_CYCLE_STATE", "cycleId")
    assert await state_of(sessionmaker, int(draft)) == (0, 0, 0, 1, 0)


async def test_a_leaver_of_the_organisation_leaves_the_open_cycle_their_given_ratings_kept(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        # A rater who rated some of their ratees and not others.
        rated = select(Rating.ratee_id).where(Rating.cycle_id == cycle, Rating.rater_id == RaterAssignment.rater_id)
        pending = (
            select(RaterAssignment.rater_id)
            .where(cycle_id(cycle), RaterAssignment.rater_id != RaterAssignment.ratee_id)
            .where(RaterAssignment.ratee_id.not_in(rated.correlate(RaterAssignment).scalar_subquery()))
            .order_by(RaterAssignment.rater_id)
        )
        leaver = await session.scalar(pending.limit(1))
        number = await session.scalar(select(Employee.employee_no).where(Employee.id == leaver))
        given_ratings = await session.scalar(
            select(func.count()).where(Rating.cycle_id == cycle, Rating.rater_id == leaver)
        )
        done = set(
            await session.scalars(select(Rating.ratee_id).where(Rating.cycle_id == cycle, Rating.rater_id == leaver))
        )
    assert leaver is not None and given_ratings
    assert (await answer(app_client, DEACTIVATE, e=str(leaver)))["__typename"] == "EmployeeChanged"

    async with sessionmaker() as session:
        as_ratee = await session.scalar(select(func.count()).where(cycle_id(cycle), RaterAssignment.ratee_id == leaver))
        still_rates = set(
            await session.scalars(
                select(RaterAssignment.ratee_id).where(cycle_id(cycle), RaterAssignment.rater_id == leaver)
            )
        )
        kept = await session.scalar(select(func.count()).where(Rating.cycle_id == cycle, Rating.rater_id == leaver))
        note = await session.scalar(
            select(CycleTransition.note).where(CycleTransition.cycle_id == cycle).order_by(CycleTransition.id.desc())
        )
    assert as_ratee == 0
    assert still_rates == done - {leaver}  # what they rated stays assigned; what they had not is withdrawn
    assert kept == given_ratings
    assert note is not None and note.startswith(f"left the organisation: employee {number}, last day 2026-11-20")
