"""The closed loop's types: training needs joined with training records, and pay guidance from the merit matrix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import strawberry
from strawberry.types.field import StrawberryField

from connectors.base import CompensationRecord, TrainingRecord
from hub.closedloop.matrix import ANNUAL_DAYS, MAX_BONUS_FACTOR, MAX_RAISE_PERCENT, is_annual, period_caveats
from resolvers import closed_loop
from resolvers.closed_loop import (
    AdviceRecord,
    GuidanceRecord,
    MeritCellRecord,
    MeritMatrixRecord,
    NeedRecord,
    SalaryRangeRecord,
)
from resolvers.context import Context
from resolvers.group_needs import GroupNeed
from resolvers.records import IndicatorRow
from schema import fields
from schema.indicators import Indicator
from schema.info import Info
from schema.organisation import Employee
from schema.permissions import Rule, guarded
from schema.record_fields import Relations
from schema.results import AppraisalResult
from schema.rounding import two_decimals
from schema.statistics import Withheld
from schema.values import object_type

object_type(
    SalaryRangeRecord,
    name="SalaryRange",
    description="The monthly base salary range of a post family, as HR configured it.",
)
object_type(
    MeritCellRecord,
    name="MeritCell",
    description="What the merit matrix gives a grade in a band of position in range.",
    fields={
        "band": "The band of position in range: 0 below the first bound, 1 from it to the next, ...",
        "raise_percent": "The raise of the monthly base salary, in percent.",
        "bonus_factor": "The factor applied to the bonus of the employee's compensation record (1 keeps it).",
    },
)
object_type(
    MeritMatrixRecord,
    name="MeritMatrix",
    description="HR's merit matrix: grade x position in the salary range -> a raise percentage and a bonus factor. "
    "Position in range is (base - minimum) / (maximum - minimum) of the post family's range; a base below the "
    "range counts in the lowest band, above it in the highest.",
    fields={
        "currency": "The currency of the ranges; a compensation record in another currency gets no guidance.",
        "position_bounds": "The bounds of position in range between the bands, increasing.",
        "cells": "One per grade and band.",
    },
)


class _OfResult(Protocol):
    employee_id: int
    result_id: int


def _employee_and_result() -> tuple[StrawberryField, StrawberryField]:
    """The employee and the result a closed-loop record is about (new fields for each type that shows them)."""
    return (
        Relations[_OfResult].load(Employee | None, lambda loaders: loaders.employee_by_id, lambda row: row.employee_id),
        Relations[_OfResult].load(
            AppraisalResult | None, lambda loaders: loaders.result_by_id, lambda row: row.result_id
        ),
    )


@strawberry.type(description="A core indicator a result scored under its threshold, and the training related to it.")
class TrainingNeed:
    indicator_code: str
    threshold: float = strawberry.field(description="The score under which the indicator is a need.")
    threshold_source: str = strawberry.field(
        description="Where the threshold comes from: configured for the indicator (trainingNeedRuleSet), or the "
        "default, the C grade's lower bound of the grade bands (PERFHUB_GRADE_BANDS)."
    )
    courses: list[str] = strawberry.field(
        description="The courses related to the indicator (trainingNeedRuleSet's mapping), named as the training "
        "system names completed courses; empty when HR related none, and then nothing can be said to be taken."
    )

    @fields.field(graphql_type=Indicator | None)
    async def indicator(self, root: strawberry.Parent[NeedRecord], info: Info) -> IndicatorRow | None:
        return await info.context.loaders.indicator_by_id.load(root.indicator_id)

    @fields.field(description="The indicator's 0-100 score in the result (shown rounded half-up to two decimals).")
    def score(self, root: strawberry.Parent[NeedRecord]) -> float:
        return two_decimals(root.score)

    @fields.field(
        description="The related courses the employee completed since the need's evidence: on or after the day "
        "after the period end of the employee's previous published result, or, without one, the cycle's first "
        "day (a completion with no date does not count). From the training system. "
        "Null with an error naming the system when it is unavailable: never a guess.",
    )
    async def completed_courses(self, root: strawberry.Parent[NeedRecord], info: Info) -> list[TrainingRecord] | None:
        return await closed_loop.completed_courses(info.context, root)

    @fields.field(
        description="Whether related training was already taken: true when completedCourses holds any (a related "
        "course completed since the evidence: see completedCourses); false when none was (or none is related): an "
        "older completion does not answer a need found now. Null when the training system is "
        "unavailable.",
    )
    async def training_taken(self, root: strawberry.Parent[NeedRecord], info: Info) -> bool | None:
        return bool(await closed_loop.completed_courses(info.context, root))


@strawberry.type(description="An employee whose result in the cycle has at least one training need.")
class EmployeeTrainingNeeds:
    cursor: str = strawberry.field(description="Pass as 'after' for the next page.")
    needs: list[NeedRecord] = strawberry.field(
        graphql_type=list[TrainingNeed], description="The core indicators under their threshold, by indicator code."
    )

    employee, result = _employee_and_result()


def _advised(name: str, graphql_type: object, description: str) -> StrawberryField:
    """A field of the advice itself, read from the record's ``advice``."""

    def resolve(root: strawberry.Parent[AdviceRecord]) -> object:
        return getattr(root.advice, name)

    return fields.field(description=description, graphql_type=graphql_type)(resolve)


