"""Benchmark: how long other requests wait while the hub scores, imports or collects a whole cycle.

    .venv/bin/python -m bench.event_loop [--employees 10000] [--cases idle,score,import,collect]
                                         [--database-url URL] [--repeat N] [--where] [--json FILE]
                                         [--gc-threshold N] [--switch-interval-ms MS]
                                         [--placement worker|in-process|both]

The hub (``create_app``) is served by uvicorn on a loopback port, in this process's event loop, as
``perfhub serve`` serves it. A thread of its own GETs ``/healthz`` every 10 ms over a kept-alive
connection and records how long each answer took, while one GraphQL mutation runs in the hub:

* ``idle``: nothing else (the baseline), for as long as ``--idle-seconds``;
* ``score``: ``cycleScore`` of the benchmark organisation's OPEN past cycle;
* ``import``: ``metricValuesImport`` of that cycle's metric values as CSV (every row replaces itself);
* ``collect``: ``cycleCollectMetrics`` of that cycle from the demo business systems, which run in a
  process of their own (as ``perfhub serve`` runs them in demo mode) and know every employee of the
  organisation.

The report gives the probes' p50, p99 and max latency per case and the ratio to the idle case. With
``--where``, another thread samples the event loop's stack whenever it has not run for 20 ms, and the
report lists where those stalls were spent. ``--gc-threshold`` and ``--switch-interval-ms`` tune the
process's garbage collector and GIL hand-over, to show what those would change.

The organisation is the one ``bench.scoring`` uses (the demo, widened to ``--indicators`` items per
scheme), seeded once and cached; every run works on a fresh copy of it (a server database given by
``--database-url`` is used in place and reset).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import io
import json
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from bench.dataset import (
    Dataset,
    Target,
    open_target,
    remove_sqlite,
    reset,
)
from bench.probe import Latencies, Probe, StallSampler, served
from connectors.config import parse_systems
from hub.app import create_app
from hub.auth import Role, issue_token
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import Employee, Indicator, IndicatorVersion, MetricValue
from hub.demo.systems import DemoSystems
from hub.demo.systems.apart import serve_demo_systems_apart

CASES = ("idle", "score", "import", "collect")
UNPLACED = ("idle", "collect")
"""Cases that run in the hub's own process whatever ``--placement`` says."""
JWT_SECRET = "perfhub-bench-only-secret-0123456789abcdef"
STALL_MS = 50.0  # a probe slower than this is counted as having met a stall
LEAD = 0.3  # seconds of probing before the mutation starts, so the probe's connection is warm

SCORE = "mutation($id: ID!) { cycleScore(cycleId: $id) { __typename ... on CycleScored { scored } } }"
IMPORT = (
    "mutation($id: ID!, $csv: String!) { metricValuesImport(cycleId: $id, csv: $csv) "
    "{ __typename ... on MetricValuesImported { imported replaced } } }"
)
COLLECT = (
    "mutation($id: ID!) { cycleCollectMetrics(cycleId: $id) "
    "{ __typename ... on MetricsCollected { stored updated unchanged missing { employeeNo } } } }"
)


def say(message: str) -> None:
    print(f"[bench.event_loop] {message}", flush=True)


@dataclass(slots=True)
class CaseRuns:
    """Every run of one case: the probes' latencies, the mutation's seconds, and what it answered."""

    latencies: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    failures: int = 0
    worst_at: list[float] = field(default_factory=list)
    """Per run: when its slowest probe was sent, in seconds after the mutation started."""
    where: Counter[tuple[str, str]] = field(default_factory=Counter)
    elsewhere: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def figures(self) -> Latencies:
        return Latencies(self.latencies)


