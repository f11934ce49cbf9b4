"""Peer nominations as a curious insider tries them: nominating for someone else, reading another person's
nominations (the nominee's included), approving their own, a manager deciding outside their line.

Each attempt must be refused with nothing written: no nomination, no rater assignment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, PeerNomination, RaterAssignment
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.schema.test_peer_nominations import DECIDE, NOMINATIONS, Cast, cast_of, decide, nominate


@pytest.fixture
async def cast(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> Cast:
    return await cast_of(sessionmaker, seeded.current_cycle_id)


async def _written(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[list[tuple[int, int, str]], int]:
    async with sessionmaker() as session:
        nominations = (
            await session.execute(
                select(PeerNomination.ratee_id, PeerNomination.nominee_id, PeerNomination.state).order_by(
                    PeerNomination.id
                )
            )
        ).all()
        assignments = await session.scalar(select(func.count()).select_from(RaterAssignment))
    return [(r, n, s.value) for r, n, s in nominations], int(assignments or 0)


async def test_an_employee_cannot_nominate_for_someone_else(
    app_client: GraphQLClient, seeded: SeedSummary, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The ratee is always the caller: there is no argument to name another, and what a colleague nominates is
    their own nomination, never the ratee's."""
    colleague = app_client.as_principal("employee", cast.colleague_nos[0])
    body = await colleague.execute(
        "mutation($c: ID!, $r: ID!, $n: [ID!]!) { peerNominate(cycleId: $c, rateeId: $r, nomineeIds: $n) "
        "{ __typename } }",
        {"c": str(seeded.current_cycle_id), "r": str(cast.ratee), "n": [str(cast.colleagues[1])]},
    )
    assert body.get("data") is None and "rateeId" in body["errors"][0]["message"]
    made = await nominate(colleague, seeded.current_cycle_id, [cast.colleagues[1]])
    assert made["__typename"] == "PeersNominated"
    nominations, _ = await _written(sessionmaker)
    assert nominations == [(cast.colleagues[0], cast.colleagues[1], "PROPOSED")]


async def test_nobody_but_the_ratee_their_managers_and_hr_reads_the_nominations(
    app_client: GraphQLClient, seeded: SeedSummary, cast: Cast
) -> None:
    """The nominee and other employees get no row; a manager outside the line neither; an analyst, payroll and
    training reach the row but are refused the field."""
    cycle = seeded.current_cycle_id
    await nominate(app_client.as_principal("employee", cast.ratee_no), cycle, list(cast.colleagues[:2]))
    variables = {"id": str(cast.ratee), "c": str(cycle)}
    for outsider in (
        app_client.as_principal("employee", cast.colleague_nos[0]),  # the nominee
        app_client.as_principal("employee", cast.colleague_nos[2]),
        app_client.as_principal("manager", cast.other_manager_no),
    ):
        body = await outsider.execute(NOMINATIONS, variables)
        assert body == {"data": {"employee": None}}, body
    for role in ("analyst", "payroll", "training"):
        body = await app_client.as_principal(role, None, ["names"] if role == "analyst" else []).execute(
            NOMINATIONS, variables
        )
        assert body["data"]["employee"]["peerNominations"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("decider", ["the ratee (employee)", "a manager outside the line", "the nominee"])
async def test_no_one_but_the_line_or_hr_decides_and_a_refusal_writes_nothing(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    cast: Cast,
    sessionmaker: async_sessionmaker[AsyncSession],
    decider: str,
) -> None:
    made = await nominate(
        app_client.as_principal("employee", cast.ratee_no), seeded.current_cycle_id, [cast.colleagues[0]]
    )
    nomination = made["nominations"][0]["id"]
    before = await _written(sessionmaker)
    client = {
        "the ratee (employee)": app_client.as_principal("employee", cast.ratee_no),
        "a manager outside the line": app_client.as_principal("manager", cast.other_manager_no),
        "the nominee": app_client.as_principal("employee", cast.colleague_nos[0]),
    }[decider]
    body: dict[str, Any] = await client.execute(DECIDE, {"id": nomination, "approve": True})
    if decider == "a manager outside the line":
        assert body["data"]["peerNominationDecide"] == {
            "__typename": "NotAllowedError",
            "code": "NOT_THE_DECIDER",
            "field": "nominationId",
        }
    else:  # employees may not decide at all
        assert body["data"]["peerNominationDecide"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _written(sessionmaker) == before


async def test_a_manager_cannot_approve_their_own_nomination(
    app_client: GraphQLClient, seeded: SeedSummary, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A team lead is a ratee too: they nominate as a manager, and their own nomination is their boss's to decide."""
    lead = app_client.as_principal("manager", cast.manager_no)
    made = await nominate(lead, seeded.current_cycle_id, [cast.colleagues[0]])
    assert made["__typename"] == "PeersNominated", made
    before = await _written(sessionmaker)
    refused = await decide(lead, made["nominations"][0]["id"], approve=True)
    assert (refused["__typename"], refused["code"]) == ("NotAllowedError", "NOT_THE_DECIDER")
    assert await _written(sessionmaker) == before
    approved = await decide(
        app_client.as_principal("manager", cast.boss_no), made["nominations"][0]["id"], approve=True
    )
    assert approved["__typename"] == "PeerNominationDecided"
    assert (await _written(sessionmaker))[1] == before[1] + 1


async def test_refusals_do_not_tell_a_ratee_who_their_managers_are_who_left_or_which_ids_exist(
    app_client: GraphQLClient, seeded: SeedSummary, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The insider review's H4: with a valid colleague first and a probe second, nothing was written and the
    refusal said "employee E000004 is a manager of yours", "... has left" or "no employee with id 500": the
    whole chain above, the leavers and the headcount. Every probe now gets the same answer."""
    async with sessionmaker() as session:
        chain = list(await session.scalars(select(Employee.manager_id).where(Employee.id == cast.ratee)))
        assert chain[0] is not None
        boss = await session.scalar(select(Employee.manager_id).where(Employee.id == chain[0]))
        a_leaver = await session.scalar(
            select(Employee.id).where(Employee.id.not_in([cast.ratee, *cast.colleagues])).order_by(Employee.id.desc())
        )
    deactivated = await app_client.data(
        'mutation($e: ID!) { employeeDeactivate(input: {employeeId: $e, leftOn: "2026-11-20"}) { __typename } }',
        {"e": str(a_leaver)},
    )
    assert deactivated["employeeDeactivate"]["__typename"] == "EmployeeChanged"
    ratee = app_client.as_principal("employee", cast.ratee_no)
    answers: set[tuple[str, str, str, str]] = set()
    for probe in (chain[0], boss, a_leaver, 10**6):
        refused = await nominate(ratee, seeded.current_cycle_id, [cast.colleagues[0], probe or 10**6 + 1])
        answers.add((refused["__typename"], refused["code"], refused["field"], refused["message"]))
    assert len(answers) == 1, answers
    ((kind, code, _, message),) = answers
    assert (kind, code) == ("InvalidInputError", "INVALID_INPUT") and message.startswith("nominee 2 ")
    nominations, _ = await _written(sessionmaker)
    assert nominations == []
