"""The relations a page selects, read for the whole page at once, through the session that read the page.

A page of fifty employees whose nodes ask for ``department``, ``post`` and ``results`` would otherwise resolve
150 fields, each an awaited task that joins a loader batch, each batch on a pooled connection of its own. The
list field knows what its nodes select before any node resolves (``schema.lookahead`` reads the query), so it
reads each selected relation once for the page, one statement after the other on the connection the page was
read on, and primes the request's loaders with the values: the nodes' fields then find them there and return
them at once (``SharedLoader.peek``). The statements are the loaders' own, so the rows, their scope and their
order are exactly what the fields would have loaded themselves; a field reached another way (a nested list,
a relation not planned here) still loads through its loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers.loaders import Loaders
from resolvers.records import EmployeeRow, ResultRow


@dataclass(frozen=True, slots=True)
class ResultRelations:
    """What a query selects of results' relations (``AppraisalResult``)."""

    cycle: bool = False
    post: bool = False
    employee: EmployeeRelations | None = None
    """The result's employee, and what is selected of its relations; None when not selected."""


@dataclass(frozen=True, slots=True)
class EmployeeRelations:
    """What a query selects of employees' relations (``Employee``)."""

    department: bool = False
    post: bool = False
    manager: EmployeeRelations | None = None
    """The manager, and what is selected of the manager's relations; None when not selected."""
    results: ResultRelations | None = None
    """Every result of the employee (``Employee.results``), and what is selected of theirs."""


async def prefetch_employees(
    session: AsyncSession, loaders: Loaders, rows: list[EmployeeRow], selected: EmployeeRelations | None
) -> None:
    """Reads the relations ``selected`` of the employees ``rows`` through ``session``, one statement per relation
    and level, and primes ``loaders`` with them."""
    if selected is None or not rows:
        return
    if selected.department:
        await loaders.department_by_id.prefetch(session, {row.department_id for row in rows})
    if selected.post:
        await loaders.post_by_id.prefetch(session, {row.post_id for row in rows})
    if selected.manager is not None:
        manager_ids = {row.manager_id for row in rows if row.manager_id is not None}
        await _prefetch_employees_by_id(session, loaders, manager_ids, selected.manager)
    if selected.results is not None:
        results = await loaders.results_by_employee.prefetch(session, {row.id for row in rows})
        await prefetch_results(session, loaders, list(chain.from_iterable(results.values())), selected.results)


async def prefetch_results(
    session: AsyncSession, loaders: Loaders, rows: list[ResultRow], selected: ResultRelations | None
) -> None:
    """As ``prefetch_employees``, for results."""
    if selected is None or not rows:
        return
    if selected.cycle:
        await loaders.cycle_by_id.prefetch(session, {row.cycle_id for row in rows})
    if selected.post:
        await loaders.post_by_id.prefetch(session, {row.post_id for row in rows})
    if selected.employee is not None:
        await _prefetch_employees_by_id(session, loaders, {row.employee_id for row in rows}, selected.employee)


async def _prefetch_employees_by_id(
    session: AsyncSession, loaders: Loaders, ids: set[int], selected: EmployeeRelations
) -> None:
    """The employees ``ids`` (the managers of a page, or its results' employees), and what is selected of their
    own relations."""
    found = await loaders.employee_by_id.prefetch(session, ids)
    await prefetch_employees(session, loaders, [row for row in found.values() if row is not None], selected)


async def prefetch_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
    loaders: Loaders,
    employees: list[EmployeeRow] | None = None,
    employee_relations: EmployeeRelations | None = None,
    results: list[ResultRow] | None = None,
    result_relations: ResultRelations | None = None,
) -> None:
    """As ``prefetch_employees`` and ``prefetch_results``, in a session of its own: for a page read by a path
    that does not hand its session on (sorted and pseudonymous pages)."""
    if not (employees and plans_reads(employee_relations)) and not (results and plans_reads(result_relations)):
        return
    async with sessionmaker() as session:
        await prefetch_employees(session, loaders, employees or [], employee_relations)
        await prefetch_results(session, loaders, results or [], result_relations)


def plans_reads(selected: EmployeeRelations | ResultRelations | None) -> bool:
    """Whether a plan reads anything at all (an empty one needs no session)."""
    if selected is None:
        return False
    if isinstance(selected, ResultRelations):
        return selected.cycle or selected.post or selected.employee is not None
    return selected.department or selected.post or selected.manager is not None or selected.results is not None
