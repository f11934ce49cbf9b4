"""Runs the five demo business systems on loopback HTTP, in the caller's event loop.

``async with serve_demo_systems(seed, employees) as demo:`` starts finance, security, tickets,
training and payroll, each a uvicorn server on a socket bound to port 0 (so that any number of hubs
and test runs share a machine without colliding), and stops them all on exit. ``demo`` tells their
URLs, fresh secrets and fault switches, and writes the systems file that points a hub at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict, TypeGuard

import uvicorn
from starlette.types import ASGIApp

from hub.demo.indicators import METRICS
from hub.demo.systems import finance, payroll, security, tickets, training
from hub.demo.systems.consumers import ConsumerSetup, DemoConsumers
from hub.demo.systems.faults import FaultInjection, Faults
from hub.demo.systems.roster import RosterSource, roster_source

# The environment variables the systems file names for each secret (docs/systems.example.toml).
FINANCE_TOKEN_ENV = "PERFHUB_FINANCE_TOKEN"
SECURITY_KEY_ENV = "PERFHUB_SECURITY_KEY"
TICKETS_CLIENT_ID_ENV = "PERFHUB_TICKETS_CLIENT_ID"
TICKETS_CLIENT_SECRET_ENV = "PERFHUB_TICKETS_CLIENT_SECRET"
TRAINING_USERNAME_ENV = "PERFHUB_LRS_KEY"
TRAINING_PASSWORD_ENV = "PERFHUB_LRS_SECRET"
PAYROLL_USERNAME_ENV = "PERFHUB_PAYROLL_USER"
PAYROLL_PASSWORD_ENV = "PERFHUB_PAYROLL_PASSWORD"
SECRET_ENVS = (
    FINANCE_TOKEN_ENV,
    SECURITY_KEY_ENV,
    TICKETS_CLIENT_ID_ENV,
    TICKETS_CLIENT_SECRET_ENV,
    TRAINING_USERNAME_ENV,
    TRAINING_PASSWORD_ENV,
    PAYROLL_USERNAME_ENV,
    PAYROLL_PASSWORD_ENV,
)

SYSTEMS = ("finance", "security", "tickets", "training", "payroll")
XAPI_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ACCOUNT_HOME_PAGE = "https://hr.perfhub.example"

# The same resilience defaults as docs/systems.example.toml.
DEFAULTS: Mapping[str, float | int] = {
    "timeout": 5.0,
    "retries": 3,
    "backoff": 0.2,
    "max_backoff": 10.0,
    "concurrency": 4,
    "cache_ttl": 300,
    "stale_ttl": 86400,
    "breaker_failures": 5,
    "breaker_reset": 30.0,
}

# Seconds a stopping server waits for requests in flight (a fault's latency, say) before it
# cancels them: stopping the demo should never hang on a slow test.
_GRACEFUL_SHUTDOWN = 2
_STARTUP_TIMEOUT = 10.0


class SystemsFile(TypedDict):
    """A systems file as ``tomllib`` parses it (docs/systems.example.toml); ``connectors.config`` checks it."""

    defaults: dict[str, float]
    systems: dict[str, dict[str, object]]


class ConsumerControl(Protocol):
    """Starts the demo consumers, in the systems' own process or event loop."""

    def start(self, setup: ConsumerSetup) -> None: ...


@dataclass(frozen=True, slots=True)
class DemoSystems:
    """The running demo systems: where they are, what they accept, and their fault switches."""

    urls: dict[str, str]  # system -> base URL of its server, e.g. http://127.0.0.1:40123
    faults: dict[str, Faults]  # system -> its live fault switches
    secrets: dict[str, str]  # environment variable name -> the secret it must hold
    consumers: ConsumerControl | None = None
    """Starts the training and payroll systems' consumption of perfhub's events (``consumers.py``)."""

    def config(self) -> SystemsFile:
        """The systems file (as tomllib would parse it) that points a hub at these systems."""
        return systems_config(self.urls)

    def write_config(self, path: str | os.PathLike[str]) -> None:
        """Writes :meth:`config` as TOML to ``path``."""
        header = (
            "# perfhub demo business systems on loopback, written by serve_demo_systems.\n"
            "# Every *_env key names an environment variable; the demo's secrets are fresh per start.\n\n"
        )
        Path(path).write_text(header + dumps_toml(self.config()), encoding="utf-8")


