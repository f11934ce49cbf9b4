"""Loaders for records the hub does not own: training and compensation, fetched from business systems.

One batch of employees is one call (or one paginated sequence) per system, never one per employee.
The records go to the schema as the connector made them (``schema/linked.py`` registers the classes
of ``connectors/base.py``). A failing system fails every key of the batch with the same
``SystemFailure``, which names the system and its error code: the field is null with that error and the
rest of the response stays intact. Whatever went wrong, a missing system included, reaches a loader as a
``ConnectorError`` (``connectors/`` wraps a source's failures); a loader only turns it into ``SystemFailure``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from connectors.base import (
    CompensationRecord,
    CompensationSource,
    ConnectorError,
    MetricSource,
    Period,
    TrainingRecord,
    TrainingSource,
    configured,
)
from hub.db.lease import away_from_the_database
from resolvers.errors import SystemFailure
from resolvers.loaders.base import SharedLoader

MAX_EMPLOYEES_PER_CALL = 500


class LinkedSystems(Protocol):
    """What resolvers need of the connectors registry (``connectors.registry.Systems``)."""

    @property
    def training(self) -> TrainingSource | None: ...

    @property
    def compensation(self) -> CompensationSource | None: ...

    def source_for(self, system: str, metric: str) -> MetricSource | None: ...


OnRead = Callable[[list[str]], Awaitable[None]]
"""Called once per batch with the employee numbers read (the audit of sensitive reads)."""


TrainingKey = tuple[str, dt.date | None]
"""(employee number, since)."""

# A batch function may give a key an Exception instead of its value: aiodataloader fails that key's load
# with it (its documented protocol), which its annotation of ``batch_load_fn`` leaves out; hence the two
# ``type: ignore[override]`` below.


class TrainingRecordsByEmployeeLoader(SharedLoader[TrainingKey, list[TrainingRecord]]):
    """Keyed by (employee number, since); one call per distinct ``since`` in a batch."""

    max_batch_size = MAX_EMPLOYEES_PER_CALL

    def __init__(self, source: TrainingSource | None, today: dt.date) -> None:
        super().__init__()
        self.source = source
        self.today = today

    async def batch_load_fn(  # type: ignore[override]
        self, keys: list[TrainingKey]
    ) -> list[list[TrainingRecord] | SystemFailure]:
        by_since: defaultdict[dt.date | None, list[str]] = defaultdict(list)
        for number, since in keys:
            by_since[since].append(number)
        found: dict[TrainingKey, list[TrainingRecord] | SystemFailure] = {}

        async def fetch(since: dt.date | None, numbers: list[str]) -> None:
            period = None if since is None else Period(since, self.today)
            try:
                async with away_from_the_database():
                    batch = await configured(self.source, "training").fetch_training(numbers, period)
            except ConnectorError as error:
                failure = SystemFailure(error)
                found.update({(number, since): failure for number in numbers})
                return
            found.update({(number, since): list(batch.records.get(number, ())) for number in numbers})

        # Each distinct 'since' is its own call; they go out together.
        await asyncio.gather(*(fetch(since, numbers) for since, numbers in by_since.items()))
        return [found[key] for key in keys]


class CompensationRecordsByEmployeeLoader(SharedLoader[str, list[CompensationRecord]]):
    """Keyed by employee number; ``on_read`` audits each batch once."""

    max_batch_size = MAX_EMPLOYEES_PER_CALL

    def __init__(self, source: CompensationSource | None, on_read: OnRead) -> None:
        super().__init__()
        self.source = source
        self.on_read = on_read

    async def batch_load_fn(self, keys: list[str]) -> list[list[CompensationRecord] | SystemFailure]:  # type: ignore[override]
        try:
            async with away_from_the_database():
                batch = await configured(self.source, "payroll").fetch_compensation(keys)
        except ConnectorError as error:
            return [SystemFailure(error)] * len(keys)
        await self.on_read(keys)
        return [list(batch.records.get(key, ())) for key in keys]
