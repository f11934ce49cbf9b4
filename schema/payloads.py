"""Mutation payloads: a union of the success type and the typed errors a mutation can return."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from hub.domain import Grade, RaterRole
from resolvers import payloads
from resolvers.records import BlockedEmployeeRecord, RaterAssignmentRow, RatingRow
from schema.errors import (
    ImportRejectedError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    StateError,
)
from schema.indicators import IndicatorVersion, SchemeVersion
from schema.info import Info
from schema.organisation import Employee
from schema.results import AppraisalResult, Cycle


def _is(record_type: type) -> Any:
    return classmethod(lambda _cls, obj, _info: isinstance(obj, record_type))


@strawberry.type
class IndicatorVersionSaved:
    indicator_version: IndicatorVersion
    is_type_of = _is(payloads.IndicatorVersionSaved)


@strawberry.type
class SchemeVersionPublished:
    scheme_version: SchemeVersion
    is_type_of = _is(payloads.SchemeVersionSaved)


@strawberry.type
class CycleChanged:
    cycle: Cycle
    is_type_of = _is(payloads.CycleChanged)


@strawberry.type(description="An employee the engine could not score, and why.")
class BlockedScore:
    code: str
    message: str

    @strawberry.field
    async def employee(self, root: strawberry.Parent[BlockedEmployeeRecord], info: Info) -> Employee:
        return await info.context.loaders.employee_by_id.load(root.employee_id)

    @strawberry.field
    async def indicator_version(
        self, root: strawberry.Parent[BlockedEmployeeRecord], info: Info
    ) -> IndicatorVersion | None:
        if root.indicator_version_id is None:
            return None
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)


@strawberry.type
class CycleScored:
    cycle: Cycle
    scored: int = strawberry.field(description="How many results were computed and stored.")
    blocked: list[BlockedScore]
    is_type_of = _is(payloads.CycleScored)


@strawberry.type(description="An evaluation relationship: the rater rates the ratee in a role.")
class RaterAssignment:
    role: RaterRole

    @strawberry.field
    async def ratee(self, root: strawberry.Parent[RaterAssignmentRow], info: Info) -> Employee:
        return await info.context.loaders.employee_by_id.load(root.ratee_id)

    @strawberry.field
    async def rater(self, root: strawberry.Parent[RaterAssignmentRow], info: Info) -> Employee:
        return await info.context.loaders.employee_by_id.load(root.rater_id)


@strawberry.type
class RaterAssigned:
    assignment: RaterAssignment
    is_type_of = _is(payloads.RaterAssigned)


@strawberry.type(description="One rater's rating of one core indicator.")
class Rating:
    role: RaterRole
    value: float
    comment: str | None
    submitted_at: dt.datetime

    @strawberry.field
    async def indicator_version(self, root: strawberry.Parent[RatingRow], info: Info) -> IndicatorVersion:
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)


@strawberry.type
class RatingSubmitted:
    rating: Rating
    is_type_of = _is(payloads.RatingSaved)


@strawberry.type
class MetricValuesImported:
    imported: int = strawberry.field(description="Rows stored from the file.")
    replaced: int = strawberry.field(description="Of those, how many replaced a value already stored.")
    is_type_of = _is(payloads.MetricValuesImported)


@strawberry.type(description="An extension value that could not be collected, and why.")
class MissingMetric:
    employee_no: str
    indicator: str
    reason: str


@strawberry.type(description="What a collection from the business systems stored and what it could not fetch.")
class MetricsCollected:
    stored: int = strawberry.field(description="New values.")
    updated: int = strawberry.field(description="Values already stored that changed.")
    unchanged: int = strawberry.field(description="Values already stored and unchanged: collecting is idempotent.")
    stale: int = strawberry.field(description="Values served from a cache while their system was down.")
    is_type_of = _is(payloads.MetricsCollected)

    @strawberry.field
    async def cycle(self, root: strawberry.Parent[payloads.MetricsCollected], info: Info) -> Cycle:
        return await info.context.loaders.cycle_by_id.load(root.cycle_id)

    missing: list[MissingMetric] = strawberry.field(
        description="Per employee and indicator, what could not be fetched."
    )


@strawberry.type(description="A grade holds a larger share of the cycle than the target distribution allows.")
class DistributionWarning:
    grade: Grade
    share: float = strawberry.field(description="The grade's share of the cycle's results, 0..1.")
    limit: float
    count: int
    allowed_count: int


@strawberry.type
class ResultCalibrated:
    result: AppraisalResult
    warnings: list[DistributionWarning]
    is_type_of = _is(payloads.ResultCalibrated)


Errors = NotFoundError | InvalidInputError | StateError

IndicatorVersionPayload = Annotated[IndicatorVersionSaved | Errors, strawberry.union("IndicatorVersionPayload")]
SchemeVersionPayload = Annotated[SchemeVersionPublished | Errors, strawberry.union("SchemeVersionPayload")]
CyclePayload = Annotated[CycleChanged | Errors, strawberry.union("CyclePayload")]
CycleScorePayload = Annotated[CycleScored | Errors, strawberry.union("CycleScorePayload")]
RaterAssignPayload = Annotated[RaterAssigned | Errors, strawberry.union("RaterAssignPayload")]
RatingSubmitPayload = Annotated[RatingSubmitted | Errors | NotAllowedError, strawberry.union("RatingSubmitPayload")]
MetricValuesImportPayload = Annotated[
    MetricValuesImported | Errors | ImportRejectedError, strawberry.union("MetricValuesImportPayload")
]
CycleCollectPayload = Annotated[MetricsCollected | Errors, strawberry.union("CycleCollectPayload")]
ResultCalibratePayload = Annotated[ResultCalibrated | Errors, strawberry.union("ResultCalibratePayload")]
