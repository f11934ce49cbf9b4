"""Benchmark: the result stream as served, against a bare WebSocket endpoint sending the same events (issue 14).

    .venv/bin/python -m bench.events [--quick] [--events N] [--publish N] [--subscribers N] [--rounds R]
        [--output FILE]

On PostgreSQL (``PERFHUB_BENCH_DATABASE_URL``, else ``PERFHUB_TEST_DATABASE_URL``, else the local server's
``postgres`` database: the bench creates its own database beside it and drops it) it seeds the demo
organisation (200 employees, a published cycle), then fills the outbox to ``--events`` events with one
``INSERT ... SELECT`` (the events point at the published cycle's results in turn: each page of the stream
reads as many results as it would for distinct ones). Two servers run on loopback, each a process of its
own: ``perfhub serve`` (no demo systems; subscription limits off, so that one client may hold them all) and
``bench.events_baseline`` under uvicorn (hand-written Starlette: asyncpg pages of 5,000, one live reader,
each event encoded once). Both are read by the client consumers use, gql over graphql-transport-ws, with
the event shape's selection (``tests/served/test_event_shape.py``); the first events each side sends are
checked equal before any timing. Then, alternating the sides ``--rounds`` times:

(a) replay: one subscriber reads the whole outbox from the start (after = null); events per second;
(b) fan-out: ``--subscribers`` subscribers, each caught up (it has received the newest event), then one
    transaction writes ``--publish`` events and NOTIFY, as ``cyclePublish`` does; every delivery's time from
    the commit to its arrival (p50, p99, the last) and deliveries per second.

The report gives each side's medians and perfhub / bare. ``--quick``: 10,000 events, a publish of 500 to 20
subscribers, one round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from pydantic import SecretStr
from sqlalchemy import make_url

from bench.served import _admin, free_port, seed
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.events.watcher import CHANNEL
from hub.webhooks.signing import event_cursor

SECRET = "perfhub-bench-only-secret-0123456789abcdef"
EMPLOYEES = 200
POSTGRES = os.environ.get(
    "PERFHUB_BENCH_DATABASE_URL",
    os.environ.get("PERFHUB_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
)
SHAPE = (
    "eventId type occurredAt cursor resultId cycle { id name periodStart periodEnd } period { start end } "
    "employeeId employeeNo postId postFamily departmentId totalScore grade calibrated "
    "indicatorScores { indicatorCode indicatorName category version rawValue normalizedScore weight }"
)
STREAM = "subscription($after: String) { resultPublished(after: $after) { " + SHAPE + " } }"
FILL = """
WITH pool AS (
    SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, cycle_id, employee_id
    FROM appraisal_results WHERE cycle_id = (SELECT max(cycle_id) FROM result_events)
), size AS (SELECT count(*) AS k FROM pool)
INSERT INTO result_events (event_id, type, cycle_id, result_id, employee_id, occurred_at)
SELECT gen_random_uuid()::text, 'result.published', pool.cycle_id, pool.id, pool.employee_id, now()
FROM generate_series(0, $1 - 1) AS g, size, pool
WHERE pool.n = g % size.k
ORDER BY g
"""
"""``count`` more events, in the outbox's order, over the published cycle's results in turn."""


def say(message: str) -> None:
    print(f"[bench.events] {message}", file=sys.stderr, flush=True)


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def write_events(url: str, count: int, notify: bool) -> float:
    """Appends ``count`` events in one transaction (and NOTIFY, as publishing does); the commit's time."""
    connection = await asyncpg.connect(dsn(url))
    try:
        async with connection.transaction():
            await connection.execute(FILL, count)
            if notify:
                await connection.execute(f"NOTIFY {CHANNEL}")
        return time.perf_counter()
    finally:
        await connection.close()


