"""The cache in front of every source: fresh answers without a call, stale answers while a system is down.

A fresh entry answers without calling the system. Otherwise the system is called; its answer is
stored and returned. When the call fails with a ``ConnectorError`` and an entry is still within its
stale window, that entry is returned flagged ``stale=True`` with the time it was originally fetched,
so a screen can say "as of yesterday" instead of showing nothing. Without such an entry the error
goes up unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from connectors.base import (
    BadResponse,
    CompensationRecord,
    CompensationSource,
    ConnectorError,
    MetricBatch,
    MetricSource,
    Period,
    Provenance,
    RecordBatch,
    SystemSource,
    TrainingRecord,
    TrainingSource,
)
from connectors.cache import Cache
from connectors.config import ResiliencePolicy
from connectors.http import track_retries

log = logging.getLogger(__name__)

T = TypeVar("T", MetricBatch, RecordBatch[TrainingRecord], RecordBatch[CompensationRecord])
Rec = TypeVar("Rec", TrainingRecord, CompensationRecord)
Source = TypeVar("Source", bound=SystemSource)

Cached = Any  # a JSON value used by its shape; see below
"""A value read back from the cache: JSON in the shape this module stores, unless the entry is corrupt or
from an older format. Decoding uses it as that shape, and ``_decode`` takes any error it raises for a
miss, so the shape is checked once, by use, instead of field by field."""

EncodedRecord = dict[str, str | float | None]
"""A linked record as the cache stores it: its own fields, dates as ISO strings."""

_DATE_FIELDS: dict[type[TrainingRecord | CompensationRecord], frozenset[str]] = {
    TrainingRecord: frozenset({"completed_on"}),
    CompensationRecord: frozenset({"effective_date"}),
}


def cache_key(system: str, call: str, employee_numbers: Sequence[str], period: Period | None) -> str:
    """System + call + period + the sorted employee numbers (hashed: a batch can hold hundreds)."""
    employees = hashlib.sha256("\n".join(sorted(set(employee_numbers))).encode()).hexdigest()[:32]
    span = f"{period.start.isoformat()}..{period.end.isoformat()}" if period is not None else "all"
    return f"{system}:{call}:{span}:{employees}"


def encode_record(record: TrainingRecord | CompensationRecord) -> EncodedRecord:
    """The record's own fields; its provenance is the cache entry's."""
    return {
        field.name: value.isoformat() if isinstance(value := getattr(record, field.name), dt.date) else value
        for field in dataclasses.fields(record)
        if field.name != "provenance"
    }


def decode_record(cls: type[Rec], data: Cached, provenance: Provenance) -> Rec:
    dates = _DATE_FIELDS[cls]
    fields: dict[str, Cached] = {
        name: dt.date.fromisoformat(value) if name in dates and value is not None else value
        for name, value in data.items()
    }
    return cls(**fields, provenance=provenance)


async def _as_connector_errors(system: str, fetch: Callable[[], Awaitable[T]]) -> T:
    """The one place where whatever a source raises becomes a ``ConnectorError``, so that the stale fallback
    below and the callers (the loaders) meet one error tree: an answer a parser trips over (an overflowing
    date, JSON nested too deep, a mapping that hits an unexpected type) is a bad response from that system."""
    try:
        return await fetch()
    except ConnectorError:
        raise
    except Exception as error:
        log.warning("%s: unexpected failure reading its answer", system, exc_info=True)
        raise BadResponse(system, f"unreadable answer ({type(error).__name__})") from error


class _CachedCalls(Generic[Source]):
    """What the three wrappers share: the fresh / call / store / stale-on-failure sequence."""

    def __init__(self, source: Source, cache: Cache, policy: ResiliencePolicy) -> None:
        self.source = source
        self.system = source.system
        self._cache = cache
        self._policy = policy

    async def _call(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        encode: Callable[[T], object],
        decode: Callable[[Cached, Provenance], T],
        *,
        refresh: bool = False,
    ) -> T:
        """``refresh``: call the system even when a fresh entry would answer (a source corrected its value
        and a collection must pull it again); the answer replaces the entry, and a failure still falls back
        on it, flagged stale."""
        entry = await self._cache.get(key)
        cached = self._decode(entry.value, decode, entry.fetched_at) if entry is not None else None
        if entry is not None and entry.fresh and cached is not None and not refresh:
            return cached
        try:
            with track_retries() as tracker:
                result = await _as_connector_errors(self.system, fetch)
        except ConnectorError as error:
            if entry is None or cached is None:
                raise
            log.warning("%s failed (%s); serving the answer fetched at %s", self.system, error.code, entry.fetched_at)
            # retried: this call's attempts, which is what the failure (and the fallback) cost.
            stale = Provenance(self.system, entry.fetched_at, stale=True, retried=error.retried)
            return cached.with_provenance(stale)
        # Sources written against HttpPort may not track retries themselves; the tracker saw them anyway.
        provenance = dataclasses.replace(result.provenance, retried=result.provenance.retried or tracker.retried)
        await self._cache.put(
            key,
            {"data": encode(result), "retried": provenance.retried},
            fetched_at=provenance.fetched_at,
            fresh_for=self._policy.cache_ttl,
            stale_for=self._policy.stale_ttl,
        )
        return result.with_provenance(provenance)

    def _decode(self, value: Cached, decode: Callable[[Cached, Provenance], T], fetched_at: dt.datetime) -> T | None:
        """A cached answer, or ``None`` when the entry is corrupt or from an older format (a miss, then)."""
        try:
            provenance = Provenance(self.system, fetched_at, retried=bool(value["retried"]))
            return decode(value["data"], provenance)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("%s: ignoring a cache entry in an unexpected shape", self.system)
            return None


class CachedMetricSource(_CachedCalls[MetricSource]):
    """A ``MetricSource`` with the cache in front."""

    def metrics(self) -> frozenset[str]:
        return self.source.metrics()

    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: Period, *, refresh: bool = False
    ) -> MetricBatch:
        """The source's answer, from a fresh cache entry unless ``refresh`` asks the system again."""

        def decode(data: Cached, provenance: Provenance) -> MetricBatch:
            values = {str(employee): float(value) for employee, value in data["values"].items()}
            # Entries written before rejections were kept have none.
            rejected = {str(employee): str(why) for employee, why in data.get("rejected", {}).items()}
            return MetricBatch(metric=metric, values=values, provenance=provenance, rejected=rejected)

        return await self._call(
            cache_key(self.system, f"metric:{metric}", employee_numbers, period),
            lambda: self.source.fetch_metric(metric, employee_numbers, period, refresh=refresh),
            lambda batch: {"values": dict(batch.values), "rejected": dict(batch.rejected)},
            decode,
            refresh=refresh,
        )


