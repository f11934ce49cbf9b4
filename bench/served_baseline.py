"""The hand-written endpoints ``bench.served`` measures perfhub against: Starlette and SQLAlchemy Core, no GraphQL.

    uvicorn bench.served_baseline:create_app --factory   (BENCH_DATABASE_URL names the database)

Each endpoint runs the statements a careful programmer would write for one screen, on one connection, with the
same SQL semantics as the hub's (row scope included) and answers the JSON the GraphQL query answers, byte for
byte (strawberry's ``json.dumps`` with compact separators; ``bench.served`` checks it before timing):

* ``GET /page?first=50`` — the portal page of ``bench.query`` (employees, departments, posts, results: 4
  statements), as hr_admin;
* ``GET /page?first=50&manager=E000001`` — the same as a manager: the page and the results limited to the
  manager and their reporting line (recursive CTE), the manager's own results to published cycles;
* ``GET /employee/{id}`` — the employee detail: the employee with department, post and manager in one join, then
  their results with the cycles' names (2 statements);
* ``GET /readme`` — the README's first query (``bench/served_readme.py``: 7 statements).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.served_readme import read_readme
from hub.db.engine import create_engine
from hub.db.models import AppraisalResult, Cycle, Department, Employee, Post
from hub.domain import CycleState


def cents(value: float) -> float:
    """A score as the API shows it: rounded half-up to two decimals (``schema/rounding.py``)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def answer(data: dict[str, Any]) -> Response:
    """The GraphQL response's bytes: ``{"data": ...}`` as strawberry encodes it."""
    return Response(json.dumps({"data": data}, separators=(",", ":")), media_type="application/json")


def _reporting_line(manager_no: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the manager's row, a row of their reporting line) as conditions on ``employees``."""
    me = select(Employee.id).where(Employee.employee_no == manager_no).scalar_subquery()
    below = select(Employee.id).where(Employee.manager_id == me).cte("reporting_line", recursive=True)
    below = below.union(select(Employee.id).join(below, Employee.manager_id == below.c.id))
    return Employee.id == me, and_(Employee.id.in_(select(below.c.id)), Employee.id != me)


def _results(ids: list[int], manager_no: str | None) -> Executable:
    statement = (
        select(
            AppraisalResult.employee_id,
            AppraisalResult.total_score,
            AppraisalResult.grade,
            AppraisalResult.rank_in_post,
            Cycle.name.label("cycle_name"),
        )
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.employee_id.in_(ids))
        .order_by(Cycle.period_start, AppraisalResult.id)
    )
    if manager_no is not None:
        # The manager's own results once published; their people's in every state.
        is_me = select(Employee.id).where(Employee.employee_no == manager_no).scalar_subquery()
        statement = statement.where(or_(AppraisalResult.employee_id != is_me, Cycle.state == CycleState.PUBLISHED))
    return statement


def _result(row: Any, with_cycle: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"cycle": {"name": row.cycle_name}} if with_cycle else {}
    result |= {"totalScore": cents(row.total_score), "grade": row.grade.value, "rankInPost": row.rank_in_post}
    return result


async def _results_by_employee(
    connection: AsyncConnection, ids: list[int], manager_no: str | None, with_cycle: bool
) -> dict[int, list[dict[str, Any]]]:
    results: dict[int, list[dict[str, Any]]] = {key: [] for key in ids}
    for row in await connection.execute(_results(ids, manager_no)):
        results[row.employee_id].append(_result(row, with_cycle))
    return results


async def read_page(connection: AsyncConnection, first: int, manager_no: str | None = None) -> dict[str, Any]:
    """The portal page's data: the employees (in the manager's scope, when one is named), then their
    departments, posts and results, 4 statements on ``connection``."""
    statement = select(Employee.id, Employee.employee_no, Employee.name, Employee.department_id, Employee.post_id)
    if manager_no is not None:
        statement = statement.where(or_(*_reporting_line(manager_no)))
    people = (await connection.execute(statement.order_by(Employee.id).limit(first))).all()
    ids = [person.id for person in people]
    in_page = {person.department_id for person in people}
    named = select(Department.id, Department.name).where(Department.id.in_(in_page))
    departments = {row.id: row.name for row in await connection.execute(named)}
    posts = {
        row.id: {"code": row.code, "name": row.name}
        for row in await connection.execute(
            select(Post.id, Post.code, Post.name).where(Post.id.in_({p.post_id for p in people}))
        )
    }
    results = await _results_by_employee(connection, ids, manager_no, with_cycle=False)
    edges = [
        {
            "node": {
                "id": str(person.id),
                "employeeNo": person.employee_no,
                "name": person.name,
                "department": {"name": departments[person.department_id]},
                "post": posts[person.post_id],
                "results": results[person.id],
            }
        }
        for person in people
    ]
    return {"employees": {"edges": edges}}


async def page(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as connection:
        data = await read_page(
            connection, int(request.query_params.get("first", "50")), request.query_params.get("manager")
        )
    return answer(data)


async def employee(request: Request) -> Response:
    key = int(request.path_params["id"])
    manager = aliased(Employee)
    statement = (
        select(
            Employee.id,
            Employee.employee_no,
            Employee.name,
            Department.name.label("department_name"),
            Post.code.label("post_code"),
            Post.name.label("post_name"),
            manager.employee_no.label("manager_no"),
            manager.name.label("manager_name"),
        )
        .join(Department, Department.id == Employee.department_id)
        .join(Post, Post.id == Employee.post_id)
        .outerjoin(manager, manager.id == Employee.manager_id)
        .where(Employee.id == key)
    )
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).first()
        if row is None:
            return answer({"employee": None})
        results = await _results_by_employee(connection, [key], None, with_cycle=True)
    boss = None if row.manager_no is None else {"employeeNo": row.manager_no, "name": row.manager_name}
    node = {
        "id": str(row.id),
        "employeeNo": row.employee_no,
        "name": row.name,
        "department": {"name": row.department_name},
        "post": {"code": row.post_code, "name": row.post_name},
        "manager": boss,
        "results": results[key],
    }
    return answer({"employee": node})


async def readme(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as connection:
        return answer(await read_readme(connection, cents))


def create_app() -> Starlette:
    """The endpoints over the database ``BENCH_DATABASE_URL`` names, with a pool as large as the hub's."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=32, max_overflow=0)
        app.state.engine = engine
        try:
            yield
        finally:
            await engine.dispose()

    routes = [Route("/page", page), Route("/employee/{id:int}", employee), Route("/readme", readme)]
    return Starlette(routes=routes, lifespan=lifespan)
