"""The BI export streams: 100,000 results leave the served hub without its memory growing with them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.export_data import add_results
from hub.db.engine import create_sessionmaker
from tests.conftest import Backend, opened_engine
from tests.served.conftest import NO_RATE_LIMIT
from tests.served.hub_process import ServedHub

RESULTS = 100_000
PEAK_GROWTH_BOUND_KIB = 40 * 1024
"""What the served process's peak resident memory may grow by while it streams them. Reading the rows first
would take far more: 100,000 rows of 23 columns as Python objects are about 100 MB, and the CSV itself is
about 20 MB; streaming holds one chunk of 5,000 rows and its bytes."""


async def _add(url: str) -> int:
    async with opened_engine(url) as engine:
        return await add_results(create_sessionmaker(engine), RESULTS)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def large_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedHub, int]]:
    """The served hub on a copy of the demo whose published cycle holds 100,000 more results (one per module)."""
    backend: Backend = request.getfixturevalue(f"{request.param}_backend")
    tmp_path = tmp_path_factory.mktemp("large")
    url = backend.copy(tmp_path)
    try:
        cycle = asyncio.run(_add(url))
        with ServedHub(url, tmp_path, NO_RATE_LIMIT) as hub:
            yield hub, cycle
        assert "Traceback" not in hub.log(), hub.log()[-4000:]
    finally:
        backend.drop(url)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status: not Linux?")


def reset_peak(pid: int) -> int:
    """Resets the process's peak resident set size (VmHWM) to its current one, which it returns, in KiB: each
    export's peak is then its own, not an earlier one's (Linux: ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kib(pid, "VmRSS")


def peak_resident_kib(pid: int) -> int:
    """The process's peak resident set size since the last reset (VmHWM), in KiB."""
    return _status_kib(pid, "VmHWM")


def _stream(hub: ServedHub, path: str, params: dict[str, str]) -> tuple[int, int]:
    """Streams an export as a client saving it would: its size in bytes and its lines."""
    size = lines = 0
    with httpx.stream(
        "GET", f"{hub.base_url}{path}", params=params, headers=hub.headers("hr_admin"), timeout=120
    ) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return size, lines


@pytest.mark.parametrize("export", ["results.csv", "results.parquet"])
def test_an_export_of_100000_results_streams_without_holding_them(
    large_hub: tuple[ServedHub, int], export: str
) -> None:
    """The peak memory of the served process grows by a bounded amount while 100,000 results stream out, far
    less than the rows would take if they were read (or the file built) before sending."""
    hub, cycle = large_hub
    # Once first, on a slice: pyarrow loaded, the statements compiled, the pools filled.
    _stream(hub, f"/export/{export}", {"cycleId": str(cycle), "grade": "S"})
    before = reset_peak(hub.pid)
    started = time.monotonic()
    size, lines = _stream(hub, f"/export/{export}", {"cycleId": str(cycle)})
    print(f"{export}: {time.monotonic() - started:.2f} s")
    growth = peak_resident_kib(hub.pid) - before
    if export.endswith(".csv"):
        assert lines > RESULTS  # a header, the demo's results and the 100,000
    assert size > 2_000_000
    print(f"{export}: {size} bytes, peak grew by {growth} KiB")
    assert growth < PEAK_GROWTH_BOUND_KIB, f"peak memory grew by {growth} KiB streaming {size} bytes"
