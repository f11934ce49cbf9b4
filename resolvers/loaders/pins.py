"""What a cycle pinned: the scheme version of each post, and so of each ratee, fixed when the cycle opened."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, tuple_

from hub.db.models import Cycle, CycleScheme
from hub.operations.ratings import posts_on
from resolvers.loaders.base import RowsByKeyLoader, SessionLoader
from resolvers.records import CycleSchemeRow


class PinsByCycleLoader(RowsByKeyLoader[int, CycleSchemeRow]):
    key_column = CycleScheme.cycle_id
    order_by = (CycleScheme.post_id, CycleScheme.id)


class PinnedSchemeByEmployeeCycleLoader(SessionLoader[tuple[int, int], int | None, int]):
    """Keyed by (employee id, cycle id): the id of the scheme version that applies to the employee in the cycle,
    the one pinned for the post they hold at the period's end (as ratings are checked and results scored);
    None for an unknown cycle, one not opened yet, or a post the cycle did not pin."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[int | None]:
        employees_of: defaultdict[int, set[int]] = defaultdict(set)
        for employee_id, cycle_id in keys:
            employees_of[cycle_id].add(employee_id)
        found: dict[tuple[int, int], int] = {}
        async with self.sessionmaker() as session:
            cycles = (await session.scalars(select(Cycle).where(Cycle.id.in_(employees_of)))).all()
            posts = {cycle.id: await posts_on(session, cycle.period_end, employees_of[cycle.id]) for cycle in cycles}
            wanted = {
                (cycle_id, post_id) for cycle_id, by_employee in posts.items() for post_id in by_employee.values()
            }
            pins = select(CycleScheme.cycle_id, CycleScheme.post_id, CycleScheme.scheme_version_id).where(
                tuple_(CycleScheme.cycle_id, CycleScheme.post_id).in_(wanted)
            )
            pinned = {(cycle_id, post_id): scheme for cycle_id, post_id, scheme in await session.execute(pins)}
        for cycle_id, by_employee in posts.items():
            for employee_id, post_id in by_employee.items():
                if (cycle_id, post_id) in pinned:
                    found[(employee_id, cycle_id)] = pinned[(cycle_id, post_id)]
        return [found.get(key) for key in keys]
