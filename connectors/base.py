"""What every connector speaks: the records it returns, the protocols it implements, the errors it raises.

A connector turns one business system's wire format into these records. It knows nothing of GraphQL
or of the hub's database: the hub asks for many employees at once (by employee number) and maps the
records onto its own rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar, runtime_checkable

import httpx


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of days, e.g. one appraisal cycle."""

    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a batch of records came from and how fresh it is."""

    system: str
    fetched_at: dt.datetime
    stale: bool = False
    """True when the system failed and the cache served an older answer."""
    retried: bool = False
    """True when the answer needed more than one attempt."""


@dataclass(frozen=True, slots=True)
class MetricBatch:
    """One metric's values for the employees asked about; an employee the system has no value for is absent.

    An employee whose row the system answered with something that is not a number (``null``, ``"n/a"``)
    is in ``rejected`` with what was wrong, not in ``values``: one bad row costs that employee's value,
    never the batch's.
    """

    metric: str
    values: Mapping[str, float]
    provenance: Provenance
    rejected: Mapping[str, str] = field(default_factory=dict)
    """Employee number -> why the system's answer for them is not a value."""

    def with_provenance(self, provenance: Provenance) -> MetricBatch:
        return replace(self, provenance=provenance)


# A linked record carries the provenance of the answer it came in, as the API shows it on every record; it
# is left out of equality: the same course completion read twice, or served stale, is the same record.


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """A completed course, from the training system's learning record store."""

    id: str
    employee_number: str
    course: str
    completed_on: dt.date | None
    hours: float | None
    score: float | None
    source: str
    provenance: Provenance = field(compare=False)


@dataclass(frozen=True, slots=True)
class CompensationRecord:
    """A compensation change, from the payroll system."""

    id: str
    employee_number: str
    effective_date: dt.date
    base_salary: float | None
    bonus: float | None
    currency: str
    reason: str | None
    provenance: Provenance = field(compare=False)


R = TypeVar("R", TrainingRecord, CompensationRecord)


@dataclass(frozen=True, slots=True)
class RecordBatch(Generic[R]):
    """Linked records grouped by employee number; every employee asked about has an entry (maybe empty).

    Each record carries the batch's provenance; ``with_provenance`` changes both together.
    """

    records: Mapping[str, Sequence[R]]
    provenance: Provenance

    def with_provenance(self, provenance: Provenance) -> RecordBatch[R]:
        records = {
            employee: [replace(record, provenance=provenance) for record in items]
            for employee, items in self.records.items()
        }
        return RecordBatch(records=records, provenance=provenance)


class HttpPort(Protocol):
    """One system's HTTP access as connectors see it: auth, timeout, retries and the breaker are behind it.

    ``url`` is a path relative to the system's base URL, or an absolute URL (a server-given next link).
    Failures arrive as ``ConnectorError`` subclasses, never as httpx exceptions.
    """

    system: str

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response: ...

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str | Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> object:
        """The decoded JSON body, to be narrowed by its reader; ``BadResponse`` when the body is not JSON."""
        ...


class SystemSource(Protocol):
    """What every source has: the name of the system it reads, which its answers' provenance and errors carry."""

    system: str


@runtime_checkable
class MetricSource(SystemSource, Protocol):
    """A system that measures extension indicators (finance, security, tickets, ...)."""

    def metrics(self) -> frozenset[str]:
        """The metric names this source can answer for."""
        ...

    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: Period, *, refresh: bool = False
    ) -> MetricBatch:
        """One metric for many employees: one request or one paginated sequence, never one per employee.

        ``refresh``: ask the system even when a cache in front of it holds a fresh answer (a source without
        a cache always asks).
        """
        ...


@runtime_checkable
class TrainingSource(SystemSource, Protocol):
    """The training system: completed courses per employee, within a period or all of them."""

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]: ...


@runtime_checkable
class CompensationSource(SystemSource, Protocol):
    """The payroll system: compensation changes per employee, within a period or all of them."""

    async def fetch_compensation(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[CompensationRecord]: ...


class ConnectorError(Exception):
    """A business system could not answer. ``code`` is stable and goes into GraphQL error extensions."""

    code = "SYSTEM_ERROR"

    def __init__(self, system: str, message: str, *, retried: bool = False, retry_after: float | None = None) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.retried = retried
        self.retry_after = retry_after
        """Seconds the system asked us to wait (429/503 Retry-After), when it said."""


class SystemTimeout(ConnectorError):
    """The system did not answer within its configured timeout."""

    code = "SYSTEM_TIMEOUT"


class SystemUnavailable(ConnectorError):
    """The system refused, answered 5xx or 429 past the retries, or its circuit breaker is open."""

    code = "SYSTEM_UNAVAILABLE"


class BadResponse(ConnectorError):
    """The system answered, but not in the shape its configuration promises (garbage, wrong types)."""

    code = "SYSTEM_BAD_RESPONSE"


class Unauthorised(ConnectorError):
    """The system rejected our credentials (401/403); retrying will not help."""

    code = "SYSTEM_UNAUTHORISED"


class SystemNotConfigured(ConnectorError):
    """The hub has no system of this kind (no training or no payroll system in its systems file)."""

    code = "SYSTEM_NOT_CONFIGURED"

    def __init__(self, kind: str) -> None:
        super().__init__(kind, f"no {kind} system is configured")


S = TypeVar("S", bound=SystemSource)


def configured(source: S | None, kind: str) -> S:
    """``source``, or ``SystemNotConfigured`` when there is none: so that a caller meets a missing system as it
    meets any other failing one, as a ``ConnectorError``."""
    if source is None:
        raise SystemNotConfigured(kind)
    return source


class ConfigurationError(Exception):
    """A systems file is invalid or names a secret whose environment variable is not set."""
