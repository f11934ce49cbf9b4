"""Queries over the organisation: departments, posts, employees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import ColumnElement

from hub import policy
from hub.db.models import Department, Employee, Post
from hub.domain import CycleState
from resolvers.anonymity import WithheldRole, withheld_roles, without_withheld
from resolvers.context import Context
from resolvers.errors import Forbidden, parse_id
from resolvers.filters import EmployeeFilter, employee_conditions
from resolvers.ids import EMPLOYEE, pseudonymous_connection, pseudonymous_page, refuse_small_selection, row_key
from resolvers.loaders.base import select_rows
from resolvers.loaders.prefetch import EmployeeRelations, plans_reads, prefetch_apart, prefetch_employees
from resolvers.ordering import EmployeeOrder, refuse_pseudonymous_ranking, sorted_employees
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection, nodes, read_page
from resolvers.records import DepartmentRow, EmployeeRow, PostRow, RatingRow
from resolvers.scope import MANAGED
from resolvers.small_groups import in_large_employee_cell


async def employee(context: Context, id_: str, relations: EmployeeRelations | None = None) -> EmployeeRow | None:
    """An employee by id in the caller's scope, with the ``relations`` the query selects of it read in the same
    session (one connection for the whole detail)."""
    key = row_key(context, EMPLOYEE, id_, "id")
    if key is None:
        return None
    loader = context.loaders.employee_by_id
    if not plans_reads(relations):
        return await loader.load(key)
    async with context.sessionmaker() as session:
        held = await loader.prefetch(session, [key])
        if key in held:
            found = held[key]
            if found is not None:
                await prefetch_employees(session, context.loaders, [found], relations)
            return found
    # Not held: another field of the request is loading it right now; its load answers for both. Awaited with no
    # session open: a query's sessions take turns on one leased connection (hub.db.lease), and holding it while
    # that load waits for its turn would stall both until the lease's timeout.
    found = await loader.load(key)
    if found is not None:
        async with context.sessionmaker() as session:
            await prefetch_employees(session, context.loaders, [found], relations)
    return found


async def me(context: Context) -> EmployeeRow | None:
    """The employee the caller's token binds (its employee number); None for a token that binds nobody."""
    number = context.principal.employee_number
    return None if number is None else await context.loaders.employee_by_number.load(number)


async def employee_by_number(context: Context, employee_no: str) -> EmployeeRow | None:
    """An employee by number, in the caller's scope: a number outside it answers as an unknown one."""
    if not context.scope.may_search_names:
        # The number is a name's twin (NAMES): an answer would tie it to a pseudonym.
        raise Forbidden("not allowed: looking up an employee by number needs the 'names' grant")
    return await context.loaders.employee_by_number.load(employee_no)


async def employees(
    context: Context,
    first: int | None,
    after: str | None,
    filter_: EmployeeFilter | None,
    count_total: bool = True,
    order: EmployeeOrder | None = None,
    relations: EmployeeRelations | None = None,
) -> Connection:
    """A page of employees in id order (or ``order``'s), with the total matching the filter when ``count_total``,
    and the ``relations`` its nodes select read for the whole page (``resolvers.loaders.prefetch``)."""
    first = check_page_size(first, context.settings.max_page_size)
    if filter_ is not None and filter_.name_contains and not context.scope.may_search_names:
        raise Forbidden("not allowed: filtering by name needs the 'names' grant")
    conditions = employee_conditions(filter_, context.scope.results())
    if context.pseudonyms is not None:
        refuse_pseudonymous_ranking(filter_, order)
        connection = await _pseudonymous_employees(context, first, after, conditions)
    elif order is not None:
        connection = await sorted_employees(context, conditions, order, first, after, count_total)
    else:
        return await _employees_by_id(context, first, after, conditions, count_total, relations)
    rows = cast("list[EmployeeRow]", nodes(connection))
    await prefetch_apart(context.sessionmaker, context.loaders, rows, relations)
    return connection


