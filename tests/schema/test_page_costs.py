"""What one portal request costs the database: statements and pooled connections for the page and the employee
detail, and no ``count(*)`` unless the query selects ``totalCount``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.served_readme import readme_query
from hub.demo.organisation import SeedSummary
from hub.persisted import sha256_hex
from schema import compiled
from tests.conftest import GraphQLClient, make_settings, serving
from tests.schema.conftest import PORTAL_DOCUMENTS

PAGE = """
query Page($first: Int!, $withTotal: Boolean! = false) {
  employees(first: $first) {
    totalCount @include(if: $withTotal)
    pageInfo { hasNextPage endCursor }
    edges { node { id employeeNo name department { name } post { code name } results { totalScore grade rankInPost } } }
  }
}
"""

DETAIL = (PORTAL_DOCUMENTS / "EmployeeDetail.graphql").read_text(encoding="utf-8")
"""The portal's employee detail: what it costs is what the served benchmark's detail requests cost."""


def _counts(app_client: GraphQLClient) -> tuple[int, int, list[str]]:
    sql = app_client.sql
    return len(sql.statements), sql.connections, [s for s in sql.statements if "count(*)" in s.lower()]


async def _cost(app_client: GraphQLClient, query: str, variables: dict[str, Any]) -> tuple[int, int, list[str]]:
    app_client.sql.reset()
    await app_client.data(query, variables)
    return _counts(app_client)


async def test_a_page_without_total_count_runs_no_count(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """The count reads every matching row: a page that does not select totalCount must not pay for it."""
    _, _, counts = await _cost(app_client, PAGE, {"first": 20})
    assert counts == []


async def test_a_page_with_total_count_runs_one_count(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """Selected (here switched on by @include), totalCount costs exactly one more statement, the count."""
    without, _, _ = await _cost(app_client, PAGE, {"first": 20})
    with_total, _, counts = await _cost(app_client, PAGE, {"first": 20, "withTotal": True})
    assert with_total == without + 1
    assert len(counts) == 1 and "employee" in counts[0]
    data = await app_client.data(PAGE, {"first": 20, "withTotal": True})
    assert data["employees"]["totalCount"] == seeded.employees


@pytest.mark.parametrize(
    ("selection", "counted"),
    [
        ("totalCount", True),
        ("...Total", True),
        ("... on EmployeeConnection { totalCount }", True),
        ("totalCount @skip(if: true)", False),
        ("totalCount @skip(if: false)", True),
        ("... on EmployeeConnection @include(if: false) { totalCount }", False),
        ("pageInfo { hasNextPage }", False),
    ],
)
async def test_total_count_is_seen_through_fragments_and_directives(
    app_client: GraphQLClient, seeded: SeedSummary, selection: str, counted: bool
) -> None:
    """A fragment that selects totalCount counts; one a directive switches off does not."""
    fragment = "fragment Total on EmployeeConnection { totalCount }" if "...Total" in selection else ""
    query = f"{{ employees(first: 5) {{ {selection} edges {{ cursor }} }} }} {fragment}"
    _, _, counts = await _cost(app_client, query, {})
    assert bool(counts) is counted


async def test_results_and_audit_pages_count_only_when_asked(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """The other connections follow the same rule."""
    cycle = str(seeded.past_cycle_id)
    for field in (f'results(cycleId: "{cycle}", first: 5)', "auditLog(first: 5)"):
        _, _, counts = await _cost(app_client, f"{{ {field} {{ edges {{ cursor }} }} }}", {})
        assert counts == [], field
        _, _, counts = await _cost(app_client, f"{{ {field} {{ totalCount edges {{ cursor }} }} }}", {})
        assert len(counts) == 1, field


# The page's statements run one after the other on the connection the page was read on: the list field reads the
# relations its nodes select for the whole page (``resolvers.loaders.prefetch``), so no node's field loads anything.
# A change that adds a statement or a connection to these requests changes these numbers: lower them when a change
# saves one.
PAGE_STATEMENTS = 4
"""The page (no count), then the page's departments, posts and results, one statement each."""
PAGE_CONNECTIONS = 1
DETAIL_STATEMENTS = 6
"""The employee, then its department, post, manager, results, and the results' cycles."""
DETAIL_CONNECTIONS = 1


@pytest.mark.parametrize("role", ["hr_admin", "manager"])
async def test_the_portal_page_costs_fixed_statements_and_connections(
    app_client: GraphQLClient, seeded: SeedSummary, role: str
) -> None:
    """A page of 50 as hr_admin or as the root department's head: the same few statements, on one connection."""
    client = app_client if role == "hr_admin" else app_client.as_principal("manager", "E000001")
    for _ in range(2):  # the second request finds the pool warm and the compiled statements cached
        statements, connections, _ = await _cost(client, PAGE, {"first": 50})
        assert (statements, connections) == (PAGE_STATEMENTS, PAGE_CONNECTIONS)
    data = await client.data(PAGE, {"first": 50})
    nodes = [edge["node"] for edge in data["employees"]["edges"]]
    assert len(nodes) == 50 and all(node["department"] and node["post"] for node in nodes), "every field loads"
    assert sum(len(node["results"]) for node in nodes) > 40


