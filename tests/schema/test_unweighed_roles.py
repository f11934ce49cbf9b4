"""Rater roles the ratee's scheme gives no weight are refused, not accepted and then ignored by scoring
(raterAssign, raterAssignMany, peerNominate, peerNominationDecide); the refusals, and the rater checks'
other messages, name people by employee number."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, CycleScheme, Employee, IndicatorVersion, PeerNomination, SchemeItem, SchemeRaterWeight
from hub.demo.organisation import SeedSummary
from hub.domain import MANUAL_SOURCE, NominationState, RaterRole
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, create_cycle
from hub.operations.errors import RoleNotWeighed
from hub.operations.ratings import RaterAssignInput, assign_rater
from tests.conftest import GraphQLClient
from tests.hub.operations.test_assignments import assignments_of, reports
from tests.schema.test_peer_nominations import cast_of, decide, nominate
from tests.schema.test_rater_assign_many import ASSIGN_MANY, item

Sessions = async_sessionmaker[AsyncSession]
ASSIGN = """
mutation($c: ID!, $ratee: ID!, $rater: ID!, $role: RaterRole!) {
  raterAssign(input: {cycleId: $c, rateeId: $ratee, raterId: $rater, role: $role}) {
    __typename
    ... on RaterAssigned { assignment { role } }
    ... on MutationError { code field message }
  }
}
"""
SUBMIT = """
mutation($c: ID!, $ratee: ID!, $rater: ID!, $v: ID!) {
  ratingSubmit(input: {cycleId: $c, rateeId: $ratee, raterId: $rater, indicatorVersionId: $v, value: 3}) {
    __typename ... on MutationError { code field message }
  }
}
"""


async def unweigh_peers_and_subordinates(sessionmaker: Sessions, scheme_ids: Any) -> None:
    """PEER weighed 0 and SUBORDINATE left out (the two ways a scheme gives a role no weight); MANAGER takes
    their share, so that the weights still sum to 100."""
    async with sessionmaker() as session, session.begin():
        weights = SchemeRaterWeight.scheme_version_id.in_(scheme_ids)
        await session.execute(
            update(SchemeRaterWeight).where(weights, SchemeRaterWeight.role == RaterRole.PEER).values(weight=0)
        )
        await session.execute(delete(SchemeRaterWeight).where(weights, SchemeRaterWeight.role == RaterRole.SUBORDINATE))
        await session.execute(
            update(SchemeRaterWeight).where(weights, SchemeRaterWeight.role == RaterRole.MANAGER).values(weight=90)
        )


def pinned_by(cycle_id: int) -> Any:
    return select(CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle_id).scalar_subquery()


async def number(sessionmaker: Sessions, employee_id: int) -> str:
    async with sessionmaker() as session:
        found = await session.scalar(select(Employee.employee_no).where(Employee.id == employee_id))
    assert found is not None
    return found


@dataclass(frozen=True)
class Unweighed:
    """The OPEN cycle with PEER and SUBORDINATE unweighed, an employee ``a`` with their ``boss``, a colleague
    ``b``, and the assignments before any test's call."""

    cycle: int
    a: int
    boss: int
    b: int
    before: set[tuple[int, int, RaterRole]]


@pytest.fixture
async def unweighed(seeded: SeedSummary, sessionmaker: Sessions) -> Unweighed:
    cycle = seeded.current_cycle_id
    (a, boss), (b, _) = await reports(sessionmaker, 2)
    await unweigh_peers_and_subordinates(sessionmaker, pinned_by(cycle))
    return Unweighed(cycle, a, boss, b, await assignments_of(sessionmaker, cycle))


async def test_an_unweighed_role_is_refused_naming_the_ratee_the_role_and_the_weighed_roles(
    app_client: GraphQLClient, unweighed: Unweighed, sessionmaker: Sessions
) -> None:
    cycle, a, boss, b, before = unweighed.cycle, unweighed.a, unweighed.boss, unweighed.b, unweighed.before
    for ratee, rater, role in ((a, b, RaterRole.PEER), (boss, a, RaterRole.SUBORDINATE)):
        variables = {"c": str(cycle), "ratee": str(ratee), "rater": str(rater), "role": role.value}
        refused = (await app_client.data(ASSIGN, variables))["raterAssign"]
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "InvalidInputError",
            "RATER_ROLE_NOT_WEIGHED",
            "role",
        )
        assert refused["message"] == (
            f"the scheme of employee {await number(sessionmaker, ratee)} in this cycle gives {role.value} raters "
            "no weight (it weighs SELF, MANAGER), so their ratings would not count"
        )
    assert await assignments_of(sessionmaker, cycle) == before
    # A role the scheme weighs is still assigned.
    variables = {"c": str(cycle), "ratee": str(a), "rater": str(boss), "role": "MANAGER"}
    assert (await app_client.data(ASSIGN, variables))["raterAssign"]["__typename"] == "RaterAssigned"


