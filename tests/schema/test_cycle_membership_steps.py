"""A cycle's history read by everyone but HR: who left, who was taken out and why, are HR's alone.

The insider review found that every role read, in ``Cycle.transitions``, the leavers' employee numbers and last
days and HR's free-text reason for taking someone out of a cycle ("suspended pending a disciplinary
investigation"); a pseudonymous analyst then matched the names to the results missing from the next cycle.
Now the other roles see the workflow's state changes without notes, and no join, leave or leaver step.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org

HISTORY = "query($c: ID!) { cycle(id: $c) { transitions { fromState toState actor reason note } } }"
LEAVE = """mutation($c: ID!, $people: [ID!]!, $reason: String!) {
  cycleLeave(cycleId: $c, employeeIds: $people, reason: $reason) { __typename } }"""
DEACTIVATE = """mutation($e: ID!) {
  employeeDeactivate(input: {employeeId: $e, leftOn: "2026-11-20"}) { __typename } }"""
REASON = "suspended pending a disciplinary investigation"


async def two_outsiders(sessionmaker: async_sessionmaker[AsyncSession], org: Org) -> list[tuple[int, str]]:
    """(id, number) of two people outside the manager's line and other than the test's staff member."""
    async with sessionmaker() as session:
        rows = (await session.execute(select(Employee.id, Employee.employee_no).order_by(Employee.id.desc()))).all()
    keep = org.team | {org.staff_id, org.manager_id}
    return [(row[0], row[1]) for row in rows if row[0] not in keep][:2]


async def test_only_hr_reads_who_left_a_cycle_and_why(
    app_client: GraphQLClient, seeded: SeedSummary, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    (leaver, leaver_no), (taken_out, taken_out_no) = await two_outsiders(sessionmaker, org)
    cycle = {"c": str(seeded.current_cycle_id)}
    await app_client.data(
        'mutation($c: ID!) { cycleReopen(cycleId: $c, reason: "late ratings") { __typename } }', cycle
    )
    assert (await app_client.data(DEACTIVATE, {"e": str(leaver)}))["employeeDeactivate"]["__typename"] == (
        "EmployeeChanged"
    )
    left = await app_client.data(LEAVE, {**cycle, "people": [str(taken_out)], "reason": REASON})
    assert left["cycleLeave"]["__typename"] == "CycleLeft"

    hr = (await app_client.data(HISTORY, cycle))["cycle"]["transitions"]
    told_hr = json.dumps(hr)
    assert leaver_no in told_hr and taken_out_no in told_hr and REASON in told_hr
    state_changes = [step for step in hr if step["fromState"] != step["toState"]]
    assert len(state_changes) < len(hr)

    readers = [
        app_client.as_principal("employee", org.staff_no),
        app_client.as_principal("manager", org.manager_no),
        app_client.as_principal("analyst"),
        app_client.as_principal("analyst", grants=["names"]),
        app_client.as_principal("payroll"),
        app_client.as_principal("training"),
    ]
    for reader in readers:
        shown = (await reader.data(HISTORY, cycle))["cycle"]["transitions"]
        told = json.dumps(shown)
        assert leaver_no not in told and taken_out_no not in told and REASON not in told
        assert all(step["note"] is None for step in shown)
        assert [(s["fromState"], s["toState"], s["reason"]) for s in shown] == [
            (s["fromState"], s["toState"], s["reason"]) for s in state_changes
        ]
