"""The demo's management line as the insider tests see it: read with SQL of the tests' own, never with the
scope code under test."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee


@dataclass(frozen=True)
class Chart:
    """Who reports to whom, by employee id."""

    manager_of: dict[int, int | None]
    number_of: dict[int, str]
    department_of: dict[int, int]

    def reports(self, boss: int) -> list[int]:
        return sorted(e for e, m in self.manager_of.items() if m == boss)

    def below(self, boss: int) -> set[int]:
        """Everyone under ``boss`` in the manager chain, at any depth (not ``boss``)."""
        found: set[int] = set()
        frontier = {boss}
        while frontier:
            frontier = {e for e, m in self.manager_of.items() if m in frontier} - found
            found |= frontier
        return found

    def depth_below(self, boss: int, employee: int) -> int | None:
        depth = 0
        current: int | None = employee
        while current is not None and current != boss:
            current, depth = self.manager_of[current], depth + 1
        return depth if current == boss else None

    @property
    def root(self) -> int:
        return next(e for e, m in self.manager_of.items() if m is None)

    def team_leads(self) -> list[int]:
        """Managers with a boss who is not the root: the line's middle, with a boss and peers above and beside."""
        root = self.root
        return sorted(e for e, m in self.manager_of.items() if m not in (None, root) and self.reports(e))


async def read_chart(sessionmaker: async_sessionmaker[AsyncSession]) -> Chart:
    async with sessionmaker() as session:
        columns = select(Employee.id, Employee.manager_id, Employee.employee_no, Employee.department_id)
        rows = (await session.execute(columns)).all()
    return Chart(
        manager_of={row.id: row.manager_id for row in rows},
        number_of={row.id: row.employee_no for row in rows},
        department_of={row.id: row.department_id for row in rows},
    )
