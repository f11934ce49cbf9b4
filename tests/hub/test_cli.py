"""The perfhub command as a user runs it: serve on the embedded default, token, compute, import-metrics, collect."""

from __future__ import annotations

import asyncio
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from connectors.cache import RedisCache
from hub import cli_insights
from hub.auth import Authenticator, Grant, Role
from hub.cli import main
from hub.config import Settings
from hub.db.engine import create_engine
from hub.db.models import AppraisalResult, AuditEntry, Cycle, Employee, Indicator, Post
from hub.demo.organisation import SeedSummary
from hub.demo.systems import DemoSystems, serve_demo_systems
from tests.conftest import EMPLOYEES, SEED


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def printed_tokens(lines: list[str]) -> dict[str, str]:
    """The demo tokens `perfhub serve` prints, by role: lines like '  manager (E000001): eyJ...'."""
    tokens = {}
    for line in lines:
        label, _, token = line.strip().partition(": ")
        role = label.split(" ")[0]
        if role in {role.value for role in Role} and token.startswith("eyJ"):
            tokens[role] = token
    return tokens


def ask(port: int, token: str, query: str, timeout: float = 10) -> Any:
    """The JSON answer of the hub on ``port`` to ``query``, asked with a bearer token."""
    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    return answer.json()


def serve_process(folder: Path, port: int, *options: str) -> subprocess.Popen[str]:
    """`perfhub serve` started in ``folder`` with no PERFHUB_ setting of ours, its output in a pipe."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "perfhub"), "serve", "--port", str(port), *options],
        cwd=folder,
        env={key: value for key, value in os.environ.items() if not key.startswith("PERFHUB_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_creates_seeds_and_serves_the_embedded_default(tmp_path: Path) -> None:
    """With no configuration, `perfhub serve` makes ./perfhub.db, seeds the demo, prints the URL, a token per
    role, and answers the holders of those tokens only."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERFHUB_")}
    process = serve_process(tmp_path, port)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if f"http://127.0.0.1:{port}/graphql" in line or process.poll() is not None:
                break
        assert any(f"http://127.0.0.1:{port}/graphql" in line for line in lines), "".join(lines)
        tokens = printed_tokens(lines)
        assert set(tokens) == {role.value for role in Role}, "".join(lines)
        for _ in range(100):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready.status_code == 200
        anonymous = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ posts { code } }"}, timeout=10)
        assert anonymous.status_code == 401
        answer = ask(port, tokens["hr_admin"], "{ employees(first: 1) { totalCount } cycles { state } }")
        assert answer["data"]["employees"]["totalCount"] == 120
        assert sorted(cycle["state"] for cycle in answer["data"]["cycles"]) == ["OPEN", "PUBLISHED"]
        assert (tmp_path / "perfhub.db").exists()
        # The demo business systems run beside the hub on free loopback ports, and the hub reads them.
        assert any("demo business systems" in line for line in lines), "".join(lines)
        linked = ask(
            port,
            tokens["payroll"],
            "{ employees(first: 3) { edges { node { compensationRecords { currency } } } } }",
            30,
        )
        assert "errors" not in linked, linked
        assert all(edge["node"]["compensationRecords"] for edge in linked["data"]["employees"]["edges"])
        # A token made by another process later is accepted by the running server: they share the secret file.
        token = subprocess.run(
            [str(Path(sys.executable).parent / "perfhub"), "token", "--role", "employee", "--employee", "E000012"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
        assert ask(port, token, "{ __typename }") == {"data": {"__typename": "Query"}}
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


async def _finance_employee_and_indicator(url: str) -> tuple[str, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            employee_no = (
                await connection.execute(
                    select(Employee.employee_no)
                    .join(Post, Post.id == Employee.post_id)
                    .where(Post.family == "FINANCE")
                    .order_by(Employee.id.desc())
                    .limit(1)
                )
            ).scalar_one()
            code = (
                await connection.execute(select(Indicator.code).where(Indicator.code == "VOUCHER_ERROR_RATE"))
            ).scalar_one()
    finally:
        await engine.dispose()
    return employee_no, code


def test_import_metrics_then_compute(
    database_url: str, seeded: SeedSummary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-metrics stores a file's values; compute scores the cycle once and refuses a second time."""
    employee_no, code = asyncio.run(_finance_employee_and_indicator(database_url))
    cycle = str(seeded.current_cycle_id)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"employee_no,indicator,value\n{employee_no},{code},1.2\nNOBODY,{code},x\n", encoding="utf-8")
    assert main(["--database-url", database_url, "import-metrics", str(bad), "--cycle", cycle]) == 1
    assert "line 3" in capsys.readouterr().err

    good = tmp_path / "good.csv"
    good.write_text(f"employee_no,indicator,value\n{employee_no},{code},1.2\n", encoding="utf-8")
    assert main(["--database-url", database_url, "import-metrics", str(good), "--cycle", cycle]) == 0
    assert "1 values stored" in capsys.readouterr().out

    assert main(["--database-url", database_url, "compute", cycle]) == 0
    assert "scored" in capsys.readouterr().out
    assert main(["--database-url", database_url, "compute", cycle]) == 1
    assert "ILLEGAL_TRANSITION" in capsys.readouterr().err


def test_token_prints_a_token_the_hub_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`perfhub token` prints the token alone on the last line; the Authenticator of the same settings accepts it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    (tmp_path / "perfhub.db").touch()  # a hub's database: the secret beside it is made or read
    argv = ["--database-url", url, "token", "--role", "analyst", "--grant", "names", "--ttl", "600"]
    assert main(argv) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    principal = Authenticator(Settings(database_url=url, demo=True)).authenticate(f"Bearer {token}")
    assert principal.roles == {Role.ANALYST}
    assert principal.grants == {Grant.NAMES}
    assert principal.employee_number is None


def test_token_for_an_employee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--employee binds the token to an employee number."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    (tmp_path / "perfhub.db").touch()
    assert main(["--database-url", url, "token", "--role", "employee", "--employee", "E000012"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    principal = Authenticator(Settings(database_url=url, demo=True)).authenticate(f"Bearer {token}")
    assert (principal.subject, principal.employee_number) == ("E000012", "E000012")


def test_token_refuses_where_there_is_no_hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run outside the hub's folder, a fresh secret would sign a token the hub rejects: refuse, saying why."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "token", "--role", "hr_admin"]) == 1
    assert "no hub here" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no secret file left behind


@pytest.mark.parametrize("role", ["employee", "manager"])
def test_a_person_role_needs_an_employee(role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An employee or manager token without a person would silently see nothing."""
    (tmp_path / "perfhub.db").touch()
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "token", "--role", role]) == 2  # a usage error, as the README says
    assert "--employee" in capsys.readouterr().err


def test_token_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    """Roles are a closed set: argparse names the choices."""
    with pytest.raises(SystemExit):
        main(["token", "--role", "ceo"])
    assert "invalid choice" in capsys.readouterr().err


def test_serve_refuses_to_start_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside demo mode, no PERFHUB_JWT_SECRET and no JWKS: serve exits 1 before touching the database."""
    monkeypatch.setenv("PERFHUB_DEMO", "false")
    monkeypatch.delenv("PERFHUB_JWT_SECRET", raising=False)
    assert main(["serve"]) == 1
    assert "PERFHUB_JWT_SECRET" in capsys.readouterr().err


@pytest.fixture
def demo_systems() -> Iterator[DemoSystems]:
    """The demo business systems, served from a thread of their own so that synchronous CLI calls reach them."""
    ready: queue.Queue[DemoSystems] = queue.Queue()
    stop = threading.Event()

    async def run() -> None:
        async with serve_demo_systems(SEED, EMPLOYEES) as demo:
            ready.put(demo)
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.fixture
def systems_file(demo_systems: DemoSystems, tmp_path: Path) -> Path:
    """The demo systems' systems file, as an operator would keep it: no secret in it."""
    path = tmp_path / "systems.toml"
    demo_systems.write_config(path)
    return path


@pytest.fixture
def collect_argv(database_url: str, systems_file: Path) -> Callable[[int], list[str]]:
    """The command line of `perfhub collect CYCLE --systems FILE` on the test's database."""
    return lambda cycle_id: ["--database-url", database_url, "collect", str(cycle_id), "--systems", str(systems_file)]


@pytest.fixture
def export_secrets(demo_systems: DemoSystems, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Puts the demo systems' secrets into the environment variables the systems file names, when called."""

    def export() -> None:
        for name, value in demo_systems.secrets.items():
            monkeypatch.setenv(name, value)

    return export


def test_collect_from_a_systems_file_is_idempotent(
    seeded: SeedSummary,
    demo_systems: DemoSystems,
    systems_file: Path,
    collect_argv: Callable[[int], list[str]],
    export_secrets: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`perfhub collect CYCLE --systems FILE` pulls the cycle's values; a second run stores nothing new."""
    written = systems_file.read_text(encoding="utf-8")
    assert not any(secret in written for secret in demo_systems.secrets.values())
    argv = collect_argv(seeded.current_cycle_id)
    # Secrets come from the environment variables the file names, never from the file.
    assert main(argv) == 1
    assert "PERFHUB_" in capsys.readouterr().err
    export_secrets()
    assert main(argv) == 0
    first = capsys.readouterr().out
    new = int(first.split(": ")[2].split(" new")[0])
    assert new > 0, first
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert f"0 new, 0 updated, {new} unchanged" in second, second


def test_collect_refuses_a_cycle_that_is_not_open(
    seeded: SeedSummary,
    collect_argv: Callable[[int], list[str]],
    export_secrets: Callable[[], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    export_secrets()
    assert main(collect_argv(seeded.past_cycle_id)) == 1
    assert "WRONG_CYCLE_STATE" in capsys.readouterr().err


@pytest.fixture
def shared_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis connector cache under a prefix of this test's own, as a deployment's processes share it."""
    configured = os.environ.get("PERFHUB_TEST_REDIS_URL")
    url = configured or "redis://127.0.0.1:6379/0"
    prefix = f"perfhub-test:{uuid.uuid4().hex}:"

    async def on_redis(clear: bool) -> bool:
        # A client per event loop: each asyncio.run has its own, as each CLI run has.
        cache = RedisCache(url, prefix=prefix)
        try:
            if clear:
                await cache.clear()
            return await cache.ping()
        finally:
            await cache.aclose()

    if not asyncio.run(on_redis(clear=False)):
        if configured:
            pytest.fail(f"PERFHUB_TEST_REDIS_URL is set but Redis does not answer at {url}")
        pytest.skip(f"Redis does not answer at {url}")
    monkeypatch.setenv("PERFHUB_CONNECTOR_CACHE_URL", url)
    monkeypatch.setenv("PERFHUB_CONNECTOR_CACHE_PREFIX", prefix)
    yield prefix
    asyncio.run(on_redis(clear=True))


@pytest.fixture
def collect_on_shared_cache(
    seeded: SeedSummary,
    collect_argv: Callable[[int], list[str]],
    export_secrets: Callable[[], None],
    shared_cache: str,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., str]:
    """Runs `perfhub collect` of the current cycle (with the options given) on the shared cache; its summary."""
    export_secrets()

    def run(*options: str) -> str:
        assert main([*collect_argv(seeded.current_cycle_id), *options]) == 0
        return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("perfhub collect"))

    return run


def test_collect_refresh_asks_the_systems_past_the_shared_cache(
    demo_systems: DemoSystems, collect_on_shared_cache: Callable[..., str]
) -> None:
    """A second `perfhub collect` within the cache's lifetime calls no system; `--refresh` calls them as
    the first run did, and leaves its answers in the cache for the next run."""

    def calls() -> int:
        return sum(demo_systems.faults[system].requests for system in ("finance", "security", "tickets"))

    first = collect_on_shared_cache()
    asked = calls()
    summaries = [collect_on_shared_cache()]
    assert calls() == asked > 0  # zero more calls
    summaries.append(collect_on_shared_cache("--refresh"))
    assert calls() == 2 * asked  # asked again what the first run asked
    summaries.append(collect_on_shared_cache())
    assert calls() == 2 * asked  # the refreshed answers are the cache's fresh entries
    new = int(first.split(": ")[2].split(" new")[0])
    assert new > 0 and all(f": 0 new, 0 updated, {new} unchanged" in summary for summary in summaries), summaries


def test_serve_refuses_an_invalid_systems_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "systems.toml"
    broken.write_text('[systems.finance]\nkind = "soap"\n', encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "serve", "--systems", str(broken)]) == 1
    assert "finance" in capsys.readouterr().err


async def _audit_entries(url: str) -> list[tuple[str, str, str, str, list[str], str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(
                        AuditEntry.subject,
                        AuditEntry.roles,
                        AuditEntry.operation,
                        AuditEntry.outcome,
                        AuditEntry.ids,
                        AuditEntry.request_id,
                    ).order_by(AuditEntry.id)
                )
            ).all()
    finally:
        await engine.dispose()
    return [(r.subject, r.roles, r.operation, r.outcome, r.ids, r.request_id) for r in rows]


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> str:
    """The operating system user the CLI runs as, for the audit to name."""
    monkeypatch.setattr("getpass.getuser", lambda: "ann")
    return "cli:ann"


def test_writing_verbs_are_audited_with_the_operator(
    database_url: str, seeded: SeedSummary, tmp_path: Path, operator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """import-metrics and compute write their entry with their change; a refused run is audited too."""
    employee_no, code = asyncio.run(_finance_employee_and_indicator(database_url))
    cycle = str(seeded.current_cycle_id)
    good = tmp_path / "good.csv"
    good.write_text(f"employee_no,indicator,value\n{employee_no},{code},1.2\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("employee_no,indicator,value\nNOBODY,X,1\n", encoding="utf-8")
    assert main(["--database-url", database_url, "import-metrics", str(good), "--cycle", cycle]) == 0
    assert main(["--database-url", database_url, "import-metrics", str(bad), "--cycle", cycle]) == 1
    assert main(["--database-url", database_url, "compute", cycle]) == 0
    assert main(["--database-url", database_url, "compute", cycle]) == 1
    capsys.readouterr()

    entries = asyncio.run(_audit_entries(database_url))
    assert [(e[0], e[1], e[2], e[3], e[4]) for e in entries] == [
        (operator, "cli", "import-metrics", "ok", [f"cycle:{cycle}"]),
        (operator, "cli", "import-metrics", "IMPORT_REJECTED", [f"cycle:{cycle}"]),
        (operator, "cli", "compute", "ok", [f"cycle:{cycle}"]),
        (operator, "cli", "compute", "ILLEGAL_TRANSITION", [f"cycle:{cycle}"]),
    ]
    assert len({e[5] for e in entries}) == 4  # one request id per run


def test_collect_is_audited_with_the_operator(
    database_url: str,
    seeded: SeedSummary,
    collect_argv: Callable[[int], list[str]],
    export_secrets: Callable[[], None],
    operator: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    export_secrets()
    cycle, past = str(seeded.current_cycle_id), str(seeded.past_cycle_id)
    assert main(collect_argv(seeded.current_cycle_id)) == 0
    assert main(collect_argv(seeded.past_cycle_id)) == 1
    capsys.readouterr()
    entries = asyncio.run(_audit_entries(database_url))
    assert [(e[0], e[1], e[2], e[3], e[4]) for e in entries] == [
        (operator, "cli", "collect", "ok", [f"cycle:{cycle}"]),
        (operator, "cli", "collect", "WRONG_CYCLE_STATE", [f"cycle:{past}"]),
    ]


def test_seed_is_audited_with_the_operator(tmp_path: Path, operator: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo build commits the organisation, then scores and calibrates its past cycle, sets the closed loop's
    three course rules and merit matrix, and publishes: every one of those transactions carries the seed's entry."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "seed", "--employees", "30"]) == 0
    capsys.readouterr()
    entries = asyncio.run(_audit_entries(url))
    assert [(e[0], e[1], e[2], e[3]) for e in entries] == [(operator, "cli", "seed", "ok")] * 8
    assert len({e[5] for e in entries}) == 1


def test_serve_refuses_a_port_in_use_before_seeding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second `./dev run` on a taken port says so at once, instead of seeding and printing tokens first."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--database-url", url, "serve", "--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert f"127.0.0.1:{port}: address already in use" in captured.err
    assert "eyJ" not in captured.out  # no tokens printed
    assert not (tmp_path / "perfhub.db").exists()  # nothing seeded


def test_cycles_lists_every_cycle_with_its_state_and_results(
    database_url: str, seeded: SeedSummary, capsys: pytest.CaptureFixture[str]
) -> None:
    """`perfhub cycles`: a header, then a line per cycle (id, name, period, state, results stored)."""

    async def expected() -> dict[str, tuple[str, int]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                cycles = (await connection.execute(select(Cycle.id, Cycle.state))).all()
                counted = dict(
                    (
                        await connection.execute(
                            select(AppraisalResult.cycle_id, func.count()).group_by(AppraisalResult.cycle_id)
                        )
                    ).all()
                )
        finally:
            await engine.dispose()
        return {str(cycle_id): (state.value, counted.get(cycle_id, 0)) for cycle_id, state in cycles}

    wanted = asyncio.run(expected())
    assert main(["--database-url", database_url, "cycles"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "NAME", "PERIOD", "STATE", "RESULTS"]
    listed = {line.split()[0]: (line.split()[-2], int(line.split()[-1])) for line in lines}
    assert listed == wanted
    assert listed[str(seeded.past_cycle_id)][1] > 0  # the published cycle's results are counted


def test_token_open_prints_a_short_lived_insights_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--open: a link to /insights with the token in its fragment (never sent to a server), valid five minutes
    unless --ttl, handed to the browser; the last line is still the token alone."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    (tmp_path / "perfhub.db").touch()
    opened: list[str] = []

    def browser_open(link: str) -> bool:
        opened.append(link)
        return True

    monkeypatch.setattr("webbrowser.open", browser_open)
    argv = ["--database-url", url, "token", "--role", "analyst", "--open", "--url", "http://hub.example:9000/"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    token = lines[-1]
    assert opened == [f"http://hub.example:9000/insights#token={token}"]
    assert f"valid {cli_insights.OPEN_TTL_SECONDS} s" in lines[0]
    assert opened[0] in lines[1]
    principal = Authenticator(Settings(database_url=url, demo=True)).authenticate(f"Bearer {token}")
    assert principal.roles == {Role.ANALYST}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == cli_insights.OPEN_TTL_SECONDS
