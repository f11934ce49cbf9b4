"""Watching an event loop from outside it: a /healthz prober and a stall sampler, each on its own thread.

A probe that ran *in* the loop would start late whenever the loop is busy and so never see the stall;
from its own thread it sends on time and the stall shows as latency. The sampler, when asked, names
what the loop's thread was running while it stalled (the innermost frame of our code, and the innermost
frame of all), so that a stall can be traced to the statement or computation that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
import uvicorn
from starlette.types import ASGIApp

_OURS = ("/hub/", "/resolvers/", "/schema/", "/connectors/")


@dataclass(frozen=True, slots=True)
class Latencies:
    """Probe latencies in ms over one window, with the summary figures the report prints."""

    samples: list[float]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def max(self) -> float:
        return max(self.samples, default=float("nan"))

    def over(self, ms: float) -> int:
        return sum(1 for sample in self.samples if sample > ms)


class Probe(threading.Thread):
    """GETs ``url`` every ``interval`` seconds (or at once, when the last answer took longer)."""

    def __init__(self, url: str, interval: float) -> None:
        super().__init__(name="healthz-probe", daemon=True)
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, float]] = []  # (sent at, perf_counter seconds; ms to answer)
        self.failures = 0
        self._done = threading.Event()

    def run(self) -> None:
        # trust_env=False: a proxy from the environment must not sit between the probe and loopback.
        with httpx.Client(trust_env=False, timeout=60) as client:
            due = time.perf_counter()
            while not self._done.is_set():
                sent = time.perf_counter()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - sent
                if ok:
                    self.samples.append((sent, took * 1000))
                else:
                    self.failures += 1
                due += self.interval
                wait = due - time.perf_counter()
                if wait > 0:
                    self._done.wait(wait)
                else:
                    due = time.perf_counter()  # no catching up in a burst: one probe in flight at a time

    def stop(self) -> None:
        self._done.set()
        self.join()

    def between(self, start: float, end: float) -> Latencies:
        """The latencies of the probes sent while [start, end] (perf_counter seconds) was going on."""
        return Latencies([ms for sent, ms in self.samples if start <= sent <= end])


def _where(frame: FrameType | None) -> tuple[str, str]:
    innermost, ours = "", ""
    while frame is not None:
        code = frame.f_code
        place = f"{Path(code.co_filename).name}:{code.co_name}"
        innermost = innermost or place
        if not ours and any(part in code.co_filename for part in _OURS):
            ours = place
        frame = frame.f_back
    return ours or "-", innermost or "-"


class StallSampler(threading.Thread):
    """Samples the loop thread's stack every ``every`` seconds while the loop's heartbeat is older than
    ``threshold``: each sample counts (our innermost frame, the innermost frame)."""

    def __init__(self, loop_thread: int, threshold: float = 0.02, every: float = 0.005) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.loop_thread, self.threshold, self.every = loop_thread, threshold, every
        self.beat = time.perf_counter()
        self.places: Counter[tuple[str, str]] = Counter()
        self.elsewhere: Counter[tuple[str, str]] = Counter()
        self._done = threading.Event()

    async def heartbeat(self) -> None:
        """Run in the loop: a beat every millisecond while the loop is free to run it."""
        while not self._done.is_set():
            self.beat = time.perf_counter()
            await asyncio.sleep(0.001)

    def run(self) -> None:
        skip = {threading.get_ident(), self.loop_thread} | {
            t.ident for t in threading.enumerate() if t.name == "healthz-probe"
        }
        while not self._done.wait(self.every):
            if time.perf_counter() - self.beat > self.threshold:
                frames = sys._current_frames()
                self.places[_where(frames.get(self.loop_thread))] += 1
                # What the other threads (workers, the database driver's) were in meanwhile: one of
                # them holds the GIL when the loop's thread waits at a system call's return.
                for ident, frame in frames.items():
                    if ident not in skip:
                        self.elsewhere[_where(frame)] += 1

    def stop(self) -> None:
        self._done.set()
        self.join()


def _bind(host: str) -> socket.socket:
    # As the demo systems do: proto=IPPROTO_TCP so that asyncio turns Nagle's algorithm off.
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    sock.bind(address)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # Ctrl-C stays the benchmark's
        yield


@contextlib.asynccontextmanager
async def served(app: ASGIApp, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serves ``app`` (with its lifespan) with uvicorn on a free loopback port of this loop; yields its URL."""
    sock = _bind(host)
    server = _Server(uvicorn.Config(app, lifespan="on", ws="none", access_log=False, log_config=None, log_level=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the hub stopped before it started")
            await asyncio.sleep(0.01)
        address, port = sock.getsockname()[:2]
        yield f"http://{address}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