def systems_config(urls: Mapping[str, str]) -> SystemsFile:
    """The systems-file structure of docs/systems.example.toml for the demo systems at ``urls``."""
    metrics: dict[str, dict[str, object]] = {"finance": {}, "security": {}, "tickets": {}}
    for metric, profile in METRICS.items():
        metrics[profile.system][metric] = _metric_source(profile.system, metric)
    rest: dict[str, dict[str, object]] = {
        "finance": {
            "kind": "rest",
            "base_url": urls["finance"],
            "auth": {"type": "bearer", "token_env": FINANCE_TOKEN_ENV},
            "metrics": metrics["finance"],
        },
        "security": {
            "kind": "rest",
            "base_url": urls["security"],
            "auth": {"type": "api_key", "header": security.API_KEY_HEADER, "key_env": SECURITY_KEY_ENV},
            "metrics": metrics["security"],
        },
        "tickets": {
            "kind": "rest",
            "base_url": urls["tickets"],
            "auth": {
                "type": "oauth2",
                "token_url": "/oauth/token",
                "client_id_env": TICKETS_CLIENT_ID_ENV,
                "client_secret_env": TICKETS_CLIENT_SECRET_ENV,
                "scope": tickets.SCOPE,
            },
            "metrics": metrics["tickets"],
        },
    }
    return {
        "defaults": dict(DEFAULTS),
        "systems": {
            **rest,
            "training": {
                "kind": "xapi",
                "base_url": f"{urls['training']}/xapi",
                "auth": {"type": "basic", "username_env": TRAINING_USERNAME_ENV, "password_env": TRAINING_PASSWORD_ENV},
                "verb": XAPI_COMPLETED,
                "account_home_page": ACCOUNT_HOME_PAGE,
            },
            "payroll": {
                "kind": "odata",
                "base_url": f"{urls['payroll']}/odata/v2",
                "auth": {"type": "basic", "username_env": PAYROLL_USERNAME_ENV, "password_env": PAYROLL_PASSWORD_ENV},
                "entity_set": "EmpCompensation",
                "ids_per_request": 100,
            },
        },
    }


def _metric_source(system: str, metric: str) -> dict[str, object]:
    # How each REST system is asked for one metric: its path, id style, period and paging style.
    if system == "finance":
        return {
            "path": f"/api/v1/metrics/{metric}",
            "ids": {"param": "employees", "style": "csv"},
            "period": {"start": "from", "end": "to"},
            "page": {"style": "page", "param": "page", "size_param": "per_page", "size": 200},
            "map": "data[].{employee: employee_no, value: value}",
            "has_more": "meta.page < meta.pages",
        }
    if system == "security":
        return {
            "path": f"/v2/{metric}",
            "ids": {"param": "employee_id", "style": "repeat"},
            "period": {"start": "start", "end": "end"},
            "page": {"style": "cursor", "param": "cursor", "next": "next_cursor"},
            "map": "items[].{employee: staff.number, value: rate}",
        }
    if system == "tickets":
        return {
            "path": "/rest/stats",
            "params": {"metric": metric},
            "ids": {"param": "assignees", "style": "csv"},
            "period": {"start": "since", "end": "until"},
            "page": {"style": "link"},
            "map": "[].{employee: assignee, value: value}",
        }
    raise ValueError(f"no demo REST system called {system!r} (metric {metric!r})")


