"""The business systems of one hub process, built from a systems file: who answers what, behind the cache.

``Systems`` owns one ``SystemClient`` (and so one ``httpx.AsyncClient``, one semaphore and one
circuit breaker) per system, for the life of the process: the app's lifespan opens and closes it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Self

import httpx

from connectors.base import CompensationSource, HttpPort, MetricSource, TrainingSource
from connectors.cache import Cache, MemoryCache
from connectors.config import ODataConfig, RestConfig, SystemConfig, SystemsConfig, XapiConfig
from connectors.http import Clock, ClosedOnExit, Now, Sleep, SystemClient, utcnow
from connectors.resilient import CachedCompensationSource, CachedMetricSource, CachedTrainingSource
from connectors.rest import RestMetricSource


class Systems(ClosedOnExit):
    """Gives the hub a source per metric, the training source and the compensation source, each cached."""

    def __init__(
        self,
        config: SystemsConfig,
        *,
        cache: Cache | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        now: Now = utcnow,
    ) -> None:
        self.config = config
        # A given cache belongs to the caller (a Redis connection shared with others); ours we close.
        self._owns_cache = cache is None
        self.cache: Cache = cache if cache is not None else MemoryCache()
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._clients: dict[str, SystemClient] = {}
        self._metric_sources: dict[str, MetricSource] = {}
        self._training: TrainingSource | None = None
        self._compensation: CompensationSource | None = None
        self._open = False

    async def __aenter__(self) -> Self:
        """Opens the systems' clients for the block (``ClosedOnExit`` closes them after it)."""
        return await self.open()

    async def open(self) -> Self:
        if self._open:
            return self
        try:
            for system in self.config.systems.values():
                client = SystemClient(
                    system, transport=self._transport, sleep=self._sleep, clock=self._clock, now=self._now
                )
                self._clients[system.name] = client
                self._add(system, client)
        except BaseException:
            await self.aclose()
            raise
        self._open = True
        return self

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._metric_sources.clear()
        self._training = self._compensation = None
        self._open = False
        for client in clients:
            await client.aclose()
        if self._owns_cache:
            await self.cache.aclose()

    def metric_names(self) -> frozenset[str]:
        return frozenset(self._ready()._metric_sources)

    def metric_source(self, metric: str) -> MetricSource | None:
        """The (cached) source of the system that measures ``metric``; ``None`` when no system does."""
        return self._ready()._metric_sources.get(metric)

    def source_for(self, system: str, metric: str) -> MetricSource | None:
        """The source for an indicator's (system, metric), when that system is the one configured for it."""
        source = self.metric_source(metric)
        return source if source is not None and source.system == system else None

    @property
    def training(self) -> TrainingSource | None:
        return self._ready()._training

    @property
    def compensation(self) -> CompensationSource | None:
        return self._ready()._compensation

    def client(self, system: str) -> SystemClient:
        """One system's HTTP access, e.g. to report its circuit breaker's state."""
        return self._ready()._clients[system]

    def _ready(self) -> Systems:
        if not self._open:
            raise RuntimeError("Systems is not open: use `async with Systems(...)` or `await systems.open()`")
        return self

    def _add(self, system: SystemConfig, port: HttpPort) -> None:
        details = system.details
        if isinstance(details, RestConfig):
            source = CachedMetricSource(RestMetricSource(system.name, port, details), self.cache, system.policy)
            self._metric_sources.update(dict.fromkeys(source.metrics(), source))
        elif isinstance(details, XapiConfig):
            self._training = CachedTrainingSource(_xapi_source(system.name, port, details), self.cache, system.policy)
        else:
            self._compensation = CachedCompensationSource(
                _odata_source(system.name, port, details), self.cache, system.policy
            )


def _xapi_source(system: str, port: HttpPort, config: XapiConfig) -> TrainingSource:
    # Imported when a systems file names an xAPI system, so that a hub without one never loads it.
    from connectors.training.xapi import XapiTrainingSource

    return XapiTrainingSource(system, port, config)


def _odata_source(system: str, port: HttpPort, config: ODataConfig) -> CompensationSource:
    from connectors.payroll.odata import ODataCompensationSource

    return ODataCompensationSource(system, port, config)