async def metric_csv(url: str, cycle_id: int) -> str:
    """The cycle's stored metric values as an import file: importing it replaces every value by itself."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Employee.employee_no, Indicator.code, MetricValue.value)
                .join(Employee, Employee.id == MetricValue.employee_id)
                .join(IndicatorVersion, IndicatorVersion.id == MetricValue.indicator_version_id)
                .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
                .where(MetricValue.cycle_id == cycle_id)
                .order_by(MetricValue.id)
            )
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("employee_no", "indicator", "value"))
            writer.writerows(rows)
    finally:
        await engine.dispose()
    return out.getvalue()


Mutation = Callable[[httpx.AsyncClient], Awaitable[str]]


def mutation(document: str, variables: dict[str, Any], summary: Callable[[dict[str, Any]], str]) -> Mutation:
    async def run(client: httpx.AsyncClient) -> str:
        response = await client.post("/graphql", json={"query": document, "variables": variables})
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"the mutation failed: {response.status_code} {body}")
        (payload,) = body["data"].values()
        return summary(payload)

    return run


def _collected(payload: dict[str, Any]) -> str:
    counts = {key: payload.get(key) for key in ("stored", "updated", "unchanged")}
    return f"{payload['__typename']} {counts} missing {len(payload.get('missing', []))}"


@asynccontextmanager
async def hub_at(url: str, demo: DemoSystems | None, *, worker: bool) -> AsyncIterator[httpx.AsyncClient]:
    """The hub on ``url``'s database, served on loopback; yields a client signed in as hr_admin. ``worker``:
    scoring and imports run in the hub's worker process (``perfhub serve``'s default), else in this one."""
    settings = Settings(
        database_url=url,
        demo=False,
        jwt_secret=SecretStr(JWT_SECRET),
        rate_limit_per_second=0,
        max_body_bytes=256 * 2**20,  # the import case posts every value of the cycle at once
        graphiql=False,
        log_level="warning",
        worker_process=worker,
    )
    systems = None if demo is None else parse_systems(demo.config(), demo.secrets)
    token = issue_token(settings, role=Role.HR_ADMIN, subject="bench")
    async with (
        served(create_app(settings, systems=systems)) as base,
        httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600, trust_env=False
        ) as client,
    ):
        for _ in range(3):  # warm: the first GraphQL request builds caches, the first connection handshakes
            (await client.get("/healthz")).raise_for_status()
            (await client.post("/graphql", json={"query": "{ __typename }"})).raise_for_status()
        yield client


async def one_run(
    target: Target,
    case: str,
    job: Mutation | None,
    args: argparse.Namespace,
    demo: DemoSystems | None,
    kept: CaseRuns,
    *,
    worker: bool,
) -> Latencies:
    """One run of ``case`` on a fresh hub and database; adds what it saw to ``kept``, returns its latencies."""
    url, copy = target.fresh()
    try:
        async with hub_at(url, demo, worker=worker) as client:
            probe = Probe(str(client.base_url.join("/healthz")), args.interval_ms / 1000)
            sampler = StallSampler(threading.get_ident()) if args.where else None
            beating = asyncio.create_task(sampler.heartbeat()) if sampler else None
            probe.start()
            if sampler:
                sampler.start()
            await asyncio.sleep(LEAD)
            started = time.perf_counter()
            answer = "-"
            if job is None:
                await asyncio.sleep(args.idle_seconds)
            else:
                answer = await job(client)
            ended = time.perf_counter()
            await asyncio.sleep(0.05)
            probe.stop()
            if sampler and beating:
                sampler.stop()
                await beating
                kept.where.update(sampler.places)
                kept.elsewhere.update(sampler.elsewhere)
        if copy is None and case == "score":
            engine = create_engine(url)
            try:
                await reset(create_sessionmaker(engine), target.dataset.past_cycle_id)
            finally:
                await engine.dispose()
    finally:
        if copy is not None:
            remove_sqlite(copy)
    latencies = probe.between(started, ended)
    during = [(ms, sent - started) for sent, ms in probe.samples if started <= sent <= ended]
    kept.worst_at.append(max(during)[1] if during else 0.0)
    kept.latencies += latencies.samples
    kept.seconds.append(ended - started)
    kept.answers.append(answer)
    kept.failures += probe.failures
    return latencies


async def jobs(target: Target, cases: list[str]) -> dict[str, Mutation | None]:
    cycle = target.dataset.past_cycle_id
    found: dict[str, Mutation | None] = {}
    for case in cases:
        if case == "idle":
            found[case] = None
        elif case == "score":
            found[case] = mutation(SCORE, {"id": str(cycle)}, lambda p: f"{p['__typename']} scored {p.get('scored')}")
        elif case == "import":
            text = await metric_csv(target.dataset.url, cycle)
            say(f"import file: {text.count(chr(10)) - 1:,} rows, {len(text) / 2**20:.1f} MiB")
            found[case] = mutation(IMPORT, {"id": str(cycle), "csv": text}, lambda p: f"{p}")
        else:
            found[case] = mutation(COLLECT, {"id": str(cycle)}, _collected)
    return found


def report(dataset: Dataset, runs: dict[str, CaseRuns], args: argparse.Namespace) -> None:
    idle = runs["idle"].figures if "idle" in runs else None
    print()
    print(
        f"/healthz latency while the hub works: {dataset.employees:,} employees, "
        f"{dataset.items_per_scheme} items per scheme, a probe every {args.interval_ms} ms, "
        f"{args.repeat} run(s) per case"
    )
    print(
        "| case | mutation (s, median) | probes | p50 (ms) | p99 (ms) | max (ms) "
        f"| probes > {STALL_MS:g} ms | p99 / idle p99 | max / idle max |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, case_runs in runs.items():
        lat = case_runs.figures
        seconds = f"{statistics.median(case_runs.seconds):.2f}" if case != "idle" else "—"
        ratios = ("—", "—")
        if idle is not None and case != "idle":
            ratios = (f"{lat.p99 / idle.p99:.1f}x", f"{lat.max / idle.max:.1f}x")
        print(
            f"| {case} | {seconds} | {len(lat.samples)} | {lat.p50:.1f} | {lat.p99:.1f} | {lat.max:.1f} "
            f"| {lat.over(STALL_MS)} | {ratios[0]} | {ratios[1]} |"
        )
    for case, case_runs in runs.items():
        print(f"\n{case}: answers {sorted(set(case_runs.answers))}; failed probes {case_runs.failures}")
        if case_runs.where:
            total = sum(case_runs.where.values())
            print(f"  where the loop was while stalled > 20 ms ({total} samples, 5 ms apart):")
            for (ours, innermost), count in case_runs.where.most_common(args.where_top):
                print(f"  {count:6d}  {ours:55s} {innermost}")
            print("  and where the other threads were meanwhile:")
            for (ours, innermost), count in case_runs.elsewhere.most_common(args.where_top):
                print(f"  {count:6d}  {ours:55s} {innermost}")


async def main_async(args: argparse.Namespace) -> int:
    target = await open_target(args, say)
    cases = [case.strip() for case in args.cases.split(",")]
    work = await jobs(target, cases)
    placements = {"worker": [True], "in-process": [False], "both": [True, False]}[args.placement]

    # Score and import in each placement: "score (worker)", "score (in process)". Idle has no work, and
    # collect runs in the hub's process either way (it fetches through the hub's connectors).
    def named(case: str, worker: bool) -> str:
        return case if case in UNPLACED else f"{case} ({'worker' if worker else 'in process'})"

    plans = [
        (case, worker, named(case, worker))
        for case in cases
        for worker in (placements[:1] if case in UNPLACED else placements)
    ]
    runs = {name: CaseRuns() for _case, _worker, name in plans}
    async with AsyncExitStack() as stack:
        demo = None
        if "collect" in cases:
            say(f"starting the demo business systems for {args.employees:,} employees")
            # In a process of their own, as `perfhub serve` runs them, knowing the benchmark's organisation.
            demo = await stack.enter_async_context(serve_demo_systems_apart(args.seed, target.dataset.url))
        for n in range(1, args.repeat + 1):
            for case, worker, name in plans:  # they alternate, so that a slow spell hits all of them
                kept = runs[name]
                latencies = await one_run(target, case, work[case], args, demo, kept, worker=worker)
                say(
                    f"run {n}/{args.repeat} {name}: {kept.seconds[-1]:.2f} s, {len(latencies.samples)} probes, "
                    f"p99 {latencies.p99:.1f} ms, max {latencies.max:.1f} ms at +{kept.worst_at[-1]:.2f} s "
                    f"({kept.answers[-1]})"
                )
    report(target.dataset, runs, args)
    if args.json is not None:
        # Raw probe latencies, so that runs made apart (say, before and after a change, taking turns on
        # a shared machine) can be pooled and compared.
        saved = {case: {"latencies_ms": r.latencies, "seconds": r.seconds} for case, r in runs.items()}
        args.json.write_text(json.dumps({"employees": args.employees, "cases": saved}), encoding="utf-8")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.event_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--indicators", type=int, default=10, help="items per scheme (as bench.scoring)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case; their probes are pooled")
    parser.add_argument("--interval-ms", type=int, default=10, help="between two /healthz probes")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="how long the idle case probes")
    parser.add_argument("--database-url", help="a SQLite file (seeded once, copied per run) or a server database")
    parser.add_argument("--rebuild", action="store_true", help="seed again even if a cached file exists")
    parser.add_argument("--where", action="store_true", help="sample where the loop is while it stalls")
    parser.add_argument("--where-top", type=int, default=15, help="how many stall places to list")
    parser.add_argument("--switch-interval-ms", type=float, help="sys.setswitchinterval for the process (in ms)")
    parser.add_argument("--gc-threshold", type=int, help="gc.set_threshold's first value for the process")
    parser.add_argument("--json", type=Path, help="also write every probe's latency, per case, to this file")
    parser.add_argument(
        "--placement",
        choices=("worker", "in-process", "both"),
        default="both",
        help="where score and import run: the hub's worker process, the hub's own, or each in turn",
    )
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; known: {', '.join(CASES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.switch_interval_ms is not None:
        # How often a thread holding the GIL is made to hand it over (CPython's default: 5 ms). The
        # event loop's thread waits up to that long, at every system call, while a worker computes.
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    if args.gc_threshold is not None:
        # A full collection holds the GIL for as long as it takes to traverse every tracked object
        # (hundreds of ms while a big cycle is in memory); a larger first threshold makes them rarer.
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
