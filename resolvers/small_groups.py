"""Grouping fields of one person's row, withheld from a pseudonymous principal when the group is small.

Without a name, a row is still a person when its department and post pick out fewer than the minimum
group size: the only finance officer in the security department is someone everyone knows. So for a
principal without the names grant, an employee's department and post (and a result's post, ranks and
percentiles) are shown only when at least ``PERFHUB_MIN_GROUP_SIZE`` people share that department *and*
post (the pair, since each alone may be large while the pair is one person); the rest of the row stands.
Who is pseudonymous, and how large a group must be, are the access policy's rules (``hub.policy``).

A person has several cells: their current one, and the one each of their results was scored in. After a
transfer these differ, and a row showing one cell beside results withholding another is the mover (the one
ADM-01 row whose results hide their post is the archivist who became an admin officer). So the rule is per
person: their groupings (employee and results alike, ranks included) are shown only when *every* cell they
have is large, their current one and that of every result the caller can see (``withheld_people``); a
filter by group matches only such people, and the figures count only them (``shown_person``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, aliased

from hub.db.models import AppraisalResult, Cycle, CycleScheme, Employee
from hub.operations.participation import schemes_in_force
from hub.policy import large_enough_group
from resolvers.context import Context
from resolvers.records import EmployeeRow, ResultRow

_EMPLOYEE_CELLS = "small_groups.employees"
_RESULT_CELLS = "small_groups.results"
_SMALL_RANK_GROUPS = "small_groups.rank_groups"
_LIMITED_CYCLES = "small_groups.limited_cycles"
_WITHHELD_PEOPLE = "small_groups.withheld_people"
_WITHHELD_RESULT_CELLS = "small_groups.withheld_result_cells"
_BY_DEPARTMENT, _BY_POST = 0, 1
CellSizes = Counter[tuple[int, ...]]
RankGroup = Literal["post", "department"]


async def _employee_cells(context: Context) -> CellSizes:
    statement = select(Employee.department_id, Employee.post_id, func.count()).group_by(
        Employee.department_id, Employee.post_id
    )
    async with context.sessionmaker() as session:
        return Counter({(row[0], row[1]): row[2] for row in await session.execute(statement)})


async def _result_cells(context: Context) -> CellSizes:
    columns = (AppraisalResult.cycle_id, AppraisalResult.department_id, AppraisalResult.post_id)
    statement = select(*columns, func.count()).group_by(*columns)
    async with context.sessionmaker() as session:
        return Counter({(row[0], row[1], row[2]): row[3] for row in await session.execute(statement)})


async def _rank_groups_with_a_small_cell(context: Context) -> CellSizes:
    # A rank counts every result of its group, withheld or not, so the ranks shown beside each other in a
    # group with a small cell leave gaps where the withheld rows stand (a missing rank between two visible
    # scores is a withheld person scored between them). Such groups show no rank at all: keyed
    # (_BY_DEPARTMENT, cycle, department) and (_BY_POST, cycle, post), counting their small cells.
    # A result of a withheld person in a large cell (someone who moved) is a withheld row too.
    small: CellSizes = Counter()
    cells = await _sizes(context, _RESULT_CELLS)
    withheld = await _sizes(context, _WITHHELD_RESULT_CELLS)
    for cycle_id, department_id, post_id in [*cells, *withheld]:
        if withheld[(cycle_id, department_id, post_id)] or not large_enough_group(
            cells[(cycle_id, department_id, post_id)], context.settings
        ):
            small[(_BY_DEPARTMENT, cycle_id, department_id)] += 1
            small[(_BY_POST, cycle_id, post_id)] += 1
    return small


async def _withheld_people(context: Context) -> CellSizes:
    # Keyed (employee id,): the people with a small cell, current or of a result the caller can see.
    statement = select(Employee.id).where(
        ~shown_person(Employee.id, context.settings.min_group_size, context.scope.results())
    )
    async with context.sessionmaker() as session:
        return Counter({(key,): 1 for key in (await session.scalars(statement))})


async def _withheld_result_cells(context: Context) -> CellSizes:
    # Keyed (cycle, department, post): the cells of the visible results of withheld people.
    minimum = context.settings.min_group_size
    columns = (AppraisalResult.cycle_id, AppraisalResult.department_id, AppraisalResult.post_id)
    statement = (
        select(*columns)
        .where(*context.scope.results(), ~shown_person(AppraisalResult.employee_id, minimum, context.scope.results()))
        .distinct()
    )
    async with context.sessionmaker() as session:
        return Counter({(row[0], row[1], row[2]): 1 for row in await session.execute(statement)})


async def _limited_cycles(context: Context) -> CellSizes:
    # Cycles that pinned fewer posts than had a scheme in force when their period began (cycleOpen's postIds,
    # families, departmentIds), keyed (cycle id,): a result of such a cycle tells that its person holds one of
    # its few posts. A read of the pins and one of the schemes in force per limited candidate.
    async with context.sessionmaker() as session:
        pinned: dict[int, set[int]] = {}
        for cycle_id, post_id in await session.execute(select(CycleScheme.cycle_id, CycleScheme.post_id)):
            pinned.setdefault(cycle_id, set()).add(post_id)
        starts = await session.execute(select(Cycle.id, Cycle.period_start).where(Cycle.id.in_(pinned)))
        limited: CellSizes = Counter()
        for cycle_id, start in starts:
            in_force = {post_id for post_id, _ in await schemes_in_force(session, start)}
            if in_force - pinned[cycle_id]:
                limited[(cycle_id,)] = 1
    return limited


_READS = {
    _EMPLOYEE_CELLS: _employee_cells,
    _RESULT_CELLS: _result_cells,
    _SMALL_RANK_GROUPS: _rank_groups_with_a_small_cell,
    _LIMITED_CYCLES: _limited_cycles,
    _WITHHELD_PEOPLE: _withheld_people,
    _WITHHELD_RESULT_CELLS: _withheld_result_cells,
}


async def _sizes(context: Context, name: str) -> CellSizes:
    # One read per request, shared by every row's fields (they resolve concurrently); shielded so that a
    # sibling field cancelled by null propagation does not cancel the read for the others.
    task = context.cell_sizes.get(name)
    if task is None:
        task = context.cell_sizes[name] = asyncio.ensure_future(_READS[name](context))
    sizes: CellSizes = await asyncio.shield(task)
    return sizes


async def employee_grouping_shown(context: Context, employee: EmployeeRow) -> bool:
    """May this principal see the employee's department and post? For a pseudonymous one, only when every
    cell of the person is large (their current one and that of each of their results it can see)."""
    if context.pseudonyms is None:
        return True
    return not (await _sizes(context, _WITHHELD_PEOPLE))[(employee.id,)]


async def result_grouping_shown(context: Context, result: ResultRow) -> bool:
    """May this principal see the post a result was scored in, and its ranks and percentiles? For a
    pseudonymous one, only when the result's cell is large and so is every other cell of its person, as for
    the person's row (``employee_grouping_shown``): else the two rows of one person would link the cells."""
    if context.pseudonyms is None:
        return True
    sizes = await _sizes(context, _RESULT_CELLS)
    if not large_enough_group(sizes[(result.cycle_id, result.department_id, result.post_id)], context.settings):
        return False
    return not (await _sizes(context, _WITHHELD_PEOPLE))[(result.employee_id,)]


