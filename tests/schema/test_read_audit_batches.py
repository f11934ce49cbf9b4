"""Reads of other people's ratings are audited once per batch, not once per person: a manager's team page
was about fifty audit transactions, which on SQLite queued for the one write lock under concurrent
requests until some failed with "database is locked"."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry
from tests.conftest import GraphQLClient
from tests.schema.conftest import Org

TEAM = """
query($c: ID!) {
  employees(first: 100) { edges { node { id employeeNo ratingsReceived(cycleId: $c) { value } } } }
}
"""


async def test_a_team_page_writes_one_audit_entry_naming_everyone_read(
    app_client: GraphQLClient, org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    manager = app_client.as_principal("manager", org.manager_no)
    data = await manager.data(TEAM, {"c": str(org.published_cycle)})
    others = [edge["node"]["id"] for edge in data["employees"]["edges"] if edge["node"]["employeeNo"] != org.manager_no]
    assert len(others) >= 5
    async with sessionmaker() as session:
        entries = (
            await session.execute(select(AuditEntry.ids).where(AuditEntry.operation == "Employee.ratingsReceived"))
        ).all()
    assert len(entries) == 1
    cycle, *employees = entries[0].ids
    assert cycle == f"cycle:{org.published_cycle}"
    assert sorted(employees) == sorted(f"employee:{id_}" for id_ in others)
