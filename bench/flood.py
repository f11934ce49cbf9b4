"""An hr_admin's latency while one abuser floods the served hub: anonymous, then a single principal.

``python -m bench.flood`` starts ``perfhub serve`` on a loopback port (the demo organisation, default
limits), times an hr_admin page alone, then while flood processes send, as fast as the hub answers:

* ``anonymous``: 30 aliased ``__schema`` queries per request without a token (the issue's attack);
* ``analyst``: one analyst's token, an expensive query (estimated cost ~37,000) over and over;
* ``subscriber``: one analyst's token, hundreds of subscriptions on as many sockets.

It prints the hr_admin p50 under each flood and its ratio to the unloaded p50 (the goal: under 2x), and
what the flood got back (statuses, refusals). The flood runs in other processes, so that the client's own
work does not delay the timed requests; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from graphql import OperationDefinitionNode, get_introspection_query, parse, print_ast
from pydantic import SecretStr

from hub.auth import Role, issue_token
from hub.config import Settings
from tests.served.hub_process import spawn_serve  # started the way the served tests start it

HR_ADMIN_PAGE = "{ employees(first: 20) { edges { node { name department { name } results { totalScore grade } } } } }"
EXPENSIVE = """{ employees(first: 300) { edges { node { id
  results { totalScore indicatorScores { normalizedScore } } } } } }"""
SUBSCRIPTION = "subscription { resultPublished { eventId } }"


def aliased_introspection(aliases: int = 30) -> str:
    """GraphiQL's introspection query's ``__schema`` selection under ``aliases`` aliases, with its fragments."""
    full = parse(get_introspection_query())
    operation = full.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    schema_field = print_ast(operation.selection_set.selections[0])
    fragments = "\n".join(print_ast(definition) for definition in full.definitions[1:])
    return "query {" + " ".join(f"a{n}: {schema_field}" for n in range(aliases)) + "}\n" + fragments


@dataclass
class ServedHub:
    """``perfhub serve`` in a subprocess on a fresh demo database; tokens signed with its secret."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def settings(self) -> Settings:
        return Settings(jwt_secret=SecretStr(self.secret), demo=False)

    def token(self, role: Role, subject: str) -> str:
        return issue_token(self.settings, role=role, subject=subject)

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PERFHUB_")}
        env |= {
            "PERFHUB_DATABASE_URL": f"sqlite+aiosqlite:///{self.folder / 'flood.db'}",
            "PERFHUB_JWT_SECRET": self.secret,
            "PERFHUB_LOG_LEVEL": "warning",
            **self.env,
        }
        self.process = spawn_serve(self.port, self.folder, env, self.folder / "perfhub-serve.log")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("perfhub serve did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)


@contextmanager
def served(env: dict[str, str]) -> Iterator[ServedHub]:
    with tempfile.TemporaryDirectory(prefix="perfhub-flood-") as folder:
        hub = ServedHub(Path(folder), env)
        try:
            hub.start()
            yield hub
        finally:
            hub.stop()


# --- The flood, in other processes ---------------------------------------------------------------------


async def _http_flood(url: str, body: str, token: str | None, seconds: float, connections: int) -> Counter[str]:
    statuses: Counter[str] = Counter()
    headers = {"content-type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                response = await client.post(url, content=body, headers=headers)
                statuses[str(response.status_code)] += 1
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return statuses


async def _subscription_flood(url: str, token: str, seconds: float, sockets: int) -> Counter[str]:
    from websockets.asyncio.client import connect

    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def one(number: int) -> None:
        try:
            async with connect(url.replace("http", "ws"), subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                await ws.recv()
                await ws.send(json.dumps({"type": "subscribe", "id": str(number), "payload": {"query": SUBSCRIPTION}}))
                first = json.loads(await ws.recv())
                code = (
                    (first.get("payload") or [{}])[0].get("extensions", {}).get("code")
                    if first["type"] == "error"
                    else None
                )
                answers[code or first["type"]] += 1
                while time.monotonic() < deadline:  # hold the subscription (and read what it delivers)
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=max(0.01, deadline - time.monotonic()))
                    except TimeoutError:
                        break
        except Exception as error:  # a refused or dropped socket is a result of the flood, counted
            answers[type(error).__name__] += 1

    await asyncio.gather(*(one(number) for number in range(sockets)))
    return answers


def _flood_process(
    kind: str, url: str, token: str | None, seconds: float, size: int, results: multiprocessing.Queue[dict[str, int]]
) -> None:
    if kind == "subscriber":
        assert token is not None
        counted = asyncio.run(_subscription_flood(url, token, seconds, size))
    else:
        body = json.dumps({"query": aliased_introspection() if kind == "anonymous" else EXPENSIVE})
        counted = asyncio.run(_http_flood(url, body, token, seconds, size))
    results.put(dict(counted))


# --- The timed hr_admin requests -----------------------------------------------------------------------


def time_hr_admin(url: str, token: str, seconds: float, interval: float) -> tuple[list[float], Counter[int]]:
    """hr_admin's page, one request at a time every ``interval`` s for ``seconds``: latencies (ms), statuses."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": HR_ADMIN_PAGE}
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post(url, json=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            ok = response.status_code == 200 and "errors" not in response.json()
            statuses[response.status_code if ok else -response.status_code] += 1
            time.sleep(interval)
    return latencies, statuses


@dataclass(frozen=True)
class Scenario:
    name: str
    p50_ms: float
    hr_admin: dict[int, int]
    flood: dict[str, int]


def run_scenario(hub: ServedHub, kind: str | None, *, seconds: float, processes: int, size: int) -> Scenario:
    admin = hub.token(Role.HR_ADMIN, "bench-hr-admin")
    flooder = None if kind in (None, "anonymous") else hub.token(Role.ANALYST, "bench-analyst")
    results: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_flood_process, args=(kind, hub.url, flooder, seconds + 2, size, results))
        for _ in range(processes if kind else 0)
    ]
    for worker in workers:
        worker.start()
    if workers:
        time.sleep(1.5)  # the flood under way before the first timed request
    latencies, statuses = time_hr_admin(hub.url, admin, seconds, interval=0.05)
    flood: Counter[str] = Counter()
    for worker in workers:
        flood.update(results.get(timeout=120))
        worker.join(30)
    return Scenario(kind or "unloaded", statistics.median(latencies), dict(statuses), dict(flood))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.flood", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="timed hr_admin requests per scenario")
    parser.add_argument("--processes", type=int, default=2, help="flood processes per scenario")
    parser.add_argument("--connections", type=int, default=8, help="concurrent HTTP requests per flood process")
    parser.add_argument("--sockets", type=int, default=200, help="subscription sockets per flood process")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--hub-env", action="append", default=[], metavar="PERFHUB_X=VALUE", help="a setting for the served hub"
    )
    args = parser.parse_args(argv)
    scenarios: list[Scenario] = []
    with served(dict(setting.split("=", 1) for setting in args.hub_env)) as hub:
        # The hub's first requests warm its caches: not part of any scenario.
        time_hr_admin(hub.url, hub.token(Role.HR_ADMIN, "bench-warm-up"), 2.0, interval=0.05)
        scenarios.append(run_scenario(hub, None, seconds=args.seconds, processes=0, size=0))
        floods = (("anonymous", args.connections), ("analyst", args.connections), ("subscriber", args.sockets))
        for kind, size in floods:
            scenarios.append(run_scenario(hub, kind, seconds=args.seconds, processes=args.processes, size=size))
        # Unloaded again at the end: the machine's own load drifts (other processes), and the two tell how much.
        again = run_scenario(hub, None, seconds=args.seconds, processes=0, size=0)
        scenarios.append(Scenario("unloaded2", again.p50_ms, again.hr_admin, again.flood))
    unloaded = (scenarios[0].p50_ms + scenarios[-1].p50_ms) / 2
    print(f"hr_admin p50 unloaded (mean of the first and last windows): {unloaded:.1f} ms")
    print(f"{'scenario':<12} {'hr_admin p50':>13} {'ratio':>6}  hr_admin answers   flood answers")
    for scenario in scenarios:
        print(
            f"{scenario.name:<12} {scenario.p50_ms:>10.1f} ms {scenario.p50_ms / unloaded:>5.2f}x"
            f"  {scenario.hr_admin}   {scenario.flood}"
        )
    if args.json:
        args.json.write_text(json.dumps([scenario.__dict__ for scenario in scenarios], indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