async def newest_cursor(url: str) -> tuple[int, str | None]:
    """How many events of the stream the outbox holds, and the cursor just before its newest (what a caught-up
    subscriber resumes from: it receives the newest at once, which says it is live)."""
    connection = await asyncpg.connect(dsn(url))
    try:
        # The stream's events: the demo's publish also writes training.need events, which a stream without a
        # types filter does not carry (and the baseline does not send).
        count, newest = await connection.fetchrow(
            "SELECT count(*), max(id) FROM result_events WHERE type IN ('result.published', 'result.revised')"
        )
    finally:
        await connection.close()
    return count, event_cursor(newest - 1)


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"perfhub_bench_events_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        asyncio.run(seed(url, EMPLOYEES))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], ready: str) -> Iterator[int]:
    """A server process on a free port (``{port}`` in ``command``), until ``ready`` answers; yields the port."""
    port = free_port()
    child = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=5).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start")
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)


def client(port: int, token: str) -> Client:
    transport = WebsocketsTransport(
        url=f"ws://127.0.0.1:{port}/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        connect_args={"max_size": 2**24},
    )
    return Client(transport=transport)


async def receive(port: int, token: str, after: str | None, count: int, times: list[float] | None = None) -> list[Any]:
    """The next ``count`` events after ``after``; with ``times``, each arrival's time instead of the events."""
    kept: list[Any] = []
    got = 0
    async with client(port, token) as session:
        async for data in session.subscribe(GraphQLRequest(STREAM, variable_values={"after": after})):
            got += 1
            if times is None:
                kept.append(data["resultPublished"])
            else:
                times.append(time.perf_counter())
            if got == count:
                return kept
    raise RuntimeError("the stream ended early")


@dataclass
class Side:
    name: str
    port: int
    replay: list[float] = field(default_factory=list)
    """Events per second, one per round."""
    fanout: list[dict[str, float]] = field(default_factory=list)


async def replay(side: Side, token: str, events: int) -> None:
    started, arrivals = time.perf_counter(), list[float]()
    await receive(side.port, token, None, events, times=arrivals)  # timed to the last arrival, not the close
    side.replay.append(events / (arrivals[-1] - started))
    say(f"(a) {side.name}: {side.replay[-1]:,.0f} events/s")


async def fanout(side: Side, url: str, token: str, subscribers: int, publish: int) -> None:
    _, before_newest = await newest_cursor(url)
    arrivals: list[list[float]] = [[] for _ in range(subscribers)]
    caught_up = [asyncio.Event() for _ in range(subscribers)]

    async def one(index: int) -> None:
        times = arrivals[index]
        async with client(side.port, token) as session:
            request = GraphQLRequest(STREAM, variable_values={"after": before_newest})
            async for _ in session.subscribe(request):
                if not caught_up[index].is_set():
                    caught_up[index].set()  # the newest event: live from here
                    continue
                times.append(time.perf_counter())
                if len(times) == publish:
                    return

    tasks = [asyncio.create_task(one(index)) for index in range(subscribers)]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in caught_up)), 300)
    committed = await write_events(url, publish, notify=True)
    await asyncio.wait_for(asyncio.gather(*tasks), 3600)
    latencies = sorted(moment - committed for times in arrivals for moment in times)
    figures = {
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "last": latencies[-1],
        "rate": len(latencies) / latencies[-1],
    }
    side.fanout.append(figures)
    say(f"(b) {side.name}: p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, {figures['rate']:,.0f} deliveries/s")


