"""The closed loop's reads: ``trainingNeeds`` and ``compensationGuidance`` (and the merit matrix in force).

Both page over a cycle's results in the caller's row scope of results, one statement a page (plus one for
the needs, or the matrix). What the business systems know comes through the linked-record loaders, one
call per page: the training records behind ``TrainingNeed.completedCourses``, the compensation records
behind ``CompensationGuidance.advice``. A system that fails fails those fields with its typed error
(``SystemFailure``); nothing is guessed in its place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.orm import aliased

from connectors.base import CompensationRecord, TrainingRecord
from hub.closedloop.matrix import Advice, Matrix, Pay, advise, in_force
from hub.closedloop.needs import has_needs, needs_of
from hub.closedloop.rules import matrix_in_force
from hub.db.models import AppraisalResult, Cycle, Employee, Post
from hub.domain import CycleState, Grade
from resolvers.context import Context
from resolvers.cycle_ids import cycle_key, known_cycle
from resolvers.errors import BadUserInput
from resolvers.pagination import check_page_size, decode_cursor, encode_cursor

NEEDS_CURSOR = "trainingNeeds"
GUIDANCE_CURSOR = "compensationGuidance"


@dataclass(frozen=True, slots=True)
class NeedRecord:
    """One core indicator under its threshold, for one employee."""

    employee_number: str
    indicator_id: int
    indicator_code: str
    score: float
    threshold: float
    threshold_source: str
    courses: list[str]
    counted_from: dt.date
    """The first day a related completion counts as training taken for this need (``_counted_from``)."""


@dataclass(frozen=True, slots=True)
class EmployeeNeedsRecord:
    cursor: str
    employee_id: int
    result_id: int
    needs: list[NeedRecord]


@dataclass(frozen=True, slots=True)
class _Row:
    """A result of the page, with what the closed loop reads of its employee, post and cycle."""

    result_id: int
    employee_id: int
    employee_number: str
    grade: Grade
    post_family: str
    period_end: dt.date
    period_start: dt.date
    previous_end: dt.date | None
    """The period end of the employee's latest published result of a cycle that ended before this one began."""


def _counted_from(row: _Row) -> dt.date:
    # Training counts against a need when taken after the evidence before this cycle: the day after the
    # previous published result's period, or, for a first result, the cycle's first day. A 2024 course must
    # not answer a need found in 2026; one completed after the cycle ended (the enrolment) does.
    return row.period_start if row.previous_end is None else row.previous_end + dt.timedelta(days=1)


