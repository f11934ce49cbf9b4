"""The portal page's and the employee detail's statements use indexes on a large organisation (PostgreSQL).

The demo organisation grows by 100,000 employees (a reporting tree under the root department's head, E000001)
and a result each in the past cycle, inserted by ``generate_series`` in a few seconds, then analysed. The page
as hr_admin and as E000001, the employee detail and a page of results are served; every statement they run is
captured with its parameters and explained: none may scan the big tables (employees, appraisal_results)
sequentially. An index missing for a loader's key or a page's filter shows up here as a ``Seq Scan``.

``totalCount`` is left out: its ``count(*)`` reads every matching row by nature (a sequential scan is its best
plan), which is why a page runs it only when the query selects it (``test_page_costs.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.app import create_app
from hub.auth import Role, issue_token
from hub.db.engine import create_engine
from tests.conftest import TODAY, GraphQLClient, StatementCounter, make_settings
from tests.schema.test_page_costs import DETAIL, PAGE

EMPLOYEES = 100_000
BIG_TABLES = {"employees", "appraisal_results"}

# Each new employee k (0-based) reports to E000001 when k < 10, else to new employee k // 10 - 1: a tree ten wide.
GROW = [
    """
    INSERT INTO employees (employee_no, name, department_id, post_id, status, created_at, updated_at)
    SELECT 'PLAN-' || g, 'Plan ' || g, p.department_id, p.id, 'ACTIVE', now(), now()
    FROM generate_series(0, :count - 1) AS g
    JOIN (SELECT id, department_id, row_number() OVER (ORDER BY id) - 1 AS n FROM posts) AS p
      ON p.n = g % (SELECT count(*) FROM posts)
    """,
    """
    WITH first AS (SELECT min(id) AS id FROM employees WHERE employee_no LIKE 'PLAN-%'),
         root AS (SELECT id FROM employees WHERE employee_no = 'E000001')
    UPDATE employees AS e
    SET manager_id = CASE WHEN e.id - first.id < 10 THEN root.id ELSE first.id + (e.id - first.id) / 10 - 1 END
    FROM first, root
    WHERE e.employee_no LIKE 'PLAN-%'
    """,
    """
    INSERT INTO appraisal_results (cycle_id, employee_id, post_id, department_id, scheme_version_id, total_score,
                                   grade, calibrated, computed_total, computed_grade, computed_at)
    SELECT :cycle, e.id, e.post_id, e.department_id, s.id, 70, 'B', false, 70, 'B', now()
    FROM employees AS e
    JOIN LATERAL (SELECT id FROM scheme_versions ORDER BY id LIMIT 1) AS s ON true
    WHERE e.employee_no LIKE 'PLAN-%'
    """,
]


async def _grow(url: str, cycle_id: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in GROW:
                await connection.execute(text(statement), {"count": EMPLOYEES, "cycle": cycle_id})
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every node of a JSON plan as (node type, relation name)."""
    yield plan["Node Type"], plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from _scans(child)


class Captured:
    """The statements an engine runs, with their parameters, while ``on`` (EXPLAIN's own are not captured)."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))


async def test_the_page_and_the_detail_use_indexes_at_100000_employees(postgresql_url: str) -> None:
    settings = make_settings(database_url=postgresql_url)
    await _grow(postgresql_url, cycle_id=1)
    app = create_app(settings, clock=lambda: TODAY)
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app.state.resources.engine
        token = issue_token(settings, role=Role.HR_ADMIN, subject="test-plans")
        client = GraphQLClient(httpx.ASGITransport(app=app), StatementCounter(), settings, token)
        captured = Captured()
        event.listen(engine.sync_engine, "before_cursor_execute", captured)
        manager = client.as_principal("manager", "E000001")
        results = '{ results(cycleId: "1", first: 50) { edges { node { totalScore cycle { name } post { code } '
        results += "employee { name department { name } } } } } }"
        captured.on = True
        for asking, query, variables in (
            (client, PAGE, {"first": 50}),
            (manager, PAGE, {"first": 50}),
            (client, DETAIL, {"id": "5000"}),
            (client, results, {}),
        ):
            data = await asking.data(query, variables)
            assert all(value is not None for value in data.values())
        captured.on = False
        assert len(captured.statements) == 4 + 4 + 6 + 5  # as test_page_costs.py pins them
        seq_scans: list[str] = []
        async with engine.connect() as connection:
            for statement, parameters in captured.statements:
                explained = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
                plan = explained.scalar_one()
                scanned = {relation for node, relation in _scans(plan[0]["Plan"]) if node == "Seq Scan"}
                if scanned & BIG_TABLES:
                    seq_scans.append(f"{sorted(scanned & BIG_TABLES)}: {' '.join(statement.split())[:300]}")
        await client.aclose()
        assert seq_scans == []