@strawberry.type(
    description="What the merit matrix advises for one result; every figure null, and the explanation saying why, "
    "when the inputs do not support one."
)
class CompensationAdvice:
    record: CompensationRecord | None = strawberry.field(
        description="The compensation record the advice is made from: the newest with a base salary in force on the "
        "cycle's last day. Null when the payroll system has none."
    )
    explanation = _advised(
        "explanation",
        str,
        "Why this advice, or why none: the grade, base salary, position in the family's range, band and cell used; "
        "or what was missing (no matrix, no record in force, another currency, no range for the post family).",
    )
    salary_minimum = _advised("salary_minimum", float | None, "The post family's range minimum (monthly base).")
    salary_maximum = _advised("salary_maximum", float | None, "The post family's range maximum (monthly base).")
    position_in_range = _advised(
        "position_in_range",
        float | None,
        "(base - minimum) / (maximum - minimum): below 0 under the range, above 1 over it.",
    )
    band = _advised("band", int | None, "The band of position in range the cell was taken from.")
    raise_percent = _advised(
        "raise_percent", float | None, f"The raise of the monthly base salary, in percent (0..{MAX_RAISE_PERCENT:g})."
    )
    bonus_factor = _advised(
        "bonus_factor", float | None, f"The factor for the record's bonus (0..{MAX_BONUS_FACTOR:g})."
    )
    proposed_base_salary = _advised(
        "proposed_base_salary",
        float | None,
        "The base salary with the raise, to the cent (a proposal: perfhub writes nothing).",
    )
    proposed_bonus = _advised(
        "proposed_bonus",
        float | None,
        "The record's bonus times the factor, to the cent; null when the record has no bonus.",
    )


@strawberry.type(description="Pay guidance for one result of the cycle: advice only, never written to payroll.")
class CompensationGuidance:
    cursor: str = strawberry.field(description="Pass as 'after' for the next page.")
    post_family: str = strawberry.field(description="The family of the post the result was scored in.")

    employee, result = _employee_and_result()

    @fields.field(
        description="The matrix applied to the payroll system's compensation record (one call per page). Null with "
        "an error naming the system when the payroll system is unavailable: no advice is guessed.",
        graphql_type=CompensationAdvice | None,
    )
    async def advice(self, root: strawberry.Parent[GuidanceRecord], info: Info) -> AdviceRecord | None:
        return await closed_loop.advice(info.context, root)

    @fields.field(
        description=f"Whether the cycle's period is a year ({ANNUAL_DAYS.start} to {ANNUAL_DAYS.stop - 1} days: a "
        "calendar or fiscal year, or 52 weeks). The merit matrix's raises and bonus factors are annual: the guidance "
        "of a shorter (a quarter) or longer cycle applies that period's grade as if it stood for a year (see caveats)."
    )
    def cycle_is_annual(self, root: strawberry.Parent[GuidanceRecord]) -> bool:
        return is_annual(root.period_start, root.period_end)

    @fields.field(
        description="What this guidance claims beyond its inputs, in words; empty when nothing. A cycle whose period "
        "is not a year gets one: its grade is applied to an annual merit matrix."
    )
    def caveats(self, root: strawberry.Parent[GuidanceRecord]) -> list[str]:
        return period_caveats(root.period_start, root.period_end)


PageReader = Callable[[Context, str, Sequence[str] | None, int | None, str | None], Awaitable[Sequence[object]]]
"""A resolver of ``resolvers.closed_loop`` reading a page of a cycle's results."""


def cycle_page(rule: Rule, name: str, description: str, graphql_type: object, read: PageReader) -> StrawberryField:
    """A root field over a cycle's results in result id order: cycleId, employeeNos, first (at most 500), after."""

    async def resolve(
        info: Info,
        cycle_id: strawberry.ID,
        employee_nos: list[str] | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Sequence[object]:
        return await read(info.context, cycle_id, employee_nos, first, after)

    return guarded(rule, name, description, graphql_type=graphql_type)(resolve)


@strawberry.type(
    description="One core indicator in one group of a cycle's results: how many of the people scored on it are "
    "under its training-need threshold. Counts, never names."
)
class GroupTrainingNeed:
    key: list[str] = strawberry.field(
        description="The department code, post code or post family, as groupBy asked; empty for the whole cycle."
    )
    indicator_code: str
    threshold: float = strawberry.field(
        description="The score under which the indicator is a need: HR's for the indicator (trainingNeedRuleSet), "
        "else the C grade's lower bound of the grade bands."
    )
    count: int = strawberry.field(
        description="People of the group with a score for the indicator (the group size the share is of); shown "
        "for a withheld group too: a group's size is no score."
    )
    below: int | None = strawberry.field(
        description="Of them, those scored under the threshold. Null when withheld (see withheld)."
    )
    withheld: Withheld | None = strawberry.field(
        description="Why below, share and meanScore are null; null when they are not."
    )

    @fields.field(graphql_type=Indicator | None)
    async def indicator(self, root: strawberry.Parent[GroupNeed], info: Info) -> IndicatorRow | None:
        return await info.context.loaders.indicator_by_id.load(root.indicator_id)

    @fields.field(description="below / count, 0..1. Null when withheld.")
    def share(self, root: strawberry.Parent[GroupNeed]) -> float | None:
        return root.share

    @fields.field(
        description="The mean 0-100 score of the indicator over the group's people scored on it, rounded half-up "
        "to two decimals. Null when withheld."
    )
    def mean_score(self, root: strawberry.Parent[GroupNeed]) -> float | None:
        return None if root.mean_score is None else two_decimals(root.mean_score)