def _previous_end() -> ScalarSelect[dt.date]:
    earlier, its_cycle = aliased(AppraisalResult), aliased(Cycle)
    return (
        select(func.max(its_cycle.period_end))
        .select_from(earlier)
        .join(its_cycle, its_cycle.id == earlier.cycle_id)
        .where(
            earlier.employee_id == AppraisalResult.employee_id,
            its_cycle.state == CycleState.PUBLISHED,
            its_cycle.period_end < Cycle.period_start,
        )
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GuidanceRecord(_Row):
    cursor: str
    matrix: Matrix | None


async def _page(
    context: Context,
    kind: str,
    cycle_id: str,
    employee_numbers: Sequence[str] | None,
    first: int | None,
    after: str | None,
    *conditions: ColumnElement[bool],
) -> list[_Row]:
    """One page of the cycle's results in the caller's scope, in result id order; one statement (and, when it
    found nothing, the cycle's loader read: an id that names no cycle is NOT_FOUND, not an empty page).

    ``employee_numbers`` narrows the page; a number that matches nothing (unknown, outside the caller's scope, or
    without a result, or a need, in the cycle) is left out silently, as a filter leaves out what it does not
    match: telling which would say whether an employee outside the caller's scope exists."""
    key = cycle_key(cycle_id)
    limit = check_page_size(first, context.settings.max_page_size)
    if employee_numbers is not None and len(employee_numbers) > context.settings.max_page_size:
        raise BadUserInput(f"at most {context.settings.max_page_size} employee numbers", argument="employeeNos")
    statement = (
        select(
            AppraisalResult.id,
            AppraisalResult.employee_id,
            Employee.employee_no,
            AppraisalResult.grade,
            Post.family,
            Cycle.period_end,
            Cycle.period_start,
            _previous_end(),
        )
        .join(Employee, Employee.id == AppraisalResult.employee_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
        .where(AppraisalResult.cycle_id == key, *context.scope.results(), *conditions)
        .order_by(AppraisalResult.id)
        .limit(limit)
    )
    start = decode_cursor(kind, after)
    if start is not None:
        statement = statement.where(AppraisalResult.id > start)
    if employee_numbers is not None:
        statement = statement.where(Employee.employee_no.in_(employee_numbers))
    async with context.sessionmaker() as session:
        rows = [_Row(*row) for row in await session.execute(statement)]
    if not rows:
        await known_cycle(context, key)
    return rows


def _default_threshold(context: Context) -> float:
    return context.settings.bands().c


async def training_needs(
    context: Context, cycle_id: str, employee_numbers: Sequence[str] | None, first: int | None, after: str | None
) -> list[EmployeeNeedsRecord]:
    """The results of the cycle with at least one training need, each with its needs; two statements."""
    default = _default_threshold(context)
    rows = await _page(context, NEEDS_CURSOR, cycle_id, employee_numbers, first, after, has_needs(default))
    async with context.sessionmaker() as session:
        found = await needs_of(session, [row.result_id for row in rows], default)
    default_source = f"default: the C grade's lower bound ({default:g})"
    return [
        EmployeeNeedsRecord(
            cursor=encode_cursor(NEEDS_CURSOR, row.result_id),
            employee_id=row.employee_id,
            result_id=row.result_id,
            needs=[
                NeedRecord(
                    employee_number=row.employee_number,
                    indicator_id=need.indicator_id,
                    indicator_code=need.indicator_code,
                    score=need.score,
                    threshold=need.threshold,
                    threshold_source="configured for the indicator" if need.configured else default_source,
                    courses=list(need.courses),
                    counted_from=_counted_from(row),
                )
                for need in found.get(row.result_id, [])
            ],
        )
        for row in rows
    ]


async def completed_courses(context: Context, need: NeedRecord) -> list[TrainingRecord]:
    """The employee's related courses completed since ``counted_from`` (a call per page, not per need).

    A completion without a date cannot be placed after the evidence, so it does not count.
    """
    records = await context.loaders.training_records_by_employee.load((need.employee_number, None))
    related = set(need.courses)
    return [
        record
        for record in records
        if record.course in related and record.completed_on is not None and record.completed_on >= need.counted_from
    ]


async def compensation_guidance(
    context: Context, cycle_id: str, employee_numbers: Sequence[str] | None, first: int | None, after: str | None
) -> list[GuidanceRecord]:
    """A page of the cycle's results with the merit matrix in force; two statements."""
    rows = await _page(context, GUIDANCE_CURSOR, cycle_id, employee_numbers, first, after)
    async with context.sessionmaker() as session:
        matrix = await matrix_in_force(session)
    return [
        GuidanceRecord(
            *(getattr(row, name) for name in _Row.__dataclass_fields__),
            cursor=encode_cursor(GUIDANCE_CURSOR, row.result_id),
            matrix=matrix,
        )
        for row in rows
    ]


def _pay(record: CompensationRecord) -> Pay:
    return Pay(record.effective_date, record.base_salary, record.bonus, record.currency)


@dataclass(frozen=True, slots=True)
class AdviceRecord:
    """The matrix's advice (``hub.closedloop.matrix.Advice``) with the compensation record it was made from."""

    advice: Advice
    record: CompensationRecord | None


async def advice(context: Context, item: GuidanceRecord) -> AdviceRecord:
    """The matrix applied to the record in force on the cycle's last day (a payroll call per page)."""
    records = await context.loaders.compensation_records_by_employee.load(item.employee_number)
    chosen = in_force([_pay(record) for record in records], item.period_end)
    record = next((r for r in records if chosen is not None and _pay(r) == chosen), None)
    return AdviceRecord(advise(item.matrix, item.grade, item.post_family, chosen, item.period_end), record)


@dataclass(frozen=True, slots=True)
class SalaryRangeRecord:
    post_family: str
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class MeritCellRecord:
    grade: Grade
    band: int
    raise_percent: float
    bonus_factor: float


@dataclass(frozen=True, slots=True)
class MeritMatrixRecord:
    currency: str
    salary_ranges: list[SalaryRangeRecord]
    position_bounds: list[float]
    cells: list[MeritCellRecord]

    @classmethod
    def of(cls, matrix: Matrix) -> MeritMatrixRecord:
        return cls(
            matrix.currency,
            [SalaryRangeRecord(family, low, high) for family, (low, high) in sorted(matrix.ranges.items())],
            list(matrix.bounds),
            [
                MeritCellRecord(
                    grade, band, matrix.cells[(grade, band)].raise_percent, matrix.cells[(grade, band)].bonus_factor
                )
                for grade in Grade
                for band in range(matrix.bands)
            ],
        )


async def merit_matrix(context: Context) -> MeritMatrixRecord | None:
    async with context.sessionmaker() as session:
        matrix = await matrix_in_force(session)
    return None if matrix is None else MeritMatrixRecord.of(matrix)