def _apps(
    seed: int, employees: RosterSource, secret: Mapping[str, str], consumers: DemoConsumers
) -> dict[str, ASGIApp]:
    return {
        "finance": finance.create_app(seed, employees, secret[FINANCE_TOKEN_ENV]),
        "security": security.create_app(seed, employees, secret[SECURITY_KEY_ENV]),
        "tickets": tickets.create_app(
            seed, employees, (secret[TICKETS_CLIENT_ID_ENV], secret[TICKETS_CLIENT_SECRET_ENV])
        ),
        "training": training.create_app(
            seed,
            employees,
            (secret[TRAINING_USERNAME_ENV], secret[TRAINING_PASSWORD_ENV]),
            extra_routes=consumers.training_routes(),
        ),
        "payroll": payroll.create_app(
            seed,
            employees,
            (secret[PAYROLL_USERNAME_ENV], secret[PAYROLL_PASSWORD_ENV]),
            extra_routes=consumers.payroll_routes(),
        ),
    }


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to whoever owns the event loop.

    uvicorn installs SIGINT/SIGTERM handlers while it serves and restores the previous ones when
    it stops; five servers stopping in any order would leave the wrong handler behind, and the
    hub's own server (or the test runner) already decides when the demo stops.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str) -> socket.socket:
    # getaddrinfo rather than socket.socket(AF_INET, SOCK_STREAM): it fills in proto=IPPROTO_TCP,
    # without which asyncio leaves Nagle's algorithm on for accepted connections and every
    # response waits ~40 ms for a delayed ACK. It also resolves names such as "localhost".
    family, kind, proto, _, address = socket.getaddrinfo(
        host, 0, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.bind(address)  # port 0: the kernel picks a free port, so two demos never collide
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    # The address actually bound, not the host asked for: "localhost" may mean ::1 or 127.0.0.1.
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:
        # uvicorn exits the process when an app's startup fails; here that would take the hub
        # down with it, so it becomes an ordinary error for the runner to report.
        raise RuntimeError(f"a demo system failed to start (uvicorn exit status {exit_.code})") from None


async def _until_started(servers: Mapping[str, uvicorn.Server], tasks: Mapping[str, asyncio.Task[None]]) -> None:
    while not all(server.started for server in servers.values()):
        for name, task in tasks.items():
            if task.done() and not servers[name].started:
                error = task.exception()
                raise RuntimeError(f"the demo {name} system stopped before it started") from error
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serve_demo_systems(
    seed: int, employees: int | RosterSource, host: str = "127.0.0.1"
) -> AsyncIterator[DemoSystems]:
    """Serves the five demo business systems for the demo organisation of ``seed``.

    ``employees`` is who they know: a roster source (the hub's database, see :mod:`.roster`), or a
    size, for the numbers ``E000001``.. that ``seed_demo`` gives that many employees.
    """
    secret = {env: secrets.token_urlsafe(24) for env in SECRET_ENVS}
    faults = {name: Faults() for name in SYSTEMS}
    today = dt.date.today()
    consumers = DemoConsumers.of(lambda number: payroll.annual_bonus(seed, number, today))
    apps = _apps(seed, roster_source(employees), secret, consumers)  # one roster, shared by the five systems
    sockets: dict[str, socket.socket] = {}
    servers: dict[str, uvicorn.Server] = {}
    tasks: dict[str, asyncio.Task[None]] = {}
    try:
        for name in SYSTEMS:
            sockets[name] = _bind(host)
            config = uvicorn.Config(
                FaultInjection(apps[name], faults[name]),
                lifespan="on",
                ws="none",  # no WebSockets here; and importing them would only risk deprecation warnings
                proxy_headers=False,
                access_log=False,
                log_config=None,  # leave the process's logging to the hub
                log_level=None,
                timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN,
            )
            servers[name] = _EmbeddedServer(config)
            tasks[name] = asyncio.create_task(_serve(servers[name], sockets[name]), name=f"demo-{name}")
        async with asyncio.timeout(_STARTUP_TIMEOUT):
            await _until_started(servers, tasks)
        urls = {name: _url(sockets[name]) for name in SYSTEMS}
        yield DemoSystems(urls=urls, faults=faults, secrets=secret, consumers=consumers)
    except BaseException:
        await consumers.aclose()
        await _stop(servers, tasks, sockets)  # its own failures would only hide this one
        raise
    await consumers.aclose()
    failures = await _stop(servers, tasks, sockets)
    if failures:
        raise RuntimeError(f"demo systems failed while serving: {failures}") from failures[0]


async def _stop(
    servers: Mapping[str, uvicorn.Server], tasks: Mapping[str, asyncio.Task[None]], sockets: Mapping[str, socket.socket]
) -> list[BaseException]:
    for server in servers.values():
        server.should_exit = True
    outcomes = await asyncio.gather(*tasks.values(), return_exceptions=True)
    for sock in sockets.values():
        sock.close()  # uvicorn closes them on a clean stop, but not when startup failed
    return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


def dumps_toml(document: Mapping[str, object]) -> str:
    """``document`` as TOML: top-level tables as sections, flat tables inline, as the example reads."""
    return "\n".join(_toml_table(document, ())) + "\n"


def _toml_table(table: Mapping[str, object], path: tuple[str, ...]) -> list[str]:
    # A table whose values hold further tables becomes a [section]; a flat one (auth, ids, page ...)
    # stays an inline table on its key's line. The top level has only sections.
    def is_section(value: object) -> TypeGuard[Mapping[str, object]]:
        return isinstance(value, Mapping) and (not path or any(isinstance(v, Mapping) for v in value.values()))

    lines = [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in table.items() if not is_section(value)]
    if lines and path:
        lines.insert(0, f"[{'.'.join(_toml_key(part) for part in path)}]")
    for key, value in table.items():
        if is_section(value):
            sub = _toml_table(value, (*path, key))
            lines += ["", *sub] if lines and sub else sub
    return lines


_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_key(key: str) -> str:
    return key if key and set(key) <= _BARE_KEY else _toml_string(key)


def _toml_string(text: str) -> str:
    # TOML forbids raw control characters (DEL included) in basic strings; JSON's escaping would
    # let DEL through and split astral characters into surrogates, which TOML also forbids.
    escaped = (
        _ESCAPES.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in text
    )
    return '"' + "".join(escaped) + '"'


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr gives TOML's inf/nan spellings and round-trips floats
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}: {value!r}")
