"""Sorted pages of results and employees: by total, by an indicator's score, by change from the previous cycle.

Keyset pagination as the id-ordered lists (``resolvers.pagination``), on the pair (sort key, id): the id breaks
ties, so that paging through equal scores neither repeats nor skips a row. The cursor carries the id and the order
it was cut for (a cursor of another order is refused rather than silently mis-paging), not the key, which is looked
up again (a stored score is more precise than the API shows). A row without a sort key (no score on that
indicator, no previous published result) is not in a sorted list: top-N is "the best N of those that have one".
The key is computed in the statement (a correlated subquery where it is not a column).
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, Select, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.db.models import AppraisalResult, Cycle, Employee, IndicatorScore, IndicatorVersion
from hub.domain import CycleState
from resolvers.context import Context
from resolvers.errors import BadUserInput, parse_id
from resolvers.filters import EmployeeFilter
from resolvers.loaders.base import select_rows
from resolvers.pagination import Connection, Edge, PageInfo

SORT_KEY = "sort_key"
"""The label of the sort key's column in a sorted page's rows."""


class ResultOrderField(enum.StrEnum):
    """What a sorted list of results or employees is ordered by."""

    TOTAL_SCORE = "TOTAL_SCORE"
    INDICATOR_SCORE = "INDICATOR_SCORE"
    CHANGE = "CHANGE"


class SortDirection(enum.StrEnum):
    DESC = "DESC"
    ASC = "ASC"


# Not slotted: a slotted class's required fields read as their slot descriptors where strawberry looks for defaults.
@dataclass(frozen=True)
class ResultOrder:
    """How to sort a cycle's results."""

    by: ResultOrderField
    direction: SortDirection = SortDirection.DESC
    indicator_id: str | None = None


@dataclass(frozen=True)
class EmployeeOrder:
    """How to sort employees: by their result in a cycle."""

    by: ResultOrderField
    cycle_id: str
    direction: SortDirection = SortDirection.DESC
    indicator_id: str | None = None


def sort_key(by: ResultOrderField, indicator_id: str | None) -> SQLColumnExpression[float]:
    """The sort key of an ``appraisal_results`` row (exact stored values, never the rounded ones shown)."""
    match by:
        case ResultOrderField.TOTAL_SCORE:
            return AppraisalResult.total_score
        case ResultOrderField.INDICATOR_SCORE:
            if indicator_id is None:
                raise BadUserInput("'orderBy.indicatorId' is required to sort by INDICATOR_SCORE", argument="orderBy")
            key = parse_id(indicator_id)
            # Any version of the indicator: a result is scored on the one its scheme weighs.
            return (
                select(IndicatorScore.normalized_score)
                .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
                .where(IndicatorScore.result_id == AppraisalResult.id, IndicatorVersion.indicator_id == (key or -1))
                .limit(1)
                .scalar_subquery()
            )
        case ResultOrderField.CHANGE:
            return AppraisalResult.total_score - _previous_total()