async def test_total_count_adds_a_statement_not_a_connection(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    statements, connections, counts = await _cost(app_client, PAGE, {"first": 50, "withTotal": True})
    assert (statements, connections, len(counts)) == (PAGE_STATEMENTS + 1, PAGE_CONNECTIONS, 1)


async def test_the_employee_detail_costs_fixed_statements_and_connections(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """One employee with department, post, manager and results: its statements on one connection."""
    for _ in range(2):
        statements, connections, _ = await _cost(app_client, DETAIL, {"id": "5"})
        assert (statements, connections) == (DETAIL_STATEMENTS, DETAIL_CONNECTIONS)
    data = await app_client.data(DETAIL, {"id": "5"})
    assert data["employee"]["manager"] is not None and data["employee"]["results"], "every field really loads"
    assert all(result["cycle"]["name"] for result in data["employee"]["results"])


@pytest.mark.parametrize(
    ("document", "variables", "statements"),
    [("PortalPage", {"first": 50}, PAGE_STATEMENTS), ("EmployeeDetail", {"id": "5"}, DETAIL_STATEMENTS)],
)
async def test_the_compiled_plans_cost_what_the_executor_costs(
    database_url: str, seeded: SeedSummary, document: str, variables: dict[str, Any], statements: int
) -> None:
    """The registered page and detail answered by their compiled plans (schema/compiled.py) read the relations
    with the page or the employee, on its connection, as the executor does: not a connection per relation."""
    text = (PORTAL_DOCUMENTS / f"{document}.graphql").read_text(encoding="utf-8")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}}
    async with serving(make_settings(database_url=database_url, persisted_documents=PORTAL_DOCUMENTS)) as client:
        for _ in range(2):
            client.sql.reset()
            before = compiled.STATS.compiled
            response = await client.http.post("/graphql", json={"variables": variables, "extensions": extensions})
            assert response.status_code == 200 and "errors" not in response.json()
            assert compiled.STATS.compiled == before + 1, "the plan answered"
            assert _counts(client)[:2] == (statements, PAGE_CONNECTIONS)


async def _tasks_of(client: GraphQLClient, query: str, variables: dict[str, Any]) -> int:
    """How many asyncio tasks serving ``query`` creates (the ASGI plumbing's, the loaders' dispatches, and one per
    field graphql-core awaits in a list)."""
    loop = asyncio.get_running_loop()
    created = 0
    previous = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        nonlocal created
        created += 1
        return previous(loop, coro, **kwargs) if previous is not None else asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        await client.data(query, variables)
    finally:
        loop.set_task_factory(previous)
    return created


@pytest.mark.parametrize("role", ["hr_admin", "manager"])
async def test_the_page_creates_no_task_per_row(app_client: GraphQLClient, seeded: SeedSummary, role: str) -> None:
    """The nodes' relations are returned, not awaited: a page of 50 creates as many tasks as a page of 5 (each
    awaited field of each row used to be a task of its own: some 200 for this page)."""
    client = app_client if role == "hr_admin" else app_client.as_principal("manager", "E000001")
    await client.data(PAGE, {"first": 5})  # warm: the first request of an app sets things up
    assert await _tasks_of(client, PAGE, {"first": 50}) == await _tasks_of(client, PAGE, {"first": 5})


async def test_a_page_of_results_reads_its_relations_on_one_connection(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """The results list plans its nodes' relations too: the page, cycles, posts, employees and their departments."""
    query = """
    query Results($cycleId: ID!) { results(cycleId: $cycleId, first: 50) { edges { node {
      totalScore rankInPost cycle { name } post { code } employee { name department { name } }
    } } } }
    """
    statements, connections, _ = await _cost(app_client, query, {"cycleId": str(seeded.past_cycle_id)})
    assert (statements, connections) == (5, 1)
    tasks = [
        await _tasks_of(app_client, query.replace("first: 50", f"first: {n}"), {"cycleId": str(seeded.past_cycle_id)})
        for n in (5, 50)
    ]
    assert tasks[0] == tasks[1]


async def test_the_readme_query_checks_out_one_connection(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """The README's first query: two root fields, a page, its relations and the nested loaders' batches, all on one
    pooled connection, one session after the other (``hub.db.lease``); each used to check out its own, several at
    once, and concurrent queries then waited for each other's connections until the pool timed them out."""
    for _ in range(2):
        _, connections, _ = await _cost(app_client, readme_query(), {})
        assert connections == 1
