"""The records that loaders and read resolvers hand to schema types: what each kind promises to carry.

Reads return light SQLAlchemy Core rows (see ``resolvers.loaders.base``), and a schema type reads a row
by attribute name: ``Department.name`` is the row's ``name``, ``Department.parent`` loads by the row's
``parent_id``. Each Protocol here lists the attributes that the schema types and the resolvers read of
one record kind, with their types, so that a schema resolver's ``root`` is typed and a misspelt column or
a forgotten ``None`` is a mypy error where it is read.

A Core ``Row`` answers every attribute name (its ``__getattr__`` may return anything), so mypy accepts a row
wherever a record kind is expected: the promise that the row has these columns is the statement's, which
selects a model's whole table (``select_rows``) or, for employees, the table and the ``managed`` flag
(``resolvers.scope.Scope.employee_rows``). ORM objects that operations return satisfy the same protocols.
Members are plain attributes because rows and ORM objects are what fill them (a frozen dataclass needs
read-only properties instead). Where an operation already returns a frozen record of a kind with exactly the
row's attributes (a rating), the kind is that record rather than a Protocol restating it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from hub.domain import (
    AdjustmentKind,
    CycleState,
    Direction,
    EmployeeStatus,
    Grade,
    IndicatorCategory,
    MissingPolicy,
    RaterRole,
)

# Records of the hub's own, handed on as they are: named here so that the schema finds every record kind in
# one place and imports nothing of the operations.
from hub.operations.diagnostics import IndicatorDiagnostics as IndicatorDiagnostics
from hub.operations.ratings import RatingRecord
from hub.webhooks.registry import EndpointRecord


class DepartmentRow(Protocol):
    id: int
    code: str
    name: str
    parent_id: int | None


class PostRow(Protocol):
    id: int
    code: str
    name: str
    family: str
    department_id: int


class PersonRow(Protocol):
    """Whom a rating task or a nomination is about: enough to find them, whatever the rater's row scope (a peer is
    outside it); ``resolvers.loaders.tasks.people_by_id`` selects these three columns."""

    id: int
    employee_no: str
    name: str


class EmployeeRow(Protocol):
    """An employee as every read gives it: in the principal's scope, with ``managed`` (``resolvers.scope``)."""

    id: int
    employee_no: str
    name: str
    department_id: int
    post_id: int
    manager_id: int | None
    managed: bool
    """Whether the principal manages this employee (directly or down the line); the field rules read it."""
    email: str | None
    status: EmployeeStatus
    left_on: dt.date | None


class PostAssignmentRow(Protocol):
    """One stretch of an employee in a post; ``end_date`` is null for the current one."""

    id: int
    employee_id: int
    post_id: int
    start_date: dt.date
    end_date: dt.date | None


class IndicatorRow(Protocol):
    id: int
    code: str
    name: str
    category: IndicatorCategory
    unit: str | None
    direction: Direction
    retired_on: dt.date | None
    retired_reason: str | None


class Versioned(Protocol):
    """What every numbered, dated version (an indicator's, a post's scheme) has."""

    id: int
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    change_note: str | None
    author: str


class IndicatorVersionRow(Versioned, Protocol):
    indicator_id: int
    source_system: str
    source_metric: str | None
    missing_policy: MissingPolicy
    rule: dict[str, object]
    valid_min: float | None
    valid_max: float | None


class SchemeVersionRow(Versioned, Protocol):
    post_id: int


class SchemeItemRow(Protocol):
    indicator_version_id: int
    weight: float


class RaterWeightRow(Protocol):
    role: RaterRole
    weight: float


class CycleRow(Protocol):
    id: int
    name: str
    period_start: dt.date
    period_end: dt.date
    state: CycleState


class CycleTransitionRow(Protocol):
    from_state: CycleState | None
    to_state: CycleState
    actor: str
    reason: str | None
    note: str | None
    at: dt.datetime


class ResultRow(Protocol):
    """An appraisal result; ``department_id`` and ``post_id`` are those it was scored in."""

    id: int
    cycle_id: int
    employee_id: int
    department_id: int
    post_id: int
    scheme_version_id: int
    total_score: float
    grade: Grade
    rank_in_post: int | None
    percentile_in_post: float | None
    rank_in_department: int | None
    percentile_in_department: float | None
    calibrated: bool
    computed_total: float
    computed_grade: Grade
    calibration_reason: str | None


class EarlierResultRow(ResultRow, Protocol):
    """A result read as the one before another (``PreviousResultByResultLoader``): ``current_id`` is the other's."""

    current_id: int


class RankGroupsRow(Protocol):
    """The sizes of the groups a result's ranks are among (``RankGroupsByResultLoader``)."""

    id: int
    in_post: int
    in_department: int


class IndicatorScoreRow(Protocol):
    indicator_version_id: int
    raw_value: float | None
    normalized_score: float | None
    weight: float
    effective_weight: float | None
    weighted_score: float | None
    provenance_system: str | None
    provenance_metric: str | None
    provenance_fetched_at: dt.datetime | None
    provenance_stale: bool
    provenance_checksum: str | None


RatingRow = RatingRecord
"""A stored rating: what ``ratingSubmit`` answers, and a ``ratings`` row has the same attributes."""


class RaterAssignmentRow(Protocol):
    ratee_id: int
    rater_id: int
    role: RaterRole


class AuditRow(Protocol):
    id: int
    at: dt.datetime
    subject: str
    roles: str
    operation: str
    ids: list[str]
    outcome: str
    request_id: str
    client_request_id: str | None


class ResultEventRow(Protocol):
    """An outbox event (``hub.events.outbox``); the subscription delivers it as ``DeliveredEvent``."""

    id: int
    event_id: str
    type: str
    occurred_at: dt.datetime
    cycle_id: int
    result_id: int
    employee_id: int


class ResultAdjustmentRow(Protocol):
    """One hand change of a result (``hub.operations.adjustments``): a calibration or a correction."""

    id: int
    result_id: int
    kind: AdjustmentKind
    total_before: float
    grade_before: Grade
    total_after: float
    grade_after: Grade
    reason: str
    actor: str
    at: dt.datetime


class CycleSchemeRow(Protocol):
    """A scheme version a cycle pinned for a post when it opened."""

    cycle_id: int
    post_id: int
    scheme_version_id: int


WebhookEndpointRecord = EndpointRecord
"""A webhook endpoint with its deliveries counted, never its secret (``resolvers/webhooks.py``)."""
