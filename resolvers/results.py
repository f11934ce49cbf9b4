"""Queries over appraisal results: the paginated list (the analysts' statistics are ``resolvers.statistics``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement

from hub.db.models import AppraisalResult
from resolvers.context import Context
from resolvers.cycle_ids import cycle_key as well_formed_cycle
from resolvers.cycle_ids import known_cycle
from resolvers.errors import BadUserInput
from resolvers.filters import ResultFilter, result_conditions
from resolvers.ids import RESULT, pseudonymous_connection, pseudonymous_page, refuse_small_selection
from resolvers.loaders.base import select_rows
from resolvers.loaders.prefetch import ResultRelations, prefetch_apart, prefetch_results
from resolvers.ordering import ResultOrder, refuse_pseudonymous_ranking, sorted_results
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection, nodes, read_page
from resolvers.records import ResultRow
from resolvers.small_groups import in_large_result_cell, limited_cycle


@dataclass(frozen=True, slots=True)
class ResultChange:
    """A result beside the same employee's previous published one (``PreviousResultByResultLoader``)."""

    current: ResultRow
    previous: ResultRow


async def results(
    context: Context,
    cycle_id: str | None,
    first: int | None,
    after: str | None,
    filter_: ResultFilter | None,
    count_total: bool = True,
    order: ResultOrder | None = None,
    relations: ResultRelations | None = None,
) -> Connection:
    """A page of a cycle's results (every cycle's, as the filter's periods allow, without ``cycle_id``) in id order
    or ``order``'s, with the total matching the filter when ``count_total``, and the ``relations`` its nodes select
    read for the whole page (``resolvers.loaders.prefetch``). A malformed ``cycle_id`` is BAD_USER_INPUT; one that
    names no cycle NOT_FOUND (asked of the cycle loader only when the page is empty: no statement otherwise)."""
    first = check_page_size(first, context.settings.max_page_size)
    cycle_key = well_formed_cycle(cycle_id) if cycle_id is not None else None
    connection = await _results(context, cycle_id, cycle_key, first, after, filter_, count_total, order, relations)
    if cycle_key is not None and not connection.edges:
        await known_cycle(context, cycle_key)  # an empty page: is there such a cycle (NOT_FOUND if not)?
    return connection


async def _results(
    context: Context,
    cycle_id: str | None,
    cycle_key: int | None,
    first: int,
    after: str | None,
    filter_: ResultFilter | None,
    count_total: bool,
    order: ResultOrder | None,
    relations: ResultRelations | None,
) -> Connection:
    conditions = await listed_results(context, cycle_key, filter_, order, every_cycle=cycle_id is None)
    if context.pseudonyms is not None:
        page_keys, has_next, total_count = await pseudonymous_page(
            context, RESULT, AppraisalResult.id, conditions, first, after
        )
        statement = select_rows(AppraisalResult).where(AppraisalResult.id.in_([key for _, key in page_keys]))
        async with context.sessionmaker() as session:
            found = (await session.execute(statement)).all()
            connection = pseudonymous_connection(page_keys, found, has_next, total_count)
            await prefetch_results(session, context.loaders, cast("list[ResultRow]", nodes(connection)), relations)
        return connection
    if order is not None:
        connection = await sorted_results(context, conditions, order, cycle_id, first, after, count_total)
        listed = cast("list[ResultRow]", nodes(connection))
        await prefetch_apart(context.sessionmaker, context.loaders, results=listed, result_relations=relations)
        return connection
    after_id = decode_cursor("result", after)
    page = select_rows(AppraisalResult).where(*conditions).order_by(AppraisalResult.id).limit(first + 1)
    if after_id is not None:
        page = page.where(AppraisalResult.id > after_id)
    async with context.sessionmaker() as session:
        rows, total = await read_page(session, page, AppraisalResult, conditions, count_total)
        await prefetch_results(session, context.loaders, cast("list[ResultRow]", list(rows[:first])), relations)
    return make_connection("result", rows, first, total)


async def listed_results(
    context: Context,
    cycle_key: int | None,
    filter_: ResultFilter | None,
    order: ResultOrder | None = None,
    *,
    every_cycle: bool = False,
) -> list[ColumnElement[bool]]:
    """The conditions of a result list for this principal (the ``results`` query and the BI export): the cycle
    (every cycle's, as the filter's periods allow, with ``every_cycle``), the filter and the row scope and, for a
    pseudonymous principal, the small-cell rules, refusing (BadUserInput) a filter that would single people out."""
    in_cycle = [] if every_cycle else [AppraisalResult.cycle_id == cycle_key]
    conditions = [*in_cycle, *result_conditions(filter_), *context.scope.results()]
    if context.pseudonyms is None:
        return conditions
    if every_cycle:
        raise BadUserInput("'cycleId' is required of analysts without the names grant", argument="cycleId")
    refuse_pseudonymous_ranking(None, order)
    refuse_score_thresholds(filter_)
    grouping = result_conditions(_grouping_only(filter_))
    if not grouping and cycle_key is not None and await limited_cycle(context, cycle_key):
        # A cycle limited to some posts (cycleOpen's postIds, families, departmentIds) is a selection by post:
        # listed whole, its rows of small cells would be known to be of its few posts.
        grouping = [AppraisalResult.cycle_id == cycle_key]
    if grouping:
        # A filter by department, post or post family never matches a result of a small cell.
        grouping.append(in_large_result_cell(context.settings.min_group_size, context.scope.results()))
        conditions.append(grouping[-1])
        base = [AppraisalResult.cycle_id == cycle_key, *context.scope.results()]
        await refuse_small_selection(context, AppraisalResult.id, [*base, *grouping])
    return conditions


def refuse_score_thresholds(filter_: ResultFilter | None) -> None:
    """A pseudonymous principal may not narrow by score: two thresholds a point apart differ by one person,
    whose score is then the difference of two sums (or whose row is the leftover of two lists)."""
    if filter_ is None:
        return
    for argument, value in (("minScore", filter_.min_score), ("maxScore", filter_.max_score)):
        if value is not None:
            raise BadUserInput(
                f"'filter.{argument}' is not for analysts without the names grant: "
                "score thresholds single people out; group by grade instead",
                argument="filter",
            )


def _grouping_only(filter_: ResultFilter | None) -> ResultFilter | None:
    """The part of a result filter that selects by group (department, post, post family)."""
    if filter_ is None:
        return None
    return ResultFilter(department_id=filter_.department_id, post_id=filter_.post_id, post_family=filter_.post_family)
