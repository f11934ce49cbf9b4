"""The demo business systems in a process of their own, as real systems would be.

``perfhub serve`` in demo mode used to run the five systems in the hub's own event loop. A collection
of a big cycle then made hundreds of requests to them, and the systems' side of that traffic (building
answers for thousands of employees, serialising them) held up every other request to the hub. In a
process of their own they cost the hub what any remote system costs: waiting for an answer.

The child serves the systems with :func:`serve_demo_systems` on a roster read from the hub's database,
sends their addresses and secrets back over a pipe, and stops when told to or when the hub dies (it
would otherwise outlive a ``kill -9`` of the hub). Their fault switches are reached over HTTP
(``<url>/_faults``), so the :class:`DemoSystems` handed back has no in-process switches.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection

from hub.child import belong_to
from hub.demo.systems.consumers import ConsumerSetup
from hub.demo.systems.roster import database_roster
from hub.demo.systems.runner import DemoSystems, serve_demo_systems

_START_TIMEOUT = 60.0
"""Seconds the child may take to import, read nothing yet and bind its five servers."""
_STOP_TIMEOUT = 10.0

_STOP = "stop"


def _child(seed: int, database_url: str, parent_pid: int, pipe: Connection) -> None:
    belong_to(parent_pid)
    asyncio.run(_serve(seed, database_url, pipe))


async def _serve(seed: int, database_url: str, pipe: Connection) -> None:
    try:
        async with database_roster(database_url) as roster, serve_demo_systems(seed, roster) as demo:
            pipe.send((demo.urls, demo.secrets))
            # A ConsumerSetup starts the demo consumers; anything else the hub sends, or the pipe closing, means stop.
            with contextlib.suppress(EOFError, OSError):
                while isinstance(message := await asyncio.to_thread(pipe.recv), ConsumerSetup):
                    if demo.consumers is not None:
                        demo.consumers.start(message)
    except Exception as error:
        with contextlib.suppress(OSError):
            pipe.send(error)
        raise


class _PipedConsumers:
    """Starts the consumers of the systems' process: the setup goes down the pipe."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe

    def start(self, setup: ConsumerSetup) -> None:
        self._pipe.send(setup)


@contextlib.asynccontextmanager
async def serve_demo_systems_apart(seed: int, database_url: str) -> AsyncIterator[DemoSystems]:
    """The demo systems of ``seed``, knowing whoever ``database_url`` holds, served by a child process."""
    context = multiprocessing.get_context("spawn")  # the hub has threads and a loop a fork must not copy
    ours, theirs = context.Pipe()
    child = context.Process(
        target=_child, args=(seed, database_url, os.getpid(), theirs), name="perfhub-demo-systems", daemon=True
    )
    child.start()
    theirs.close()
    try:
        if not await asyncio.to_thread(ours.poll, _START_TIMEOUT):
            raise RuntimeError(f"the demo business systems did not start within {_START_TIMEOUT:g} s")
        started = ours.recv()
        if isinstance(started, BaseException):
            raise RuntimeError("the demo business systems failed to start") from started
        urls, secrets = started
        yield DemoSystems(urls=urls, faults={}, secrets=secrets, consumers=_PipedConsumers(ours))
    finally:
        with contextlib.suppress(OSError):
            ours.send(_STOP)
        ours.close()
        # Joined without an await: this runs as the hub shuts down, when a Ctrl-C may already have
        # cancelled the task, and an await here would leave the child to the kernel's death signal.
        child.join(_STOP_TIMEOUT)
        if child.is_alive():
            child.kill()
            child.join()
