"""The README's first query, hand-written for ``bench.served``: ``GET /readme`` in ``bench.served_baseline``.

Seven statements on one connection (cycles; the page of FINANCE employees and its count; departments; posts;
the schemes in force today with their items; results; indicator scores), answering the bytes perfhub answers.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.models import (
    AppraisalResult,
    Cycle,
    Department,
    Employee,
    Indicator,
    IndicatorScore,
    IndicatorVersion,
    Post,
    SchemeItem,
    SchemeVersion,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_query() -> str:
    """The README's "A first query", read from the README itself (its first ``graphql`` block)."""
    text = README.read_text(encoding="utf-8")
    return text.split("```graphql\n", 1)[1].split("```", 1)[0]


FIRST = 5
FAMILY = "FINANCE"


async def _schemes(connection: AsyncConnection, post_ids: set[int], today: dt.date) -> dict[int, dict[str, Any]]:
    """Per post, the scheme version in force today (the highest-numbered whose dates cover it) with its items."""
    in_force = (SchemeVersion.effective_to.is_(None)) | (SchemeVersion.effective_to >= today)
    versions = select(SchemeVersion.id, SchemeVersion.post_id, SchemeVersion.version).where(
        SchemeVersion.post_id.in_(post_ids), SchemeVersion.effective_from <= today, in_force
    )
    current = {row.post_id: row for row in await connection.execute(versions.order_by(SchemeVersion.version))}
    items: dict[int, list[dict[str, Any]]] = defaultdict(list)
    statement = (
        select(SchemeItem.scheme_version_id, SchemeItem.weight, Indicator.name, Indicator.category)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(SchemeItem.scheme_version_id.in_([row.id for row in current.values()]))
        .order_by(SchemeItem.position, SchemeItem.id)
    )
    for item in await connection.execute(statement):
        indicator = {"name": item.name, "category": item.category.value}
        items[item.scheme_version_id].append({"weight": item.weight, "indicatorVersion": {"indicator": indicator}})
    return {post: {"version": row.version, "items": items[row.id]} for post, row in current.items()}


Cents = Callable[[float], float]
"""Rounds a score as the API shows it (``bench.served_baseline.cents``)."""


async def _results(connection: AsyncConnection, ids: list[int], cents: Cents) -> dict[int, list[dict[str, Any]]]:
    statement = (
        select(
            AppraisalResult.id,
            AppraisalResult.employee_id,
            AppraisalResult.total_score,
            AppraisalResult.grade,
            AppraisalResult.rank_in_post,
            Cycle.name,
        )
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.employee_id.in_(ids))
        .order_by(Cycle.period_start, AppraisalResult.id)
    )
    rows = (await connection.execute(statement)).all()
    scores: dict[int, list[dict[str, Any]]] = defaultdict(list)
    read = (
        select(IndicatorScore.result_id, IndicatorScore.raw_value, IndicatorScore.normalized_score, Indicator.code)
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(IndicatorScore.result_id.in_([row.id for row in rows]))
        .order_by(IndicatorScore.id)
    )
    for score in await connection.execute(read):
        normalized = None if score.normalized_score is None else cents(score.normalized_score)
        scores[score.result_id].append(
            {
                "indicatorVersion": {"indicator": {"code": score.code}},
                "rawValue": score.raw_value,
                "normalizedScore": normalized,
            }
        )
    results: dict[int, list[dict[str, Any]]] = {key: [] for key in ids}
    for row in rows:
        results[row.employee_id].append(
            {
                "cycle": {"name": row.name},
                "totalScore": cents(row.total_score),
                "grade": row.grade.value,
                "rankInPost": row.rank_in_post,
                "indicatorScores": scores[row.id],
            }
        )
    return results


async def read_readme(connection: AsyncConnection, cents: Cents) -> dict[str, Any]:
    """The README query's data; ``cents`` rounds a score as the API shows it."""
    today = dt.datetime.now(dt.UTC).date()  # the hub's clock (hub.app.utc_today)
    order = (Cycle.period_start.desc(), Cycle.id.desc())
    cycles = [
        {"id": str(row.id), "name": row.name, "state": row.state.value}
        for row in await connection.execute(select(Cycle.id, Cycle.name, Cycle.state).order_by(*order))
    ]
    finance = Employee.post_id.in_(select(Post.id).where(Post.family == FAMILY))
    people = (
        await connection.execute(
            select(Employee.id, Employee.employee_no, Employee.name, Employee.department_id, Employee.post_id)
            .where(finance)
            .order_by(Employee.id)
            .limit(FIRST + 1)
        )
    ).all()
    total = await connection.scalar(select(func.count()).select_from(Employee).where(finance))
    page = people[:FIRST]
    named = select(Department.id, Department.name).where(Department.id.in_({p.department_id for p in page}))
    departments = {row.id: row.name for row in await connection.execute(named)}
    post_ids = {person.post_id for person in page}
    in_posts = select(Post.id, Post.name).where(Post.id.in_(post_ids))
    posts = {row.id: row.name for row in await connection.execute(in_posts)}
    schemes = await _schemes(connection, post_ids, today)
    results = await _results(connection, [person.id for person in page], cents)
    cursor = None if not page else base64.urlsafe_b64encode(f"employee:{page[-1].id}".encode()).decode()
    edges = [
        {
            "node": {
                "employeeNo": person.employee_no,
                "name": person.name,
                "department": {"name": departments[person.department_id]},
                "post": {"name": posts[person.post_id], "currentScheme": schemes.get(person.post_id)},
                "results": results[person.id],
            }
        }
        for person in page
    ]
    page_info = {"hasNextPage": len(people) > FIRST, "endCursor": cursor}
    return {"cycles": cycles, "employees": {"totalCount": total, "pageInfo": page_info, "edges": edges}}
