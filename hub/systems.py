"""Which business systems the hub talks to, opened for the app's lifespan or a CLI command.

Part of the hub's top (with app.py and cli.py): it wires the connectors to the settings. A systems
file (``PERFHUB_SYSTEMS_FILE`` or ``--systems``) names real systems; without one, demo mode starts the
sandbox systems on loopback ports, in a process of their own, and points the hub at them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from connectors.cache import Cache, MemoryCache, RedisCache
from connectors.config import SystemsConfig, load_systems_file, parse_systems
from connectors.registry import Systems
from hub.config import Settings
from hub.db.engine import is_in_memory
from hub.demo.systems import DemoSystems, serve_demo_systems
from hub.demo.systems.apart import serve_demo_systems_apart
from hub.demo.systems.roster import database_roster

log = logging.getLogger("perfhub")


def configured_systems(settings: Settings) -> SystemsConfig | None:
    """The systems file's configuration; None when there is none."""
    return None if settings.systems_file is None else load_systems_file(settings.systems_file)


@contextlib.asynccontextmanager
async def business_systems(settings: Settings) -> AsyncIterator[tuple[SystemsConfig | None, DemoSystems | None]]:
    """The systems file's systems, or (demo mode without one) the sandbox systems, running meanwhile."""
    config = configured_systems(settings)
    if config is not None or not (settings.demo and settings.demo_systems):
        yield config, None
        return
    # The systems know whoever the database holds, not PERFHUB_DEMO_EMPLOYEES people: the organisation
    # may have been seeded at another size (perfhub seed --employees N).
    if not is_in_memory(settings.database_url):
        # In a process of their own, as real systems are: their work never holds up the hub's requests.
        async with serve_demo_systems_apart(settings.demo_seed, settings.database_url) as demo:
            yield parse_systems(demo.config(), demo.secrets), demo
        return
    async with (
        database_roster(settings.database_url) as roster,
        serve_demo_systems(settings.demo_seed, roster) as demo,
    ):
        yield parse_systems(demo.config(), demo.secrets), demo


def _cache(settings: Settings) -> Cache:
    if settings.connector_cache_url:
        return RedisCache(settings.connector_cache_url, prefix=settings.connector_cache_prefix)
    return MemoryCache()


@contextlib.asynccontextmanager
async def open_systems(settings: Settings, config: SystemsConfig | None) -> AsyncIterator[Systems | None]:
    """One HTTP client per system and the shared cache, closed on exit; None without a configuration."""
    if config is None:
        yield None
        return
    cache = _cache(settings)
    try:
        async with Systems(config, cache=cache) as systems:
            log.info("business systems: %s", ", ".join(sorted(config.systems)))
            yield systems
    finally:
        await cache.aclose()
