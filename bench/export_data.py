"""Many results, fast: synthetic employees and results added to a seeded demo's published cycle.

The export's benchmark and its memory test need 100,000 results; seeding and scoring a demo of that size takes
minutes. These rows take seconds: each new employee joins a (department, post) cell that already has results
in the cycle, under that post's pinned scheme, with a total drawn at random, its grade by the demo's bands, and
a rank and percentile. No indicator scores: the results export reads none.
"""

from __future__ import annotations

import random

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, Employee
from hub.domain import CycleState, Grade

CHUNK = 5_000
NUMBER_PREFIX = "X"
"""Employee numbers of the added employees (the demo's start with E)."""
_BANDS = ((90.0, Grade.S), (80.0, Grade.A), (70.0, Grade.B), (60.0, Grade.C), (0.0, Grade.D))


def _grade(total: float) -> Grade:
    return next(grade for floor, grade in _BANDS if total >= floor)


async def add_results(sessionmaker: async_sessionmaker[AsyncSession], count: int, *, seed: int = 7) -> int:
    """Adds ``count`` employees with a result each to the demo's published cycle; returns the cycle's id."""
    draw = random.Random(seed)
    async with sessionmaker() as session, session.begin():
        cycle_id = (
            (await session.execute(select(Cycle.id).where(Cycle.state == CycleState.PUBLISHED).order_by(Cycle.id)))
            .scalars()
            .first()
        )
        if cycle_id is None:
            raise RuntimeError("the database has no published cycle; seed the demo first")
        cells = (
            await session.execute(
                select(AppraisalResult.department_id, AppraisalResult.post_id, AppraisalResult.scheme_version_id)
                .where(AppraisalResult.cycle_id == cycle_id)
                .distinct()
                .order_by(AppraisalResult.department_id, AppraisalResult.post_id)
            )
        ).all()
        for start in range(0, count, CHUNK):
            numbers = [f"{NUMBER_PREFIX}{n:07d}" for n in range(start, min(start + CHUNK, count))]
            placed = [cells[n % len(cells)] for n in range(start, start + len(numbers))]
            await session.execute(
                insert(Employee),
                [
                    {"employee_no": number, "name": f"Bench person {number}", "department_id": d, "post_id": p}
                    for number, (d, p, _) in zip(numbers, placed, strict=True)
                ],
            )
            found = await session.execute(
                select(Employee.employee_no, Employee.id).where(Employee.employee_no.in_(numbers))
            )
            ids = {number: key for number, key in found}
            rows = []
            for number, (department_id, post_id, scheme_id) in zip(numbers, placed, strict=True):
                total = draw.uniform(20.0, 100.0)
                rows.append(
                    {
                        "cycle_id": cycle_id,
                        "employee_id": ids[number],
                        "post_id": post_id,
                        "department_id": department_id,
                        "scheme_version_id": scheme_id,
                        "total_score": total,
                        "grade": _grade(total),
                        "rank_in_post": draw.randint(1, 500),
                        "percentile_in_post": draw.uniform(0.0, 100.0),
                        "rank_in_department": draw.randint(1, 2000),
                        "percentile_in_department": draw.uniform(0.0, 100.0),
                        "calibrated": False,
                        "computed_total": total,
                        "computed_grade": _grade(total),
                    }
                )
            await session.execute(insert(AppraisalResult), rows)
    return cycle_id