async def limited_cycle(context: Context, cycle_id: int) -> bool:
    """Whether a cycle was opened for some posts only (read once per request for every cycle)."""
    return bool((await _sizes(context, _LIMITED_CYCLES))[(cycle_id,)])


async def result_shown(context: Context, result: ResultRow) -> bool:
    """May this principal see the result at all? A pseudonymous principal lists a limited cycle's results as a
    filter by post (``resolvers.results``): without those of small cells, whose presence would tell that their
    person holds one of the cycle's few posts. Every other way to a result (an employee's results, a change's
    previous result) leaves out the same ones."""
    if context.pseudonyms is None or await result_grouping_shown(context, result):
        return True
    return not await limited_cycle(context, result.cycle_id)


async def result_rank_shown(context: Context, result: ResultRow, among: RankGroup) -> bool:
    """May this principal see a result's rank (and percentile, and group size) in its post or department?

    Only where the result's own cell is shown and no cell of that rank group is withheld: ranks over a group
    with withheld rows would place those rows by elimination."""
    if not await result_grouping_shown(context, result):
        return False
    if context.pseudonyms is None:
        return True
    key = (
        (_BY_POST, result.cycle_id, result.post_id)
        if among == "post"
        else (_BY_DEPARTMENT, result.cycle_id, result.department_id)
    )
    return not (await _sizes(context, _SMALL_RANK_GROUPS))[key]


