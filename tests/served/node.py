"""Node.js for the served-hub tests: finds `node` and `npm`, installs tests/served/js/ from its lock, runs scripts.

The JavaScript clients (graphql-http's audit suite, graphql-ws) are the ones most GraphQL front ends use;
the tests run them as a user's program would, against the `perfhub serve` subprocess.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JS_FOLDER = Path(__file__).parent / "js"
INSTALL_TIMEOUT_SECONDS = 300.0
SCRIPT_TIMEOUT_SECONDS = 120.0
# Written into node_modules after a successful `npm ci`: the digest of the lock it installed. `npm ci`
# empties node_modules first, so a stamp present means the install finished for that lock.
_STAMP = ".perfhub-lock-sha256"


class NodeScriptFailed(AssertionError):
    """A script exited non-zero or printed no JSON; the message carries its output for the test report."""


@dataclass(frozen=True)
class NodeJS:
    node: str
    npm: str
    folder: Path = JS_FOLDER

    def install(self) -> None:
        """`npm ci` into the folder's node_modules, unless the last install was of the current lock.

        pytest-xdist workers start at once: the first one installs while the others wait on the lock,
        then find the stamp and go on.
        """
        with _exclusive(self.folder / ".npm-ci.lock"):
            if self._installed_digest() == self._lock_digest():
                return
            completed = subprocess.run(
                [self.npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"npm ci failed in {self.folder}:\n{completed.stdout}\n{completed.stderr}")
            (self.folder / "node_modules" / _STAMP).write_text(self._lock_digest(), encoding="utf-8")

    def run(
        self, script: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = SCRIPT_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        """Runs a script of the folder with node; its stdout and stderr are returned, whatever its exit code."""
        return subprocess.run(
            [self.node, script, *args],
            cwd=self.folder,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run_json(
        self, script: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = SCRIPT_TIMEOUT_SECONDS
    ) -> Any:
        """Runs a script that prints one JSON document as its last stdout line, and returns it decoded."""
        completed = self.run(script, *args, env=env, timeout=timeout)
        lines = completed.stdout.strip().splitlines()
        if completed.returncode != 0 or not lines:
            raise NodeScriptFailed(
                f"node {script} exited {completed.returncode}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
            )
        return json.loads(lines[-1])

    def _lock_digest(self) -> str:
        return hashlib.sha256((self.folder / "package-lock.json").read_bytes()).hexdigest()

    def _installed_digest(self) -> str | None:
        stamp = self.folder / "node_modules" / _STAMP
        return stamp.read_text(encoding="utf-8").strip() if stamp.exists() else None


def find_node() -> NodeJS | str:
    """Node.js and npm from PATH, or the reason they cannot be used (one line, for a skip)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        return f"Node.js is not installed ({missing} not on PATH): the Node.js client tests need it"
    return NodeJS(node, npm)


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An advisory lock on a file, held across processes (pytest-xdist workers) until the block ends."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
