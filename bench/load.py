"""Load generators for ``bench.served``: ``wrk`` (Debian's package, installed here if missing), else a Python one.

Both run in a process of their own, at a fixed number of open connections each sending its next request as
soon as its last answer is in, and report requests per second and the 50th and 99th latency percentiles.

    python -m bench.load URL SECONDS CONNECTIONS [BODY_FILE] [HEADER ...]   (the Python generator)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int
    """Answers other than 200, and socket errors."""


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes | None = None
    """POSTed when set, else GET."""
    headers: tuple[tuple[str, str], ...] = ()


def find_wrk() -> str | None:
    """wrk's path; installs Debian's package when it is missing and this process may (root, apt-get present)."""
    if shutil.which("wrk") is None and shutil.which("apt-get") is not None and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        for command in (install, ["apt-get", "update", "-q"], install):  # an old package list: update, retry
            if shutil.which("wrk") is not None:
                break
            subprocess.run(command, check=False, capture_output=True)
    return shutil.which("wrk")


def _lua(request: Request) -> str:
    lines = [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in request.headers]
    if request.body is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = {json.dumps(request.body.decode())}"]
    return "\n".join(lines) + "\n"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, request: Request, seconds: float, connections: int, scratch: Path) -> Load:
    script = scratch / "request.lua"
    script.write_text(_lua(request), encoding="utf-8")
    # A 30 s timeout, not wrk's 2 s: a slow answer is measured, not dropped from the latencies as a timeout.
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "--latency", "-s", str(script)]
    command.append(request.url)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    percentile = dict(re.findall(r"^ +(50|99)% +(\S+) *$", output, re.MULTILINE))
    if len(percentile) != 2 or "Requests/sec" not in output:
        raise RuntimeError(f"wrk's output has no latency percentiles:\n{output}")
    failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    failed += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return Load(rate, _millis(percentile["50"]), _millis(percentile["99"]), failed)


def run_python(request: Request, seconds: float, connections: int, scratch: Path) -> Load:
    """The fallback: this module as a process of its own (the load must not share the measured process's CPU
    accounting, nor this one's event loop)."""
    body = scratch / "body"
    body.write_bytes(request.body or b"")
    headers = [f"{name}: {value}" for name, value in request.headers]
    command = [sys.executable, "-m", "bench.load", request.url, f"{seconds}", f"{connections}"]
    command += [str(body) if request.body is not None else "-", *headers]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return Load(**json.loads(output))


async def _drive(request: Request, seconds: float, connections: int) -> Load:
    latencies: list[float] = []
    failed = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=dict(request.headers), timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def one_connection() -> None:
            nonlocal failed
            while (started := time.perf_counter()) < deadline:
                try:
                    if request.body is None:
                        response = await client.get(request.url)
                    else:
                        response = await client.post(request.url, content=request.body)
                    failed += response.status_code != 200
                except httpx.HTTPError:
                    failed += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return Load(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, failed)


def main(argv: list[str]) -> int:
    url, seconds, connections, body_file, *headers = argv
    body = None if body_file == "-" else Path(body_file).read_bytes()
    pairs = tuple((name, value.strip()) for name, _, value in (header.partition(":") for header in headers))
    load = asyncio.run(_drive(Request(url, body, pairs), float(seconds), int(connections)))
    print(json.dumps(dataclasses.asdict(load)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
