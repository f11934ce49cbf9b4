"""What a cycle pinned, and which scheme applies to a ratee before scoring (issue 13, point 6, the reads)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import CycleScheme, Employee
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

PINS = "query($c: ID!) { cycle(id: $c) { schemes { post { id } schemeVersion { id post { id } } } } }"
SCHEMES = """
query($c: ID!, $n: Int!) {
  employees(first: $n) {
    edges { node { id post { id } scheme(cycleId: $c) { id items { indicatorVersion { rule } } } } }
  }
}
"""


async def pinned(sessionmaker: async_sessionmaker[AsyncSession], cycle: int) -> dict[str, str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(CycleScheme.post_id, CycleScheme.scheme_version_id).where(CycleScheme.cycle_id == cycle)
        )
        return {str(post): str(scheme) for post, scheme in rows}


async def test_a_cycle_shows_the_scheme_version_it_pinned_for_each_post(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for cycle in (seeded.past_cycle_id, seeded.current_cycle_id):
        pins = (await app_client.data(PINS, {"c": str(cycle)}))["cycle"]["schemes"]
        assert {pin["post"]["id"]: pin["schemeVersion"]["id"] for pin in pins} == await pinned(sessionmaker, cycle)
        assert all(pin["schemeVersion"]["post"] == pin["post"] for pin in pins)
    created = await app_client.data(
        'mutation { cycleCreate(input: {name: "Pins", periodStart: "2027-01-01", periodEnd: "2027-03-31"}) '
        "{ ... on CycleChanged { cycle { id schemes { post { id } } } } } }"
    )
    assert created["cycleCreate"]["cycle"]["schemes"] == []  # a DRAFT cycle has pinned nothing yet


async def test_an_employee_knows_their_scheme_before_scoring(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.current_cycle_id
    pins = await pinned(sessionmaker, cycle)
    async with sessionmaker() as session:
        number = await session.scalar(select(Employee.employee_no).order_by(Employee.id.desc()).limit(1))
    assert number is not None
    employee = app_client.as_principal("employee", number)
    # Through the whole list (the employee reaches only themselves) and as hr_admin for everyone.
    for client in (employee, app_client):
        nodes = [
            edge["node"] for edge in (await client.data(SCHEMES, {"c": str(cycle), "n": 500}))["employees"]["edges"]
        ]
        assert nodes
        for node in nodes:
            assert node["scheme"]["id"] == pins[node["post"]["id"]]
            assert node["scheme"]["items"], "a scheme lists its indicators"
    assert (await app_client.data(SCHEMES, {"c": "999999", "n": 3}))["employees"]["edges"][0]["node"]["scheme"] is None


async def test_an_employees_scheme_costs_the_same_statements_for_any_page(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    spent = []
    for size in (3, 100):
        app_client.sql.reset()
        await app_client.data(SCHEMES, {"c": str(seeded.current_cycle_id), "n": size})
        spent.append(app_client.sql.count)
    assert spent[0] == spent[1]


async def test_an_analyst_without_names_gets_no_employee_scheme(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """A scheme names the post held in that cycle, perhaps one withheld from the analyst today or then (a transfer
    out of a small cell): analysts read schemes by post (Post.currentScheme, Cycle.schemes), not by person."""
    analyst = app_client.as_principal("analyst")
    body = await analyst.execute(SCHEMES, {"c": str(seeded.current_cycle_id), "n": 500})
    nodes = [edge["node"] for edge in body["data"]["employees"]["edges"]]
    assert nodes and all(node["scheme"] is None for node in nodes)
    denied = [error["path"][-1] for error in body["errors"]]
    assert denied.count("scheme") == len(nodes)
    named = app_client.as_principal("analyst", grants=["names"])
    page = await named.data(SCHEMES, {"c": str(seeded.current_cycle_id), "n": 500})
    assert all(edge["node"]["scheme"] is not None for edge in page["employees"]["edges"])
