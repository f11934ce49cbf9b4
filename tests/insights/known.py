"""A known small data set for the insights: three earlier cycles of chosen results on the seeded organisation.

Every number is chosen here by a person's index ``i`` (the seeded employees in id order), so the tests can
compute what the hub must answer without asking it: the totals and grades of the last cycle (``Y3``), the
mean core and extension scores behind them, and the totals and scores of the two cycles before (``Y1``,
``Y2``), shaped so that some people meet each attrition rule and others miss it narrowly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Cycle, Employee, Indicator, IndicatorScore, IndicatorVersion, SchemeVersion
from hub.domain import CycleState, Grade, IndicatorCategory

PERIODS = {
    "Y1": (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
    "Y2": (dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
    "Y3": (dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
}


def total(i: int) -> float:
    return 50.0 + (i * 37 % 50) + 0.25


def grade(i: int) -> Grade:
    return Grade.S if i % 6 == 0 else (Grade.B if i % 2 else Grade.A)


def core(i: int) -> float:
    return 40.0 + (i * 13 % 60)


def extension(i: int) -> float | None:
    return None if i % 10 == 3 else 30.0 + (i * 7 % 70)


def earlier_totals(i: int) -> tuple[float | None, float]:
    """(Y1, Y2) totals: i % 4 == 0 fall 4 and 4 (flagged), 1 fall 2 and 2 (too little), 2 rise into Y3,
    3 has no Y1 result."""
    now = total(i)
    match i % 4:
        case 0:
            return now + 8, now + 4
        case 1:
            return now + 4, now + 2
        case 2:
            return now + 5, now - 1
        case _:
            return None, now + 3


def earlier_scores(i: int) -> tuple[float, float | None]:
    """Y2 core and extension: i % 5 == 0 core 12 higher and extension 1 higher (people-rated fell, measured
    held), 1 core 12 higher and extension 5 higher (both fell), else core 2 lower and extension the same."""
    ext = extension(i)
    match i % 5:
        case 0:
            return core(i) + 12, None if ext is None else ext + 1
        case 1:
            return core(i) + 12, None if ext is None else ext + 5
        case _:
            return core(i) - 2, ext


@dataclass
class Known:
    cycles: dict[str, int]
    people: list[tuple[int, str, int, int, dt.date | None]]
    """(employee id, number, post id, department id, hired on) in id order: person ``i`` is ``people[i]``."""
    indicators: dict[IndicatorCategory, int] = field(default_factory=dict)
    """The indicator scored per category."""


async def write_known(sessionmaker: async_sessionmaker[AsyncSession]) -> Known:
    """Writes the three PUBLISHED cycles and their results for every seeded employee."""
    async with sessionmaker() as session, session.begin():
        people = [
            (row.id, row.employee_no, row.post_id, row.department_id, row.hired_on)
            for row in await session.execute(
                select(
                    Employee.id, Employee.employee_no, Employee.post_id, Employee.department_id, Employee.hired_on
                ).order_by(Employee.id)
            )
        ]
        scheme_id = (await session.execute(select(SchemeVersion.id).limit(1))).scalar_one()
        # The first indicator version of each category, and its indicator.
        first = (
            select(Indicator.category, func.min(IndicatorVersion.id), func.min(Indicator.id))
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
            .group_by(Indicator.category)
        )
        versions = {row[0]: (row[1], row[2]) for row in await session.execute(first)}
        cycles = {}
        for name, (start, end) in PERIODS.items():
            cycle = Cycle(name=f"known {name}", period_start=start, period_end=end, state=CycleState.PUBLISHED)
            session.add(cycle)
            await session.flush()
            cycles[name] = cycle.id
        results: list[dict[str, object]] = []
        scores: list[tuple[float | None, float | None]] = []
        for i, (employee_id, _, post_id, department_id, _) in enumerate(people):
            y1, y2 = earlier_totals(i)
            rows: list[tuple[str, float, Grade, tuple[float | None, float | None]]] = [
                ("Y3", total(i), grade(i), (core(i), extension(i))),
                ("Y2", y2, Grade.B, earlier_scores(i)),
            ]
            rows += [("Y1", y1, Grade.B, (None, None))] if y1 is not None else []
            for name, score, graded, indicator_scores in rows:
                scores.append(indicator_scores)
                results.append(
                    {"cycle_id": cycles[name], "employee_id": employee_id, "post_id": post_id}
                    | {"department_id": department_id, "scheme_version_id": scheme_id, "total_score": score}
                    | {"grade": graded, "computed_total": score, "computed_grade": graded}
                )
        written = insert(AppraisalResult).returning(AppraisalResult.id, sort_by_parameter_order=True)
        ids = (await session.execute(written, results)).scalars().all()
        session.add_all(
            IndicatorScore(
                result_id=result_id,
                indicator_version_id=versions[category][0],
                raw_value=value,
                normalized_score=value,
                weight=50.0,
            )
            for result_id, pair in zip(ids, scores, strict=True)
            for category, value in zip((IndicatorCategory.CORE, IndicatorCategory.EXTENSION), pair, strict=True)
            if pair != (None, None)
        )
    return Known(cycles, people, {category: ids[1] for category, ids in versions.items()})
