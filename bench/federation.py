"""Benchmark: slow business systems are waited for together, as a ratio to one slow system in the same run.

    .venv/bin/python -m bench.federation [--latency-ms 100] [--repeat 5]

The five demo business systems (``serve_demo_systems``) run on loopback HTTP in this process; the hub
(``create_app``, driven through ``httpx.ASGITransport``, so the hub itself is in process) reaches them
through the demo's systems file with the connectors' cache fresh for 0 s, so every run calls them. The
organisation is the demo's (``build_demo``, seed 7, 120 employees), seeded into a temporary SQLite file.
Every system can be made slow by ``latency_ms``, added to each request it serves.

* page: one GraphQL page of ``PAGE_SIZE`` employees with ``trainingRecords { id }`` and
  ``compensationRecords { id }``: the training (xAPI) and payroll (OData) systems. Runs: no latency,
  training slow, payroll slow, both slow.
* collect: ``collect_metrics`` of the current OPEN cycle: finance, security and tickets. Runs: no
  latency, each of the three slow alone, all three slow.

Every run is timed once per repetition, in a rotating order, after one untimed warm-up of each; the
medians are reported. The baseline is the run without latency. The ratio is the extra time with every
system slow over the extra time with the slowest single system slow: close to 1 when the systems are
waited for concurrently, the sum of the single extras over the largest one when they are waited for in
turn (2 for two systems as slow as each other, 3 for three).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from connectors.base import Period
from connectors.config import parse_systems
from hub.app import Resources, create_app
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.build import build_demo
from hub.demo.organisation import SeedSummary
from hub.demo.systems import DemoSystems, serve_demo_systems
from hub.operations.collect import CollectReport, CycleCollectMetrics, collect_metrics
from hub.operations.commands import Caller

SEED = 7
EMPLOYEES = 120
TODAY = dt.date(2026, 11, 16)  # the tests' date: the demo's current cycle is OPEN on it
PAGE_SIZE = 50
JWT_SECRET = "perfhub-bench-only-secret-0123456789abcdef"
PAGE = """
query($first: Int) {
  employees(first: $first) {
    edges { node { employeeNo trainingRecords { id } compensationRecords { id } } }
  }
}
"""
PAGE_SYSTEMS = ("training", "payroll")
COLLECT_SYSTEMS = ("finance", "security", "tickets")


def say(message: str) -> None:
    print(f"[bench.federation] {message}", flush=True)


@dataclass(frozen=True, slots=True)
class Case:
    """One configuration of a scenario: which systems are slow."""

    slow: tuple[str, ...]

    @property
    def label(self) -> str:
        return " + ".join(self.slow) if self.slow else "none (baseline)"


@dataclass(slots=True)
class Timings:
    """A case's timed runs and the upstream requests each system got per run (the same every run)."""

    seconds: list[float] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


Run = Callable[[], Awaitable[None]]


def slow_down(demo: DemoSystems, slow: Sequence[str], latency_ms: int) -> None:
    for system, faults in demo.faults.items():
        faults.latency_ms = latency_ms if system in slow else 0


def requests(demo: DemoSystems) -> dict[str, int]:
    return {system: faults.requests for system, faults in demo.faults.items()}


async def measure(
    demo: DemoSystems, cases: list[Case], run: Run, *, latency_ms: int, repeat: int
) -> dict[Case, Timings]:
    """Warms every case up once (untimed), then times each ``repeat`` times in a rotating order."""
    timings = {case: Timings() for case in cases}
    for case in cases:
        slow_down(demo, case.slow, latency_ms)
        await run()
    for n in range(repeat):
        for case in cases[n % len(cases) :] + cases[: n % len(cases)]:
            slow_down(demo, case.slow, latency_ms)
            before = requests(demo)
            started = time.perf_counter()
            await run()
            seconds = time.perf_counter() - started
            after = requests(demo)
            spent = {system: after[system] - before[system] for system in after if after[system] != before[system]}
            recorded = timings[case]
            if recorded.seconds and spent != recorded.requests:
                say(f"{case.label}: upstream requests changed between runs: {recorded.requests} -> {spent}")
            recorded.seconds.append(seconds)
            recorded.requests = spent
    slow_down(demo, (), 0)
    return timings


def page_run(client: httpx.AsyncClient) -> Run:
    async def run() -> None:
        response = await client.post("/graphql", json={"query": PAGE, "variables": {"first": PAGE_SIZE}})
        body = response.json()
        edges = (body.get("data") or {}).get("employees", {}).get("edges", [])
        if response.status_code != 200 or body.get("errors") or len(edges) != PAGE_SIZE:
            raise RuntimeError(f"the page failed ({response.status_code}): {str(body)[:500]}")

    return run


