"""Peer nomination through GraphQL: the ratee proposes, their manager approves, the nominee learns of it as a
rating task. Who is who comes from the test's own walk of the manager chain (tests/insider/org_chart.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry, PeerNomination, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import GraphQLClient
from tests.insider.org_chart import read_chart

NOMINATE = """
mutation($c: ID!, $n: [ID!]!) {
  peerNominate(cycleId: $c, nomineeIds: $n) {
    __typename
    ... on PeersNominated { nominations { id state nominee { id employeeNo name } } }
    ... on MutationError { code field message }
  }
}
"""
DECIDE = """
mutation($id: ID!, $approve: Boolean!, $reason: String) {
  peerNominationDecide(nominationId: $id, approve: $approve, reason: $reason) {
    __typename
    ... on PeerNominationDecided { nomination { id state reason decidedAt } assignment { role rater { id } } }
    ... on MutationError { code field }
  }
}
"""
NOMINATIONS = """
query($id: ID!, $c: ID!) { employee(id: $id) { id peerNominations(cycleId: $c) { state nominee { id } } } }
"""
TASKS = "query($id: ID!, $c: ID!) { employee(id: $id) { ratingTasks(cycleId: $c) { ratee { id } role } } }"


@dataclass(frozen=True)
class Cast:
    """A ratee (an employee without reports), their manager (a team lead) and that lead's boss, a manager
    outside their line, and colleagues who may be nominated (no rater of the ratee yet)."""

    ratee: int
    ratee_no: str
    manager_no: str
    boss_no: str
    other_manager_no: str
    colleagues: tuple[int, ...]
    colleague_nos: tuple[str, ...]


async def cast_of(sessionmaker: async_sessionmaker[AsyncSession], cycle_id: int) -> Cast:
    chart = await read_chart(sessionmaker)
    lead = next(lead for lead in chart.team_leads() if any(not chart.reports(p) for p in chart.reports(lead)))
    ratee = next(p for p in chart.reports(lead) if not chart.reports(p))
    boss = chart.manager_of[lead]
    assert boss is not None
    other = next(m for m in chart.team_leads() if m != lead and ratee not in chart.below(m))
    async with sessionmaker() as session:
        raters = set(
            await session.scalars(
                select(RaterAssignment.rater_id).where(
                    RaterAssignment.cycle_id == cycle_id, RaterAssignment.ratee_id == ratee
                )
            )
        )
    above = {lead, boss, chart.root}
    # Nominees who manage nobody: a nominee who is a manager would read the rows of their own line only.
    colleagues = sorted(
        e
        for e in chart.manager_of
        if e not in above | raters | {ratee, other} | set(chart.reports(lead)) and not chart.reports(e)
    )[:3]
    return Cast(
        ratee,
        chart.number_of[ratee],
        chart.number_of[lead],
        chart.number_of[boss],
        chart.number_of[other],
        tuple(colleagues),
        tuple(chart.number_of[c] for c in colleagues),
    )


@pytest.fixture
async def cast(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> Cast:
    return await cast_of(sessionmaker, seeded.current_cycle_id)


async def nominate(client: GraphQLClient, cycle: int, nominees: list[int]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(NOMINATE, {"c": str(cycle), "n": [str(n) for n in nominees]}))[
        "peerNominate"
    ]
    return payload


async def decide(client: GraphQLClient, nomination: str, *, approve: bool, reason: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(DECIDE, {"id": nomination, "approve": approve, "reason": reason}))[
        "peerNominationDecide"
    ]
    return payload


async def test_the_ratee_proposes_the_manager_approves_and_the_nominee_gets_a_rating_task(
    app_client: GraphQLClient, seeded: SeedSummary, cast: Cast, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.current_cycle_id
    ratee = app_client.as_principal("employee", cast.ratee_no)
    made = await nominate(ratee, cycle, list(cast.colleagues[:2]))
    assert made["__typename"] == "PeersNominated", made
    assert [(n["state"], n["nominee"]["employeeNo"]) for n in made["nominations"]] == [
        ("PROPOSED", cast.colleague_nos[0]),
        ("PROPOSED", cast.colleague_nos[1]),
    ]
    assert all(n["nominee"]["name"] for n in made["nominations"])  # the ratee named them; they see the names
    # The ratee, their manager, the manager's boss and hr_admin read the nominations.
    manager = app_client.as_principal("manager", cast.manager_no)
    for reader in (ratee, manager, app_client.as_principal("manager", cast.boss_no), app_client):
        read = await reader.data(NOMINATIONS, {"id": str(cast.ratee), "c": str(cycle)})
        assert [n["nominee"]["id"] for n in read["employee"]["peerNominations"]] == [
            str(c) for c in cast.colleagues[:2]
        ]
    nominee = app_client.as_principal("employee", cast.colleague_nos[0])
    before = await nominee.data(TASKS, {"id": str(cast.colleagues[0]), "c": str(cycle)})
    assert str(cast.ratee) not in {task["ratee"]["id"] for task in before["employee"]["ratingTasks"]}

    first, second = (n["id"] for n in made["nominations"])
    approved = await decide(manager, first, approve=True)
    assert approved["__typename"] == "PeerNominationDecided", approved
    assert approved["nomination"]["state"] == "APPROVED" and approved["nomination"]["decidedAt"]
    assert approved["assignment"] == {"role": "PEER", "rater": {"id": str(cast.colleagues[0])}}
    declined = await decide(manager, second, approve=False, reason="not on the project this year")
    assert declined["nomination"] | {"id": None, "decidedAt": None} == {
        "id": None,
        "state": "DECLINED",
        "reason": "not on the project this year",
        "decidedAt": None,
    }
    assert declined["assignment"] is None

    after = await nominee.data(TASKS, {"id": str(cast.colleagues[0]), "c": str(cycle)})
    tasks = {task["ratee"]["id"]: task["role"] for task in after["employee"]["ratingTasks"]}
    assert tasks[str(cast.ratee)] == RaterRole.PEER.value
    # Each change is audited with what it wrote: the nominations, then the nomination and its assignment.
    async with sessionmaker() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.operation.in_(["peerNominate", "peerNominationDecide"]))
            )
        ).all()
    by_operation = [(entry.operation, entry.outcome) for entry in entries]
    assert by_operation == [("peerNominate", "ok"), ("peerNominationDecide", "ok"), ("peerNominationDecide", "ok")]
    assert any(i.startswith("assignment:") for i in entries[1].ids)
    assert {f"peer_nomination:{first}", f"peer_nomination:{second}"} <= set(entries[0].ids)


@pytest.mark.parametrize(
    ("who", "code"),
    # An unknown id is refused as an ineligible one is (insider review H4: NOT_FOUND told which ids exist).
    [("themselves", "INVALID_INPUT"), ("their manager", "INVALID_INPUT"), ("nobody known", "INVALID_INPUT")],
)
async def test_a_refused_nomination_is_a_typed_error_and_writes_nothing(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    cast: Cast,
    sessionmaker: async_sessionmaker[AsyncSession],
    who: str,
    code: str,
) -> None:
    async with sessionmaker() as session:
        manager = await session.scalar(
            select(RaterAssignment.rater_id).where(
                RaterAssignment.ratee_id == cast.ratee, RaterAssignment.role == RaterRole.MANAGER
            )
        )
    nominee = {"themselves": cast.ratee, "their manager": manager or 0, "nobody known": 10**9}[who]
    refused = await nominate(
        app_client.as_principal("employee", cast.ratee_no), seeded.current_cycle_id, [cast.colleagues[0], nominee]
    )
    assert (refused["__typename"], refused["code"], refused["field"]) in {
        ("InvalidInputError", code, "nomineeIds"),
        ("NotFoundError", code, "nomineeIds"),
    }
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(PeerNomination)) == 0


async def test_retired_indicators_can_be_left_out_and_ranges_are_declared_through_the_api(
    app_client: GraphQLClient,
) -> None:
    """indicatorCreate declares a range, indicatorRetire retires, indicators(includeRetired: false) leaves out
    what is retired by today (2026-11-16) and keeps what retires later; retiring twice is refused."""
    create = """
    mutation($input: IndicatorCreateInput!) { indicatorCreate(input: $input) {
      __typename ... on IndicatorVersionSaved { indicatorVersion { validMin validMax indicator { id } } }
      ... on MutationError { code field } } }
    """
    made = []
    for code in ("FIRST_CALL_FIX", "FIRST_CALL_FIX_B"):
        created = await app_client.data(
            create,
            {
                "input": {
                    "code": code,
                    "name": "First-call fix rate",
                    "category": "EXTENSION",
                    "direction": "HIGHER_IS_BETTER",
                    "unit": "%",
                    "rule": {"kind": "linear", "floor": 40, "target": 90},
                    "sourceSystem": "tickets",
                    "sourceMetric": "first_call_fix",
                    "effectiveFrom": "2026-01-01",
                    "validMin": 0,
                    "validMax": 100,
                }
            },
        )
        version = created["indicatorCreate"]["indicatorVersion"]
        assert (version["validMin"], version["validMax"]) == (0.0, 100.0)
        made.append(version["indicator"]["id"])
    retire = """
    mutation($id: ID!, $on: Date!) { indicatorRetire(indicatorId: $id, retiredOn: $on, reason: "merged") {
      __typename ... on IndicatorRetired { indicator { id retiredOn retiredReason } }
      ... on MutationError { code field } } }
    """
    retired = (await app_client.data(retire, {"id": made[0], "on": "2026-11-01"}))["indicatorRetire"]
    assert retired["indicator"] == {"id": made[0], "retiredOn": "2026-11-01", "retiredReason": "merged"}
    await app_client.data(retire, {"id": made[1], "on": "2027-01-01"})
    again = (await app_client.data(retire, {"id": made[0], "on": "2026-12-01"}))["indicatorRetire"]
    assert (again["code"], again["field"]) == ("INDICATOR_RETIRED", "indicatorId")

    listed = "query($all: Boolean!) { indicators(includeRetired: $all) { id } }"
    everything = {i["id"] for i in (await app_client.data(listed, {"all": True}))["indicators"]}
    in_use = {i["id"] for i in (await app_client.data(listed, {"all": False}))["indicators"]}
    default = {i["id"] for i in (await app_client.data("{ indicators { id } }"))["indicators"]}
    assert default == everything and set(made) <= everything
    assert everything - in_use == {made[0]}
    bad = (
        await app_client.data(
            create,
            {
                "input": {
                    "code": "BAD_RANGE",
                    "name": "x",
                    "category": "EXTENSION",
                    "direction": "HIGHER_IS_BETTER",
                    "rule": {"kind": "linear", "floor": 40, "target": 90},
                    "sourceSystem": "tickets",
                    "sourceMetric": "x",
                    "effectiveFrom": "2026-01-01",
                    "validMin": 5,
                    "validMax": 5,
                }
            },
        )
    )["indicatorCreate"]
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "validMin")
