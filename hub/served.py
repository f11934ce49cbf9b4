"""How ``perfhub serve`` runs the app under uvicorn: one process, or ``--workers N`` processes on one socket.

Each process has its own event loop, engine and connection pool (its share of ``database_connections``,
``hub.db.engine.served_pool``) and its own worker process for scoring. The processes of ``--workers N`` are
started by uvicorn's supervisor, which restarts one that dies; each builds its app with :func:`worker_app` from
the environment that ``perfhub serve`` prepared (``hand_down``), as any process of a deployment would.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette

from hub.app import create_app
from hub.config import Settings
from hub.http_protocol import HeaderTimeoutH11Protocol

GC_THRESHOLDS = (50_000, 10, 10)
"""Allocations between two young collections, then young and middle collections between two older ones.
CPython's default first threshold is 700: a request allocates tens of thousands of objects, so a young
collection ran several times per request. A full collection holds the GIL while it walks every tracked
object (about 110 ms every ~50 requests on a served portal page, issue 16; hundreds of ms while a big cycle
is scored in a worker thread): with fewer young collections, full ones come about ten times less often
(bench.event_loop --gc-threshold), and after ``gc.freeze`` they walk only what was allocated since start-up."""


WORKER_START_SECONDS = 60
"""How long a process of ``--workers N`` may take to start, and to answer a health check, before it is
replaced."""


def tune_garbage_collector() -> None:
    """Called once the app has started (the lifespan opened the engine, the schema is built): what exists
    now lives as long as the process, so it leaves the collector's generations (``gc.freeze``) and no full
    collection walks it again; then the thresholds of :data:`GC_THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def worker_app() -> Starlette:
    """The app of one process of ``perfhub serve --workers N`` (uvicorn's factory, ``hub.served:worker_app``)."""
    settings = Settings()
    # The protocol class is named to uvicorn by import path (the supervisor hands its configuration to the
    # processes by pickling it), so each process sets its header deadline here, before any connection.
    HeaderTimeoutH11Protocol.header_timeout = settings.header_timeout_seconds
    return create_app(settings, after_startup=tune_garbage_collector)


def hand_down(settings: Settings, systems_file: Path | None, secrets: Mapping[str, str]) -> None:
    """Prepares the environment the processes of ``--workers N`` start from: the settings ``perfhub serve``
    was given on its command line, and the business systems it started (their file, their fresh secrets)."""
    os.environ["PERFHUB_DATABASE_URL"] = settings.database_url
    if systems_file is not None:
        os.environ["PERFHUB_SYSTEMS_FILE"] = str(systems_file)
    os.environ.update(secrets)


def run_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serves with ``workers`` processes until Ctrl-C or SIGTERM (uvicorn's supervisor: blocking)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "hub.served:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        ws="websockets-sansio",
        ws_max_size=settings.max_body_bytes,
        http="hub.http_protocol:HeaderTimeoutH11Protocol",
        # A process answers the supervisor's health check only once it has imported the hub (the spawned process
        # re-imports ``perfhub``'s modules first): uvicorn's 5 s killed every process on a loaded machine.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()