async def _employees_by_id(
    context: Context,
    first: int,
    after: str | None,
    conditions: list[ColumnElement[bool]],
    count_total: bool,
    relations: EmployeeRelations | None,
) -> Connection:
    """The page in id order, its count and its relations, one statement after the other on one connection."""
    after_id = decode_cursor("employee", after)
    page = context.scope.employee_rows().where(*conditions).order_by(Employee.id).limit(first + 1)
    if after_id is not None:
        page = page.where(Employee.id > after_id)
    in_scope = context.scope.employees()
    if in_scope is not None:
        conditions.append(in_scope)
    async with context.sessionmaker() as session:
        rows, total = await read_page(session, page, Employee, conditions, count_total)
        loader = context.loaders.employee_by_id
        for row in rows:
            # Managers on the page are often on the same page: their loads then cost nothing.
            loader.prime(row.id, row)
        await prefetch_employees(session, context.loaders, list(rows[:first]), relations)
    return make_connection("employee", rows, first, total)


async def _pseudonymous_employees(
    context: Context, first: int, after: str | None, conditions: list[ColumnElement[bool]]
) -> Connection:
    """The same list in pseudonym order, with pseudonyms as cursors (see resolvers.ids)."""
    in_scope = context.scope.employees()
    if conditions:
        # A filter by department, post or post family never matches a row of a small cell (see small_groups).
        conditions = [*conditions, in_large_employee_cell(context.settings.min_group_size, context.scope.results())]
    everything = [*conditions, *([in_scope] if in_scope is not None else [])]
    await refuse_small_selection(context, Employee.id, everything if conditions else [])
    page, has_next, total = await pseudonymous_page(context, EMPLOYEE, Employee.id, everything, first, after)
    statement = context.scope.employee_rows().where(Employee.id.in_([key for _, key in page]))
    async with context.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    loader = context.loaders.employee_by_id
    for row in rows:
        loader.prime(row.id, row)
    return pseudonymous_connection(page, rows, has_next, total)


async def departments(context: Context) -> Sequence[DepartmentRow]:
    async with context.sessionmaker() as session:
        return (await session.execute(select_rows(Department).order_by(Department.id))).all()


async def posts(context: Context) -> Sequence[PostRow]:
    async with context.sessionmaker() as session:
        return (await session.execute(select_rows(Post).order_by(Post.id))).all()


async def _ratings_of(context: Context, employee: EmployeeRow, cycle_id: str) -> list[RatingRow]:
    """Every rating a ratee received in a cycle, once the caller may read them; a read of someone else's is
    audited."""
    cycle_key = parse_id(cycle_id)
    if cycle_key is None:
        return []
    if not policy.reads_ratings_before_publication(context.principal, ratee_managed=getattr(employee, MANAGED, False)):
        # The ratee themselves: their ratings become theirs to read when the cycle is published.
        cycle = await context.loaders.cycle_by_id.load(cycle_key)
        if cycle is not None and cycle.state is not CycleState.PUBLISHED:
            raise Forbidden("not allowed: ratings reach the ratee when the cycle is published")
    ratings = await context.loaders.ratings_by_ratee_cycle.load((employee.id, cycle_key))
    if employee.employee_no != context.principal.employee_number:
        # Joins the batch's one audit entry; the ratings are returned only once it is written.
        await context.loaders.ratings_read_audit.load(f"employee:{employee.id}@cycle:{cycle_key}")
    return ratings


async def _withheld(context: Context, ratings: list[RatingRow], cycle_id: str) -> list[WithheldRole]:
    # HR sees every rating (and is audited for it); the ratee and their managers see anonymous roles in a crowd,
    # once the cycle takes no more ratings. The cycle is read from the argument, not from the ratings: with
    # none yet, an open cycle must answer as it will after the first arrives, or the change times it.
    cycle_key = parse_id(cycle_id)
    if policy.sees_every_rating(context.principal) or cycle_key is None:
        return []
    cycle = await context.loaders.cycle_by_id.load(cycle_key)
    if cycle is None:
        return []
    cycle_open = cycle.state in (CycleState.DRAFT, CycleState.OPEN)
    return withheld_roles(ratings, context.settings, cycle_open=cycle_open)


async def ratings_received(context: Context, employee: EmployeeRow, cycle_id: str) -> list[RatingRow]:
    """What a ratee received in a cycle, less the anonymous roles withheld (see resolvers.anonymity)."""
    ratings = await _ratings_of(context, employee, cycle_id)
    return without_withheld(ratings, await _withheld(context, ratings, cycle_id))


async def ratings_withheld(context: Context, employee: EmployeeRow, cycle_id: str) -> list[WithheldRole]:
    """The anonymous roles ``ratings_received`` leaves out, with their number of raters."""
    return await _withheld(context, await _ratings_of(context, employee, cycle_id), cycle_id)