def _people_with_a_small_result_cell(minimum: int, visible: list[ColumnElement[bool]]) -> Select[int]:
    """The people with a result the caller can see (``visible``: the scope's conditions on results) in a
    (cycle, department, post) cell of fewer than ``minimum``: one subquery, never correlated with the outer
    statement (which may read results or employees itself)."""
    other = aliased(AppraisalResult)
    inner = (other.cycle_id, other.department_id, other.post_id)
    small = select(*inner).group_by(*inner).having(func.count() < minimum)
    outer = (AppraisalResult.cycle_id, AppraisalResult.department_id, AppraisalResult.post_id)
    return select(AppraisalResult.employee_id).where(tuple_(*outer).in_(small), *visible).correlate(None)


def _people_in_large_employee_cells(minimum: int) -> Select[int]:
    other = aliased(Employee)
    large = select(other.department_id, other.post_id).group_by(other.department_id, other.post_id)
    person = aliased(Employee)
    cell = tuple_(person.department_id, person.post_id)
    return select(person.id).where(cell.in_(large.having(func.count() >= minimum))).correlate(None)


def shown_person(
    employee_id: InstrumentedAttribute[int], minimum: int, visible: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """The person ``employee_id`` has no small cell: their current (department, post) cell holds at least
    ``minimum`` people and none of their results visible to the caller is in a smaller (cycle, department,
    post) cell. Only such a person's groupings are shown to a pseudonymous caller, on any row."""
    return and_(
        employee_id.in_(_people_in_large_employee_cells(minimum)),
        employee_id.not_in(_people_with_a_small_result_cell(minimum, visible)),
    )


def in_large_employee_cell(minimum: int, visible: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """An employee whose groupings a pseudonymous caller sees: their (department, post) cell holds at least
    ``minimum`` people, and so does the cell of each of their results the caller sees (``visible``).

    A pseudonymous filter by department, post or post family reveals membership as the grouping field does,
    so it matches only these rows: a filtered list (and the difference of two) then holds only people whose
    groupings every row shows anyway; one counting a withheld person would tell them apart by its count.
    """
    other = aliased(Employee)
    large = select(other.department_id, other.post_id).group_by(other.department_id, other.post_id)
    return and_(
        tuple_(Employee.department_id, Employee.post_id).in_(large.having(func.count() >= minimum)),
        Employee.id.not_in(_people_with_a_small_result_cell(minimum, visible)),
    )


def in_large_result_cell(
    minimum: int, visible: list[ColumnElement[bool]], *, by_grade: bool = False
) -> ColumnElement[bool]:
    """A result whose (cycle, department, post) cell, or (cycle, department, post, grade) cell with
    ``by_grade``, holds at least ``minimum`` results, of a person with no small cell (``shown_person``, over
    the results ``visible`` to the caller): what a pseudonymous filtered list or statistic keeps.

    Statistics keep the same rows as lists. An aggregate over large cells is about nobody in particular, and
    only row-level linkage matters; but a figure that counted a mover's result in a large cell while the
    filtered list leaves it out would differ from that list by the mover (count and score), whose score then
    finds their withheld row: counting only shown people, every figure is one of rows the caller sees in
    full (grouping and score) anyway, and nothing is left to subtract."""
    other = aliased(AppraisalResult)
    inner = [other.cycle_id, other.department_id, other.post_id, *([other.grade] if by_grade else [])]
    outer = [
        AppraisalResult.cycle_id,
        AppraisalResult.department_id,
        AppraisalResult.post_id,
        *([AppraisalResult.grade] if by_grade else []),
    ]
    large = select(*inner).group_by(*inner).having(func.count() >= minimum)
    return and_(tuple_(*outer).in_(large), shown_person(AppraisalResult.employee_id, minimum, visible))
