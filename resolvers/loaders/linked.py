"""Loaders for records the hub does not own: training and compensation, fetched from business systems.

One batch of employees is one call (or one paginated sequence) per system, never one per employee.
A failing system fails every key of the batch with the same ``ConnectorError``; the field resolver
turns it into a typed GraphQL error and the rest of the response stays intact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import (
    CompensationRecord,
    CompensationSource,
    ConnectorError,
    MetricSource,
    Period,
    Provenance,
    TrainingRecord,
    TrainingSource,
)
from resolvers.loaders.base import SharedLoader

MAX_EMPLOYEES_PER_CALL = 500

log = logging.getLogger("perfhub")


class LinkedSystems(Protocol):
    """What resolvers need of the connectors registry (``connectors.registry.Systems``)."""

    @property
    def training(self) -> TrainingSource | None: ...

    @property
    def compensation(self) -> CompensationSource | None: ...

    def source_for(self, system: str, metric: str) -> MetricSource | None: ...


OnRead = Callable[[list[str]], Awaitable[None]]
"""Called once per batch with the employee numbers read (the audit of sensitive reads)."""


@dataclass(frozen=True, slots=True)
class LinkedTraining:
    id: str
    course: str
    completed_on: dt.date | None
    hours: float | None
    score: float | None
    source: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class LinkedCompensation:
    id: str
    effective_date: dt.date
    base_salary: float | None
    bonus: float | None
    currency: str
    reason: str | None
    provenance: Provenance


class NotConfigured(ConnectorError):
    """No business system of this kind is configured for the hub."""

    code = "SYSTEM_NOT_CONFIGURED"


def _as_connector_error(system: str, error: Exception) -> ConnectorError:
    """Whatever went wrong reaching a system reaches the caller as that system's typed error."""
    if isinstance(error, ConnectorError):
        return error
    log.error("%s: unexpected failure", system, exc_info=error)
    return ConnectorError(system, "unexpected failure (logged)")


def _training(record: TrainingRecord, provenance: Provenance) -> LinkedTraining:
    return LinkedTraining(
        record.id, record.course, record.completed_on, record.hours, record.score, record.source, provenance
    )


def _compensation(record: CompensationRecord, provenance: Provenance) -> LinkedCompensation:
    return LinkedCompensation(
        record.id,
        record.effective_date,
        record.base_salary,
        record.bonus,
        record.currency,
        record.reason,
        provenance,
    )


class TrainingRecordsByEmployeeLoader(SharedLoader[tuple[str, dt.date | None], Any]):
    """Keyed by (employee number, since); one call per distinct ``since`` in a batch."""

    max_batch_size = MAX_EMPLOYEES_PER_CALL

    def __init__(self, source: TrainingSource | None, today: dt.date) -> None:
        super().__init__()
        self.source = source
        self.today = today

    async def batch_load_fn(self, keys: list[tuple[str, dt.date | None]]) -> list[Any]:
        if self.source is None:
            return [NotConfigured("training", "no training system is configured")] * len(keys)
        by_since: defaultdict[dt.date | None, list[str]] = defaultdict(list)
        for number, since in keys:
            by_since[since].append(number)
        found: dict[tuple[str, dt.date | None], Any] = {}
        source = self.source

        async def fetch(since: dt.date | None, numbers: list[str]) -> None:
            period = None if since is None else Period(since, self.today)
            try:
                batch = await source.fetch_training(numbers, period)
            except Exception as error:
                failure = _as_connector_error(source.system, error)
                found.update({(number, since): failure for number in numbers})
                return
            for number in numbers:
                records = batch.records.get(number, ())
                found[(number, since)] = [_training(record, batch.provenance) for record in records]

        # Each distinct 'since' is its own call; they go out together.
        await asyncio.gather(*(fetch(since, numbers) for since, numbers in by_since.items()))
        return [found[key] for key in keys]


class CompensationRecordsByEmployeeLoader(SharedLoader[str, Any]):
    """Keyed by employee number; ``on_read`` audits each batch once."""

    max_batch_size = MAX_EMPLOYEES_PER_CALL

    def __init__(self, source: CompensationSource | None, on_read: OnRead) -> None:
        super().__init__()
        self.source = source
        self.on_read = on_read

    async def batch_load_fn(self, keys: list[str]) -> list[Any]:
        if self.source is None:
            return [NotConfigured("payroll", "no payroll system is configured")] * len(keys)
        try:
            batch = await self.source.fetch_compensation(keys)
        except Exception as error:
            return [_as_connector_error(self.source.system, error)] * len(keys)
        await self.on_read(keys)
        return [[_compensation(record, batch.provenance) for record in batch.records.get(key, ())] for key in keys]
