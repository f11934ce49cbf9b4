"""`perfhub serve` as its users run it: the installed command in a subprocess, on a loopback port.

Tests in this folder talk to that process over the network with the client libraries perfhub's users
have (httpx, gql, websockets, Node's graphql-ws), so that what they assert is what a client sees: the
installed dependencies, uvicorn's protocol handling, real concurrency, real sockets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, TypeVar

import httpx
from sqlalchemy import make_url

from hub.auth import Grant, Role, issue_token
from tests.conftest import TEST_SECRET, Backend, make_settings

PERFHUB = Path(sys.executable).parent / "perfhub"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn_serve(port: int, folder: Path, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`perfhub serve --port PORT` started in ``folder`` with exactly ``env``, its output appended to
    ``log_path``, in a process group of its own: stopping the group reaches the demo systems too."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(PERFHUB), "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class HubDidNotStart(RuntimeError):
    pass


class ServedHub:
    """One `perfhub serve` process on an existing database, its log kept in a file for the assertions.

    The process runs the demo configuration (demo business systems on loopback) but signs with the test
    secret, so tests mint tokens for any role or employee themselves.
    """

    def __init__(self, database_url: str, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.database_url = database_url
        self.folder = folder
        self.extra_env = dict(env or {})
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "perfhub-serve.log"
        self.settings = make_settings(database_url=database_url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def token(self, role: Role | str, employee_number: str | None = None, grants: Iterable[Grant | str] = ()) -> str:
        return issue_token(
            self.settings,
            role=Role(role),
            employee_number=employee_number,
            grants=[Grant(grant) for grant in grants],
        )

    def headers(self, role: Role | str, employee_number: str | None = None, **kwargs: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, employee_number)}"}

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> ServedHub:
        # A port found free may be taken before the hub binds it (other test workers): try a few.
        for _attempt in range(3):
            self.port = free_port()
            self._spawn()
            if self._wait_until_ready():
                return self
            self.stop()
            if "address already in use" not in self.log().lower():
                break
        raise HubDidNotStart(f"perfhub serve did not become ready:\n{self.log()[-4000:]}")

    def _spawn(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PERFHUB_")}
        env.update(
            {
                "PERFHUB_DATABASE_URL": self.database_url,
                "PERFHUB_JWT_SECRET": TEST_SECRET,
                "PERFHUB_LOG_LEVEL": "info",
                "PYTHONUNBUFFERED": "1",
                # The demo's consumers subscribe and take webhooks: only the tests of the closed loop want them.
                "PERFHUB_DEMO_CONSUMERS": "false",
                **self.extra_env,
            }
        )
        self.process = spawn_serve(self.port, self.folder, env, self.log_path)

    def _wait_until_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """SIGTERM by PID (uvicorn's graceful shutdown), SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> ServedHub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _Proxy(Protocol):
    @property
    def port(self) -> int: ...


P = TypeVar("P", bound=_Proxy)


@contextlib.contextmanager
def served_behind_proxy(
    backend: Backend, folder: Path, env: Mapping[str, str], proxy_to: Callable[[str, int], AbstractContextManager[P]]
) -> Iterator[tuple[ServedHub, P]]:
    """The served hub on a fresh copy of ``backend``'s database, which it reaches only through the proxy
    ``proxy_to(host, port)`` makes: a test cuts the proxy to give the hub a database outage."""
    url = backend.copy(folder)
    database = make_url(url)
    try:
        with proxy_to(database.host or "127.0.0.1", database.port or 5432) as proxy:
            through_proxy = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            with ServedHub(through_proxy, folder, env) as hub:
                yield hub, proxy
    finally:
        backend.drop(url)