class _CachedRecords(_CachedCalls[Source]):
    """What the training and compensation wrappers share: linked records per employee, one entry for each."""

    async def _records(
        self,
        cls: type[Rec],
        call: str,
        employee_numbers: Sequence[str],
        period: Period | None,
        fetch: Callable[[Sequence[str], Period | None], Awaitable[RecordBatch[Rec]]],
    ) -> RecordBatch[Rec]:
        def encode(batch: RecordBatch[Rec]) -> dict[str, list[EncodedRecord]]:
            return {
                employee: [encode_record(record) for record in records] for employee, records in batch.records.items()
            }

        def decode(data: Cached, provenance: Provenance) -> RecordBatch[Rec]:
            records = {
                employee: [decode_record(cls, record, provenance) for record in items]
                for employee, items in data.items()
            }
            return RecordBatch(records=_complete(records, employee_numbers), provenance=provenance)

        batch = await self._call(
            cache_key(self.system, call, employee_numbers, period),
            lambda: fetch(employee_numbers, period),
            encode,
            decode,
        )
        return dataclasses.replace(batch, records=_complete(batch.records, employee_numbers))


def _complete(records: Mapping[str, Sequence[Rec]], employee_numbers: Sequence[str]) -> dict[str, Sequence[Rec]]:
    """Every employee asked about gets an entry, as ``RecordBatch`` promises, even when the source forgot."""
    return {**{employee: [] for employee in employee_numbers}, **records}


class CachedTrainingSource(_CachedRecords[TrainingSource]):
    """A ``TrainingSource`` with the cache in front."""

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]:
        return await self._records(TrainingRecord, "training", employee_numbers, period, self.source.fetch_training)


class CachedCompensationSource(_CachedRecords[CompensationSource]):
    """A ``CompensationSource`` with the cache in front."""

    async def fetch_compensation(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[CompensationRecord]:
        fetch = self.source.fetch_compensation
        return await self._records(CompensationRecord, "compensation", employee_numbers, period, fetch)
