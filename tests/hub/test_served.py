"""``perfhub serve --workers N`` and what every served process does once started (hub/served.py)."""

from __future__ import annotations

import gc
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.cli import main
from hub.http_protocol import HeaderTimeoutH11Protocol
from hub.served import GC_THRESHOLDS, worker_app
from tests.conftest import TEST_SECRET, Backend
from tests.hub.test_cli import ask, free_port, printed_tokens, serve_process


@pytest.fixture
def collector() -> Iterator[None]:
    """Gives the test process its garbage collector back as it found it."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_a_served_process_freezes_what_start_up_made_and_collects_less_often(
    sqlite_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector: None
) -> None:
    """worker_app builds the app from the environment; once its lifespan has started, the objects made so far
    are frozen out of the collector, and young collections come every 50,000 allocations, not 700."""
    monkeypatch.setenv("PERFHUB_DATABASE_URL", sqlite_backend.copy(tmp_path))
    monkeypatch.setenv("PERFHUB_DEMO", "false")
    monkeypatch.setenv("PERFHUB_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("PERFHUB_WORKER_PROCESS", "false")
    monkeypatch.setenv("PERFHUB_HEADER_TIMEOUT_SECONDS", "7")
    monkeypatch.setattr(HeaderTimeoutH11Protocol, "header_timeout", HeaderTimeoutH11Protocol.header_timeout)
    gc.unfreeze()
    app = worker_app()
    assert gc.get_freeze_count() == 0, "nothing is frozen before the app has started"
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    assert HeaderTimeoutH11Protocol.header_timeout == 7


def test_serve_refuses_workers_below_one_and_workers_on_a_database_in_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Processes cannot share a database that lives in one process's memory."""
    assert main(["--database-url", "sqlite+aiosqlite:///:memory:", "serve", "--workers", "2"]) == 1
    assert "in memory" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_serve_with_two_workers_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`perfhub serve --workers 2` seeds the demo, starts its systems and two processes on one port; both
    processes answer with the demo's tokens and the business systems it started; SIGTERM stops them all."""
    port = free_port()
    process = serve_process(tmp_path, port, "--workers", "2")
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("2 processes" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        token = printed_tokens(lines)["hr_admin"]
        query = "{ employees(first: 2) { totalCount edges { node { name trainingRecords { course } } } } }"
        deadline = time.monotonic() + 240  # each process imports the hub first: slow on a loaded machine
        answers: list[dict[str, Any]] = []
        while len(answers) < 4:  # connections spread over both processes; every one must answer
            try:
                answers.append(ask(port, token, query))
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the processes did not start"
                time.sleep(1)
        for answer in answers:
            assert "errors" not in answer, answer
            assert answer["data"]["employees"]["totalCount"] == 120
            assert all(edge["node"]["trainingRecords"] is not None for edge in answer["data"]["employees"]["edges"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
