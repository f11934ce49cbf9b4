"""Compiled plans (schema/compiled.py) against the executor: every registered document, for every kind of
principal, answers the same JSON both ways, errors included, and the plan does answer the portal page and the
employee detail for the principals whose every rule it can apply (the others fall back, and answer the same)."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import parse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Grant, Principal, Role
from hub.config import Settings
from hub.db.models import Post
from hub.demo.organisation import SeedSummary
from hub.persisted import PersistedDocuments
from resolvers.context import Context
from resolvers.ids import EMPLOYEE, public_id
from schema import build_schema, compiled
from tests.conftest import TODAY, make_settings
from tests.schema.conftest import PORTAL_DOCUMENTS, Org


def principals(org: Org) -> dict[str, Principal]:
    return {
        "hr_admin": Principal("hr", frozenset({Role.HR_ADMIN})),
        "manager": Principal("boss", frozenset({Role.MANAGER}), org.manager_no),
        "employee": Principal("staff", frozenset({Role.EMPLOYEE}), org.staff_no),
        "analyst": Principal("analyst", frozenset({Role.ANALYST})),
        "analyst_named": Principal("analyst2", frozenset({Role.ANALYST}), None, frozenset({Grant.NAMES})),
        "payroll": Principal("payroll-system", frozenset({Role.PAYROLL})),
        "training": Principal("training-system", frozenset({Role.TRAINING})),
        "payroll manager": Principal("pm", frozenset({Role.PAYROLL, Role.MANAGER}), org.manager_no),
        "employee analyst": Principal("ea", frozenset({Role.EMPLOYEE, Role.ANALYST}), org.staff_no),
    }


def documents() -> PersistedDocuments:
    return PersistedDocuments.load(portals=PORTAL_DOCUMENTS)


def schemas(settings: Settings) -> tuple[strawberry.Schema, strawberry.Schema]:
    """The same schema with plans and without, each with its own registered documents (as two hubs would)."""
    planned, executed = documents(), documents()
    return (
        build_schema(settings, planned.prepared, compiled_plans=True),
        build_schema(settings, executed.prepared, compiled_plans=False),
    )


async def answer(built: strawberry.Schema, text: str, variables: dict[str, Any], context: Context) -> dict[str, Any]:
    result = await built.execute(text, variable_values=variables, context_value=context)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    return body


async def test_every_registered_document_answers_alike_with_and_without_plans(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], org: Org, seeded: SeedSummary
) -> None:
    settings = make_settings(database_url=database_url)
    planned, executed = schemas(settings)
    async with sessionmaker() as session:
        post_id = (await session.scalars(select(Post.id).order_by(Post.id).limit(1))).one()
    registered = documents()
    names = {
        text.partition("query ")[2].split("(")[0].split(" ")[0].strip(): text for text in registered.by_hash.values()
    }
    assert {
        "PortalPage",
        "PortalPageCursors",
        "PortalPageWithoutNames",
        "EmployeeDetail",
        "InsightsCycles",
    } <= names.keys()
    by_plan: set[tuple[str, str, int]] = set()
    for role, principal in principals(org).items():
        for name, text in sorted(names.items()):
            for first in (3, 50, 500):
                context = Context(
                    settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=principal, request_id="t"
                )
                variables: dict[str, Any] = {
                    "first": first,
                    "cycleId": str(org.published_cycle),
                    "postId": str(post_id),
                    "id": public_id(context, EMPLOYEE, org.staff_id),
                }
                declared = {v.variable.name.value for v in parse(text).definitions[0].variable_definitions or ()}  # type: ignore[attr-defined]
                variables = {key: value for key, value in variables.items() if key in declared}
                before = compiled.STATS.compiled
                with_plan = await answer(planned, text, variables, context)
                if compiled.STATS.compiled > before:
                    by_plan.add((name, role, first))
                again = Context(
                    settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=principal, request_id="t"
                )
                without = await answer(executed, text, variables, again)
                assert with_plan == without, (name, role, first)
                if "first" not in declared:
                    break
    planned_pages = {(role, first) for name, role, first in by_plan if name == "PortalPage"}
    # Every principal who may read every name on the page gets the plan; a pseudonymous analyst's names are
    # refused (FORBIDDEN), so the executor answers them, and the plan gives way.
    for role in ("hr_admin", "payroll", "training", "analyst_named"):
        assert {(role, 3), (role, 50), (role, 500)} <= planned_pages, (role, sorted(by_plan))
    assert not {role for role, _ in planned_pages} & {"analyst", "employee analyst"}
    assert {name for name, _, _ in by_plan} <= {
        "PortalPage",
        "PortalPageCursors",
        "PortalPageWithoutNames",
        "EmployeeDetail",
    }
    assert ("EmployeeDetail", "hr_admin", 3) in by_plan
    # Without names, the pseudonymous analyst's page is planned too (pseudonyms for ids, their page order),
    # unless a small group withholds a department or post on it.
    assert ("PortalPageWithoutNames", "hr_admin", 500) in by_plan


@pytest.mark.parametrize(
    ("document", "compiles"),
    [
        ("{ employees(first: 5) { edges { node { id } } } }", True),
        ("query { employees(first: 5) { edges { node { id manager { name } results { cycle { name } } } } } }", True),
        ('query { employee(id: "1") { id manager { employeeNo } results { cycle { id name } grade } } }', True),
        ("query($id: ID!) { employee(id: $id) { name } }", True),
        ("query { employees(first: 5) { totalCount edges { node { id } } } }", False),
        ("query { employees(first: 5) { edges { node { id nameAgain: name } } } }", False),
        ("query { employees(first: 5) { edges { node { id name @include(if: true) } } } }", False),
        ("query { employees(first: 5, after: null) { edges { node { id } } } }", False),
        ("query { employees(first: 5) { edges { node { ...F } } } } fragment F on Employee { id }", False),
        ("query { employees(first: 5) { edges { node { id manager { department { name } } } } } }", False),
        ("query { employees(first: 5) { edges { node { id results { cycle { state } } } } } }", False),
        ("query { employee { id } }", False),
        ('query { employee(id: "1") { id trend { grade } } }', False),
        ("query { employees(first: 5) { edges { node { id id } } } }", False),
        ("query { cycles { id } }", False),
    ],
)
def test_only_the_page_and_detail_shapes_compile(document: str, compiles: bool) -> None:
    built = build_schema(make_settings())
    operation = parse(document).definitions[0]
    assert (compiled.compile_plan(operation, built._schema) is not None) is compiles  # type: ignore[arg-type]