def _previous_total() -> SQLColumnExpression[float]:
    """The total of the same employee's result in the latest PUBLISHED cycle before this result's (the change
    ``AppraisalResult.change`` shows)."""
    earlier = aliased(AppraisalResult)
    earlier_cycle = aliased(Cycle)
    this_cycle = aliased(Cycle)
    return (
        select(earlier.total_score)
        .join(earlier_cycle, earlier_cycle.id == earlier.cycle_id)
        .join(this_cycle, this_cycle.id == AppraisalResult.cycle_id)
        .where(
            earlier.employee_id == AppraisalResult.employee_id,
            earlier_cycle.state == CycleState.PUBLISHED,
            earlier_cycle.period_start < this_cycle.period_start,
        )
        .order_by(earlier_cycle.period_start.desc(), earlier_cycle.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class SortedPage:
    """What a sorted list's cursors are cut for: the list's kind and the order's every part."""

    kind: str
    tag: str

    def encode(self, key: int) -> str:
        # The row's id alone: its sort key is looked up again (the stored value is more precise than a page shows).
        return base64.urlsafe_b64encode(f"{self.kind}~{self.tag}~{key}".encode()).decode()

    def decode(self, cursor: str | None) -> int | None:
        if cursor is None:
            return None
        try:
            kind, tag, text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().split("~")
            key = parse_id(text)  # a 32-bit key, canonically spelt: a larger one would reach the database
            if (kind, tag) != (self.kind, self.tag) or key is None:
                raise ValueError(kind)
            return key
        except (ValueError, UnicodeError, binascii.Error):
            raise BadUserInput(
                f"'after' is not a cursor of this sorted {self.kind} list (same orderBy): {cursor[:40]!r}",
                argument="after",
            ) from None


def page_of(kind: str, by: ResultOrderField, direction: SortDirection, *parts: str | None) -> SortedPage:
    return SortedPage(kind, ":".join([by.value, direction.value, *(part or "" for part in parts)]))


@dataclass(frozen=True, slots=True)
class Sorting:
    """A list's order as SQL: its key (an expression of the listed rows), the id that breaks ties, the direction."""

    key: SQLColumnExpression[float]
    ident: SQLColumnExpression[int]
    direction: SortDirection

    def listed(self, statement: Select[*tuple[object, ...]]) -> Select[*tuple[object, ...]]:
        """``statement``'s rows that have a key, each with it as SORT_KEY."""
        return statement.add_columns(self.key.label(SORT_KEY)).where(self.key.is_not(None))

    def after(
        self, statement: Select[*tuple[object, ...]], cursor: tuple[float, int] | None
    ) -> Select[*tuple[object, ...]]:
        """``statement`` in the order, from just after the cursor's (key, id): ties by id, ascending either way."""
        descending = self.direction is SortDirection.DESC
        if cursor is not None:
            value, last = cursor
            beyond = self.key < value if descending else self.key > value
            statement = statement.where(or_(beyond, and_(self.key == value, self.ident > last)))
        return statement.order_by(self.key.desc() if descending else self.key.asc(), self.ident.asc())


async def read_sorted(
    session: AsyncSession,
    listed: Select[*tuple[object, ...]],
    sorting: Sorting,
    page: SortedPage,
    cursor: str | None,
    first: int,
    count_total: bool,
) -> Connection:
    """One page of ``listed`` (``Sorting.listed``) after ``cursor``, and the whole list's count when asked."""
    last = page.decode(cursor)
    after = None
    if last is not None:
        # The cursor's row's sort key, as the list computes it now: a second statement, on pages after the first.
        value = (
            await session.execute(listed.with_only_columns(sorting.key).where(sorting.ident == last))
        ).scalar_one_or_none()
        if value is None:
            raise BadUserInput(f"'after' names a row no longer in this sorted {page.kind} list", argument="after")
        after = (float(value), last)
    statement = sorting.after(listed, after).limit(first + 1)
    rows = (await session.execute(statement)).all()
    total = None
    if count_total:
        total = (await session.execute(select(func.count()).select_from(listed.subquery()))).scalar_one()
    shown = rows[:first]
    edges = [Edge(cursor=page.encode(row.id), node=row) for row in shown]
    info = PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None)
    return Connection(edges=edges, page_info=info, total_count=total)


def refuse_pseudonymous_ranking(filter_: EmployeeFilter | None, order: ResultOrder | EmployeeOrder | None) -> None:
    """An analyst without the names grant lists people in pseudonym order only, and never narrows them by score:
    a sorted list or two score thresholds a point apart pin a pseudonym to a score (see ``refuse_score_thresholds``)."""
    if order is not None:
        raise BadUserInput(
            "'orderBy' is not for analysts without the names grant: a list sorted by score ties each pseudonym to "
            "its rank; use scoreStatistics or scoreTrends",
            argument="orderBy",
        )
    if filter_ is not None and (filter_.min_score is not None or filter_.max_score is not None):
        raise BadUserInput(
            "'filter.minScore' and 'filter.maxScore' are not for analysts without the names grant: score "
            "thresholds single people out; filter by grade instead",
            argument="filter",
        )


async def sorted_results(
    context: Context,
    conditions: Sequence[ColumnElement[bool]],
    order: ResultOrder,
    cycle_id: str | None,
    first: int,
    after: str | None,
    count_total: bool,
) -> Connection:
    """A page of the results ``conditions`` select (scope included), in ``order``."""
    sorting = Sorting(sort_key(order.by, order.indicator_id), AppraisalResult.id, order.direction)
    listed = sorting.listed(select_rows(AppraisalResult).where(*conditions))
    page = page_of("result", order.by, order.direction, cycle_id, order.indicator_id)
    async with context.sessionmaker() as session:
        return await read_sorted(session, listed, sorting, page, after, first, count_total)


async def sorted_employees(
    context: Context,
    conditions: Sequence[ColumnElement[bool]],
    order: EmployeeOrder,
    first: int,
    after: str | None,
    count_total: bool,
) -> Connection:
    """A page of the employees in scope that ``conditions`` select, by their result in ``order``'s cycle (one the
    caller may see); those without one are not listed."""
    cycle_key = parse_id(order.cycle_id)
    # A derived table, not a correlated subquery: the scope's conditions name ``employees`` too, and would be
    # correlated to the outer query's rows.
    results = (
        select(AppraisalResult.employee_id, sort_key(order.by, order.indicator_id).label(SORT_KEY))
        .where(AppraisalResult.cycle_id == (cycle_key if cycle_key is not None else -1), *context.scope.results())
        .subquery()
    )
    key = results.c[SORT_KEY]
    sorting = Sorting(key, Employee.id, order.direction)
    rows = context.scope.employee_rows().join(results, results.c.employee_id == Employee.id).where(*conditions)
    listed = sorting.listed(rows)
    page = page_of("employee", order.by, order.direction, order.cycle_id, order.indicator_id)
    async with context.sessionmaker() as session:
        connection = await read_sorted(session, listed, sorting, page, after, first, count_total)
    loader = context.loaders.employee_by_id
    for edge in connection.edges:
        row = edge.node
        assert isinstance(row, Row)
        loader.prime(row.id, row)
    return connection