async def check(perfhub: Side, bare: Side, token: str) -> None:
    """Both sides send the same events (every field, every value): else the timings compare different work."""
    ours = await receive(perfhub.port, token, None, 300)
    theirs = await receive(bare.port, token, None, 300)
    if ours != theirs:
        first = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs))
        )
        mine, bare_one = ours[first : first + 1], theirs[first : first + 1]
        raise RuntimeError(f"the sides differ at event {first}:\n perfhub {mine}\n bare    {bare_one}")


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def report(args: argparse.Namespace, perfhub: Side, bare: Side, commit: str) -> list[str]:
    packages = ("strawberry-graphql", "graphql-core", "sqlalchemy", "asyncpg", "uvicorn", "starlette", "gql")
    ours, theirs = median(perfhub.replay), median(bare.replay)
    lines = [
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        f"- Python {platform.python_version()}; " + ", ".join(f"{name} {version(name)}" for name in packages),
        f"- perfhub at {commit}; PostgreSQL; client gql (graphql-transport-ws) in the bench's process; "
        f"{args.rounds} round(s), alternating",
        "",
        "| case | perfhub | bare Starlette + asyncpg | perfhub / bare |",
        "|---|---:|---:|---:|",
        f"| (a) replay of {args.events:,} events to one subscriber, events/s | {ours:,.0f} | {theirs:,.0f} | "
        f"{ours / theirs:.2f} |",
    ]
    for figure, label in (("rate", "deliveries/s"), ("p50", "p50 s"), ("p99", "p99 s"), ("last", "last s")):
        a = median([run[figure] for run in perfhub.fanout])
        b = median([run[figure] for run in bare.fanout])
        lines.append(
            f"| (b) publish of {args.publish:,} to {args.subscribers:,} subscribers, {label} | {a:,.2f} | "
            f"{b:,.2f} | {a / b:.2f} |"
        )
    return [*lines, ""]


async def run_rounds(args: argparse.Namespace, url: str, perfhub: Side, bare: Side, token: str) -> None:
    await check(perfhub, bare, token)
    say("both sides send the same events; timing")
    for round_ in range(args.rounds):
        for side in (perfhub, bare) if round_ % 2 == 0 else (bare, perfhub):
            await replay(side, token, args.events)
    for round_ in range(args.rounds):
        for side in (perfhub, bare) if round_ % 2 == 0 else (bare, perfhub):
            await fanout(side, url, token, args.subscribers, args.publish)


def main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    settings = Settings(database_url="sqlite://", jwt_secret=SecretStr(SECRET), demo=False)
    token = issue_token(settings, role=Role.PAYROLL, subject="bench")
    perfhub_bin = str(Path(sys.executable).parent / "perfhub")
    with database() as url:
        have, _ = asyncio.run(newest_cursor(url))
        asyncio.run(write_events(url, args.events - have, notify=False))
        say(f"the outbox holds {args.events:,} events")
        hub_env = {
            "PERFHUB_DATABASE_URL": url,
            "PERFHUB_JWT_SECRET": SECRET,
            "PERFHUB_DEMO": "false",
            "PERFHUB_DEMO_SYSTEMS": "false",
            "PERFHUB_WEBHOOKS": "false",
            "PERFHUB_RATE_LIMIT_PER_SECOND": "0",
            "PERFHUB_MAX_SUBSCRIPTIONS": "0",
            "PERFHUB_MAX_SUBSCRIPTIONS_PER_PROCESS": "0",
        }
        bare_command = [sys.executable, "-m", "uvicorn", "bench.events_baseline:create_app", "--factory"]
        bare_command += ["--port", "{port}", "--log-level", "warning"]
        with (
            process([perfhub_bin, "serve", "--port", "{port}"], hub_env, "/readyz") as hub_port,
            process(bare_command, {"BENCH_DATABASE_URL": url}, "/ready") as bare_port,
        ):
            perfhub, bare = Side("perfhub", hub_port), Side("bare", bare_port)
            asyncio.run(run_rounds(args, url, perfhub, bare, token))
    text = "\n".join(report(args, perfhub, bare, commit))
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


SIZES = {"events": (100_000, 10_000), "publish": (10_000, 500), "subscribers": (1_000, 20), "rounds": (2, 1)}
"""Each size's default, then its --quick value."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events; 500 to 20 subscribers; one round")
    for name, meaning in (
        ("events", "events in the outbox to replay"),
        ("publish", "events one publish writes"),
        ("subscribers", "live subscribers of the publish"),
        ("rounds", "timed runs per side, alternating"),
    ):
        parser.add_argument(f"--{name}", type=int, help=f"{meaning} (default {SIZES[name][0]:,})")
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        setattr(args, name, getattr(args, name) or (quick if args.quick else full))
    if args.events < 300 or min(args.publish, args.subscribers, args.rounds) < 1:
        parser.error("--events must be at least 300; --publish, --subscribers and --rounds at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main(parse_args()))
