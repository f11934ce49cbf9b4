"""The demo's closed-loop configuration: courses related to the core indicators, and a merit matrix.

Set through the same operations as hr_admin's mutations, so the demo shows training needs and pay guidance
out of the box. The courses are the demo LRS's own (``hub.demo.systems.statements.COURSES``, by the name it
reports completions under); the salary ranges fit the demo payroll's monthly base pay (CNY).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.closedloop.matrix import MeritCellInput, MeritMatrixSetInput, SalaryRangeInput
from hub.closedloop.rules import TrainingNeedRuleSet, set_merit_matrix, set_training_need_rule
from hub.db.models import Indicator
from hub.demo.catalogue import POST_FAMILIES
from hub.domain import Grade
from hub.operations.commands import Caller

COURSES_BY_INDICATOR = {
    "PROFESSIONAL_ETHICS": ("Integrity and Discipline for Public Servants", "Data Security and Confidentiality"),
    "TEAMWORK": ("Team Leadership Fundamentals", "Front-Desk Service Etiquette"),
    "LEARNING": ("Office Software Skills", "Report and Briefing Writing"),
}
"""Indicator code -> related courses, as the demo LRS names them."""

RAISES = {Grade.S: (8.0, 6.0, 4.0), Grade.A: (6.0, 4.5, 3.0), Grade.B: (4.0, 3.0, 2.0), Grade.C: (2.0, 1.0, 0.0)}
"""Raise percent per band (low, middle, high position in range); D gets none."""
BONUS_FACTORS = {Grade.S: 1.5, Grade.A: 1.2, Grade.B: 1.0, Grade.C: 0.6, Grade.D: 0.0}

DEMO_MATRIX = MeritMatrixSetInput(
    currency="CNY",
    salary_ranges=tuple(SalaryRangeInput(post_family=family, minimum=5000, maximum=14000) for family in POST_FAMILIES),
    position_bounds=(1 / 3, 2 / 3),
    cells=tuple(
        MeritCellInput(
            grade=grade, band=band, raise_percent=RAISES.get(grade, (0.0, 0.0, 0.0))[band], bonus_factor=factor
        )
        for grade, factor in BONUS_FACTORS.items()
        for band in range(3)
    ),
)


async def configure_closed_loop(sessionmaker: async_sessionmaker[AsyncSession], caller: Caller) -> None:
    """Relates the demo's courses to its core indicators (default threshold) and sets the demo merit matrix."""
    session: AsyncSession
    async with sessionmaker() as session:
        wanted = select(Indicator.code, Indicator.id).where(Indicator.code.in_(COURSES_BY_INDICATOR))
        ids: dict[str, int] = {code: id_ for code, id_ in await session.execute(wanted)}
    for code, courses in COURSES_BY_INDICATOR.items():
        if code in ids:
            await set_training_need_rule(
                sessionmaker, TrainingNeedRuleSet(indicator_id=ids[code], courses=courses), caller
            )
    await set_merit_matrix(sessionmaker, DEMO_MATRIX, caller)
