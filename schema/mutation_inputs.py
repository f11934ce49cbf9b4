"""Inputs of the mutations."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from hub.domain import Direction, Grade, IndicatorCategory, MissingPolicy, RaterRole


@strawberry.input
class IndicatorCreateInput:
    code: str = strawberry.field(description="Upper-case letters, digits and underscores, e.g. VOUCHER_ERROR_RATE.")
    name: str
    category: IndicatorCategory
    direction: Direction
    rule: JSON = strawberry.field(
        description='The scoring rule, e.g. {"kind": "linear", "floor": 5, "target": 0.5}; kinds: linear, '
        "bands, lookup, rating."
    )
    source_system: str = strawberry.field(description="MANUAL for people-rated (CORE) indicators.")
    effective_from: dt.date
    unit: str | None = None
    source_metric: str | None = None
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE
    change_note: str | None = None


@strawberry.input
class IndicatorVersionCreateInput:
    indicator_id: strawberry.ID
    rule: JSON
    source_system: str
    effective_from: dt.date
    change_note: str = strawberry.field(description="Why the definition changes; required.")
    source_metric: str | None = None
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE


@strawberry.input
class SchemeItemInput:
    indicator_version_id: strawberry.ID
    weight: float = strawberry.field(description="Percent; the items of a scheme sum to 100.")


@strawberry.input
class RaterWeightInput:
    role: RaterRole
    weight: float = strawberry.field(description="Percent; the roles sum to 100.")


@strawberry.input
class SchemeVersionPublishInput:
    post_id: strawberry.ID
    effective_from: dt.date
    items: list[SchemeItemInput]
    rater_weights: list[RaterWeightInput] = strawberry.field(default_factory=list)
    change_note: str | None = None


@strawberry.input
class CycleCreateInput:
    name: str
    period_start: dt.date
    period_end: dt.date


@strawberry.input
class RaterAssignInput:
    cycle_id: strawberry.ID
    ratee_id: strawberry.ID
    rater_id: strawberry.ID
    role: RaterRole


@strawberry.input
class RatingSubmitInput:
    cycle_id: strawberry.ID
    ratee_id: strawberry.ID
    rater_id: strawberry.ID
    indicator_version_id: strawberry.ID
    value: float = strawberry.field(description="A point on the indicator's rating scale, e.g. 1-5.")
    comment: str | None = None


@strawberry.input
class GradeShareInput:
    grade: Grade
    max_share: float = strawberry.field(description="The largest share of results the grade may hold, 0..1.")


@strawberry.input
class ResultCalibrateInput:
    result_id: strawberry.ID
    reason: str
    total_score: float | None = None
    grade: Grade | None = strawberry.field(
        default=None, description="When omitted, the grade follows the calibrated total."
    )
    target_distribution: list[GradeShareInput] | None = None