async def test_every_unweighed_item_of_a_bulk_assignment_is_listed_by_index(
    app_client: GraphQLClient, unweighed: Unweighed, sessionmaker: Sessions
) -> None:
    cycle, a, boss, b, before = unweighed.cycle, unweighed.a, unweighed.boss, unweighed.b, unweighed.before
    given = [item(a, boss, RaterRole.MANAGER), item(a, b, RaterRole.PEER), item(boss, a, RaterRole.SUBORDINATE)]
    answer = (await app_client.data(ASSIGN_MANY, {"c": str(cycle), "a": given}))["raterAssignMany"]
    assert answer["code"] == "ASSIGNMENTS_REJECTED"
    problems = [(p["line"], p["code"]) for p in answer["problems"]]
    assert problems == [(1, "RATER_ROLE_NOT_WEIGHED"), (2, "RATER_ROLE_NOT_WEIGHED")]
    assert await number(sessionmaker, a) in answer["problems"][0]["message"]
    assert await number(sessionmaker, boss) in answer["problems"][1]["message"]
    assert await assignments_of(sessionmaker, cycle) == before


async def test_peers_are_neither_nominated_nor_approved_when_the_scheme_gives_them_no_weight(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    cast = await cast_of(sessionmaker, cycle)
    ratee = app_client.as_principal("employee", cast.ratee_no)
    proposed = await nominate(ratee, cycle, [cast.colleagues[0]])
    assert proposed["__typename"] == "PeersNominated", proposed
    await unweigh_peers_and_subordinates(sessionmaker, pinned_by(cycle))
    before = await assignments_of(sessionmaker, cycle)

    refused = await nominate(ratee, cycle, [cast.colleagues[1]])
    assert (refused["code"], refused["field"]) == ("RATER_ROLE_NOT_WEIGHED", "nomineeIds")
    assert f"employee {cast.ratee_no} " in refused["message"]
    not_approved = await decide(app_client, proposed["nominations"][0]["id"], approve=True)
    assert (not_approved["code"], not_approved["field"]) == ("RATER_ROLE_NOT_WEIGHED", "nominationId")

    async with sessionmaker() as session:
        states = list(await session.scalars(select(PeerNomination.state)))
    assert states == [NominationState.PROPOSED]
    assert await assignments_of(sessionmaker, cycle) == before


async def test_a_draft_cycle_checks_against_the_scheme_in_force_on_its_first_day(
    seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    """Before opening nothing is pinned: the scheme opening would pin (in force on the first day) decides."""
    async with sessionmaker() as session:
        current = await session.get(Cycle, seeded.current_cycle_id)
    assert current is not None
    command = CycleCreateInput(name="a second look", period_start=current.period_start, period_end=current.period_end)
    draft = await create_cycle(sessionmaker, command, Caller("hr"))
    (a, _), (b, _), (c, _) = await reports(sessionmaker, 3)
    peer = RaterAssignInput(cycle_id=draft.id, ratee_id=a, rater_id=b, role=RaterRole.PEER)
    assert (await assign_rater(sessionmaker, peer, Caller("hr"))).role is RaterRole.PEER
    await unweigh_peers_and_subordinates(sessionmaker, pinned_by(seeded.current_cycle_id))
    before = await assignments_of(sessionmaker, draft.id)
    with pytest.raises(RoleNotWeighed):
        await assign_rater(sessionmaker, replace(peer, rater_id=c), Caller("hr"))
    assert await assignments_of(sessionmaker, draft.id) == before


async def test_rater_messages_name_people_by_employee_number(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: Sessions
) -> None:
    cycle = seeded.current_cycle_id
    (a, _), (b, _) = await reports(sessionmaker, 2)
    a_no, b_no = await number(sessionmaker, a), await number(sessionmaker, b)
    variables = {"c": str(cycle), "ratee": str(a), "rater": str(b), "role": "MANAGER"}
    wrong = (await app_client.data(ASSIGN, variables))["raterAssign"]
    assert wrong["code"] == "WRONG_RATER_RELATIONSHIP"
    assert wrong["message"] == f"employee {b_no} is not the manager of employee {a_no}, so cannot rate them as MANAGER"
    async with sessionmaker() as session:
        version = await session.scalar(
            select(SchemeItem.indicator_version_id)
            .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
            .where(IndicatorVersion.source_system == MANUAL_SOURCE)
            .limit(1)
        )
    variables = {"c": str(cycle), "ratee": str(a), "rater": str(b), "v": str(version)}
    not_a_rater = (await app_client.data(SUBMIT, variables))["ratingSubmit"]
    assert not_a_rater["code"] == "NOT_A_RATER"
    assert not_a_rater["message"] == f"employee {b_no} is not a rater of employee {a_no} in this cycle"
    cast = await cast_of(sessionmaker, cycle)
    async with sessionmaker() as session:
        manager = await session.scalar(select(Employee.manager_id).where(Employee.id == cast.ratee))
    assert manager is not None
    refused = await nominate(app_client.as_principal("employee", cast.ratee_no), cycle, [manager])
    # A refused nominee is named by position only (the insider review's H4: it told the ratee their managers).
    assert (
        refused["message"].startswith("nominee 1 cannot be your peer rater")
        and cast.manager_no not in refused["message"]
    )
