"""Records linked to employees from business systems: training (xAPI) and compensation (payroll)."""

from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type(description="Where linked records came from, and whether they are a cached answer.")
class RecordProvenance:
    system: str
    fetched_at: dt.datetime
    stale: bool = strawberry.field(description="True when the system was down and a cached answer was served.")
    retried: bool = strawberry.field(description="True when the answer needed more than one attempt.")


@strawberry.type(description="A completed course, from the training system's learning record store.")
class TrainingRecord:
    id: strawberry.ID
    course: str
    completed_on: dt.date | None
    hours: float | None
    score: float | None
    source: str
    provenance: RecordProvenance


@strawberry.type(description="A compensation change, from the payroll system.")
class CompensationRecord:
    id: strawberry.ID
    effective_date: dt.date
    base_salary: float | None
    bonus: float | None
    currency: str
    reason: str | None
    provenance: RecordProvenance