def collect_run(resources: Resources, cycle_id: int, reports: list[CollectReport]) -> Run:
    systems: Any = resources.systems

    def lookup(system: str, metric: str) -> Any:  # as resolvers.mutations._metric_lookup does
        source = systems.metric_source(metric)
        return source if source is not None and source.system == system else None

    async def run() -> None:
        reports.append(
            await collect_metrics(
                resources.sessionmaker,
                CycleCollectMetrics(cycle_id),
                Caller("test"),
                sources=lookup,
                make_period=Period,
            )
        )

    return run


def report(title: str, timings: Mapping[Case, Timings], systems: Sequence[str], latency_ms: int) -> None:
    """Prints the table and the ratios of one scenario."""
    cases = list(timings)
    base = timings[cases[0]].median
    print()
    print(f"{title}: median of {len(timings[cases[0]].seconds)} runs, {latency_ms} ms added per request")
    print("| slow systems | median (ms) | min-max (ms) | extra over baseline (ms) | upstream requests per run |")
    print("|---|---:|---:|---:|---|")
    for case, timing in timings.items():
        spent = ", ".join(f"{system} {timing.requests.get(system, 0)}" for system in systems)
        print(
            f"| {case.label} | {timing.median * 1000:.0f} | {min(timing.seconds) * 1000:.0f}-"
            f"{max(timing.seconds) * 1000:.0f} | {(timing.median - base) * 1000:+.0f} | {spent} |"
        )
    singles = {case.slow[0]: timings[case].median - base for case in cases if len(case.slow) == 1}
    every = timings[cases[-1]].median - base
    slowest = max(singles, key=lambda system: singles[system])
    in_turn = sum(singles.values()) / singles[slowest]
    print()
    print(f"every system slow: {every * 1000:+.0f} ms, {every * 1000 / latency_ms:.2f}x the added latency")
    for system, extra in singles.items():
        print(f"only {system} slow: {extra * 1000:+.0f} ms, {extra * 1000 / latency_ms:.2f}x the added latency")
    print(
        f"ratio (all slow - baseline) / ({slowest} slow - baseline): {every / singles[slowest]:.2f} "
        f"(concurrent: ~1.00; waited for in turn: ~{in_turn:.2f}, the sum of the single extras over {slowest}'s)"
    )


async def seeded(path: Path) -> SeedSummary:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        return await build_demo(create_sessionmaker(engine), seed=SEED, employees=EMPLOYEES, today=TODAY)
    finally:
        await engine.dispose()


def systems_config(demo: DemoSystems) -> dict[str, Any]:
    """The demo's systems file with the cache fresh for 0 s: every run calls the systems."""
    config = demo.config()
    return {**config, "defaults": {**config["defaults"], "cache_ttl": 0}}


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="perfhub-bench-federation-") as directory:
        path = Path(directory) / "perfhub.db"
        summary = await seeded(path)
        say(f"seeded the demo ({EMPLOYEES} employees, seed {SEED}); current cycle {summary.current_cycle_id}")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}",
            demo=False,
            jwt_secret=SecretStr(JWT_SECRET),
            rate_limit_per_second=0,
            connector_cache_url=None,
        )
        async with serve_demo_systems(SEED, EMPLOYEES) as demo:
            app: Starlette = create_app(
                settings, clock=lambda: TODAY, systems=parse_systems(systems_config(demo), demo.secrets)
            )
            async with app.router.lifespan_context(app):
                token = issue_token(settings, role=Role.HR_ADMIN, subject="bench")
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://perfhub.bench",
                    headers={"Authorization": f"Bearer {token}"},
                ) as client:
                    page_cases = [Case(()), *(Case((system,)) for system in PAGE_SYSTEMS), Case(PAGE_SYSTEMS)]
                    say("page runs")
                    page = await measure(
                        demo, page_cases, page_run(client), latency_ms=args.latency_ms, repeat=args.repeat
                    )
                reports: list[CollectReport] = []
                collect_cases = [Case(()), *(Case((system,)) for system in COLLECT_SYSTEMS), Case(COLLECT_SYSTEMS)]
                say("collect runs")
                collect = await measure(
                    demo,
                    collect_cases,
                    collect_run(app.state.resources, summary.current_cycle_id, reports),
                    latency_ms=args.latency_ms,
                    repeat=args.repeat,
                )
    report(
        f"A page of {PAGE_SIZE} employees with training and compensation records", page, PAGE_SYSTEMS, args.latency_ms
    )
    report(f"Collecting the OPEN cycle's metrics ({EMPLOYEES} employees)", collect, COLLECT_SYSTEMS, args.latency_ms)
    first, last = reports[0], reports[-1]
    print(
        f"\ncollect: first (warm-up) run stored {first.stored}, updated {first.updated}, unchanged {first.unchanged}; "
        f"last run stored {last.stored}, updated {last.updated}, unchanged {last.unchanged}; "
        f"missing per run {sorted({len(r.missing) for r in reports})}"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.federation", description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=100, help="added to every request of a slow system")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each case; the median is reported")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.latency_ms < 1:
        parser.error("--latency-ms must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse_args())))
