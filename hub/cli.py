"""The ``perfhub`` command: serve, migrate, seed, token, compute, import-metrics, collect, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypedDict, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import ConfigurationError
from hub import cli_cycles, cli_insights, cli_org
from hub.appraisal import AppraisalError
from hub.auth import (
    SECRET_FILE_SUFFIX,
    AuthConfigurationError,
    Authenticator,
    Grant,
    Role,
    TokenTooLong,
    issue_token,
    secret_file_path,
)
from hub.config import Settings
from hub.console import ConsoleProgress
from hub.db.engine import create_engine, create_sessionmaker, is_in_memory
from hub.db.migrate import upgrade
from hub.db.models import Department, Employee
from hub.demo.systems.consumers import ConsumerSetup
from hub.operations.audit import OK, AuditRecorder, audit_every_commit, audit_failure, operator_audit
from hub.operations.commands import Caller
from hub.operations.errors import OperationError
from hub.systems import business_systems, configured_systems, open_systems

if TYPE_CHECKING:
    import uvicorn  # for annotations only: the commands that serve import it where they need it

T = TypeVar("T")

USAGE_ERROR = 2
"""The exit code of a command refused for what it was given (arguments, a file), as argparse's own."""
MAX_KEY = 2**31 - 1
"""Keys are INTEGER columns, 32-bit on PostgreSQL: a larger cycle id failed in the driver, with a traceback."""


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _seed(settings: Settings, *, seed: int, employees: int, only_if_empty: bool) -> bool:
    """Migrates, then seeds the demo organisation; False when it was already there and allowed to be."""
    from hub.demo.build import build_demo

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            departments = (await session.execute(select(func.count()).select_from(Department))).scalar_one()
        if departments and only_if_empty:
            return False
        recorder = operator_audit("seed")
        # The demo build takes no recorder: each transaction it commits carries the entry instead.
        audited = audit_every_commit(sessionmaker, recorder)
        today = dt.datetime.now(dt.UTC).date()
        build = build_demo(audited, seed=seed, employees=employees, today=today, progress=ConsoleProgress())
        await audit_failure(recorder, sessionmaker, build)
        return True
    finally:
        await engine.dispose()


class _SettingsOverrides(TypedDict, total=False):
    """What the command line may set over the environment."""

    database_url: str
    systems_file: Path


def _settings(args: argparse.Namespace) -> Settings:
    overrides: _SettingsOverrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "systems", None):
        overrides["systems_file"] = Path(args.systems)
    return Settings(**overrides)


async def _demo_people(settings: Settings) -> tuple[str | None, str | None]:
    """A demo employee without reports and a manager with some: whom the printed tokens speak for."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            managers = select(Employee.manager_id).where(Employee.manager_id.is_not(None))
            staff = (
                await connection.execute(
                    select(Employee.employee_no).where(Employee.id.not_in(managers)).order_by(Employee.id).limit(1)
                )
            ).scalar_one_or_none()
            manager = (
                await connection.execute(
                    select(Employee.employee_no).where(Employee.id.in_(managers)).order_by(Employee.id).limit(1)
                )
            ).scalar_one_or_none()
    finally:
        await engine.dispose()
    return staff, manager


def print_demo_tokens(settings: Settings, staff: str | None, manager: str | None) -> None:
    """One token per role, ready to paste into GraphiQL's headers."""
    print("perfhub: demo tokens; paste one into GraphiQL's Headers tab as", flush=True)
    print('         {"Authorization": "Bearer <token>"}', flush=True)
    for role in Role:
        employee_number = {Role.EMPLOYEE: staff, Role.MANAGER: manager}.get(role)
        token = issue_token(settings, role=role, employee_number=employee_number)
        who = f" ({employee_number})" if employee_number else ""
        print(f"  {role.value}{who}: {token}", flush=True)


def serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    try:
        Authenticator(settings)  # refuses to start without a key to verify tokens with
        configured_systems(settings)  # and with an invalid systems file
    except (AuthConfigurationError, ConfigurationError) as error:
        print(f"perfhub serve: {error}", file=sys.stderr)
        return 1
    workers = settings.workers if args.workers is None else args.workers
    if workers < 1:
        print("perfhub serve: --workers must be at least 1", file=sys.stderr)
        return USAGE_ERROR
    if workers > 1 and is_in_memory(settings.database_url):
        print("perfhub serve: --workers needs a database the processes can share, not one in memory", file=sys.stderr)
        return 1
    taken = _address_taken(host, port)
    if taken is not None:
        # Before seeding and printing tokens: a second `./dev run` must not look as if it had started.
        print(f"perfhub serve: {host}:{port}: {taken} (another perfhub serve?); pass --port", file=sys.stderr)
        return 1
    if settings.demo:
        seeded = asyncio.run(
            _seed(settings, seed=settings.demo_seed, employees=settings.demo_employees, only_if_empty=True)
        )
        if seeded:
            print("perfhub: seeded the demo organisation", flush=True)
        print_demo_tokens(settings, *asyncio.run(_demo_people(settings)))
    else:
        asyncio.run(_migrate(settings))
    _run_served(_serve(settings, host, port, workers))
    print("perfhub: stopped", flush=True)
    return 0


def _address_taken(host: str, port: int) -> str | None:
    """Why the hub could not listen on ``host:port`` (say, "address already in use"), or None if it can.

    A probe: uvicorn binds the address itself later, so a port taken in between still fails there."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as error:
        return (error.strerror or str(error)).lower()
    return None


def _run_served(serving: Coroutine[None, None, None]) -> None:
    """Runs the hub on the event loop uvicorn's "auto" chooses (uvloop, installed by uvicorn[standard]), as
    ``--workers`` processes and ``uvicorn.run`` do: ``asyncio.run`` ran the one-process hub on asyncio's own
    loop, whose pure-Python transports cost a result stream a fifth of its time per event (``bench.events``)."""
    from uvicorn.loops.auto import auto_loop_factory

    with asyncio.Runner(loop_factory=auto_loop_factory(use_subprocess=False)) as runner:
        runner.run(serving)


def _graceful_server_class() -> type[uvicorn.Server]:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, minus the re-raise of SIGINT/SIGTERM once it has shut down.

        uvicorn hands the signal back to the process after its own graceful shutdown: SIGTERM then kills
        the hub before the demo systems and the worker process are stopped, and Ctrl-C cancels whatever
        is left with a screenful of tracebacks. Here either signal ends ``serve()`` normally, and
        everything opened around it closes in order.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stops = (signal.SIGINT, signal.SIGTERM)
            previous = {stop: signal.signal(stop, self.handle_exit) for stop in stops}
            try:
                yield
            finally:
                for stop, handler in previous.items():
                    signal.signal(stop, handler)

    return GracefulServer


def _log_to_console(level: str) -> None:
    """The hub's own log lines (refusals, rate limits, closed connections) beside uvicorn's, in its format.

    uvicorn configures its loggers only: without this, the "perfhub" logger's info lines went nowhere and
    its warnings reached stderr bare, through logging's last-resort handler.
    """
    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    hub_log = logging.getLogger("perfhub")
    hub_log.addHandler(handler)
    hub_log.setLevel(level.upper())
    hub_log.propagate = False


async def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """The hub and, in demo mode without a systems file, the sandbox business systems, in one event loop; with
    ``workers`` > 1, the hub in that many processes (hub/served.py) and the systems here."""
    import uvicorn

    from hub.http_protocol import header_timeout_protocol
    from hub.served import hand_down, run_workers, tune_garbage_collector

    # The app's modules (two seconds of imports) load in a thread while the demo systems' process starts beside
    # it, instead of one after the other; nothing else imports meanwhile (business_systems' modules are loaded).
    app_module = asyncio.ensure_future(asyncio.to_thread(importlib.import_module, "hub.app"))
    async with business_systems(settings) as (config, demo):
        await app_module
        from hub.app import create_app

        if demo is not None:
            print("perfhub: demo business systems (switch faults at <url>/_faults):", flush=True)
            for system, url in sorted(demo.urls.items()):
                print(f"  {system}: {url}", flush=True)
            if demo.consumers is not None and settings.demo_consumers:
                settings = settings.model_copy(update={"demo_webhook_targets": (demo.urls["training"],)})
                os.environ["PERFHUB_DEMO_WEBHOOK_TARGETS"] = json.dumps([demo.urls["training"]])  # for --workers
                demo.consumers.start(await _demo_consumer_setup(settings, demo.urls["training"], host, port))
        elif config is not None:
            print(f"perfhub: business systems from {settings.systems_file}: {', '.join(config.systems)}", flush=True)
        if workers > 1:
            with tempfile.TemporaryDirectory(prefix="perfhub-serve-") as directory:
                systems_file = settings.systems_file
                if demo is not None:
                    systems_file = Path(directory) / "systems.toml"
                    demo.write_config(systems_file)
                hand_down(settings, systems_file, demo.secrets if demo is not None else {})
                _log_to_console(settings.log_level)
                print(f"perfhub: GraphQL at http://{host}:{port}/graphql, {workers} processes", flush=True)
                # Blocks this event loop: the demo systems run in a process of their own meanwhile.
                run_workers(settings, host, port, workers)
            return
        app = create_app(settings, systems=config, after_startup=tune_garbage_collector)
        # ws is named, not "auto": without the WebSocket library uvicorn would refuse every subscription
        # upgrade quietly; naming it makes a broken install fail at start-up instead.
        served = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=settings.log_level,
            ws="websockets-sansio",
            # A WebSocket message is held to the HTTP body limit (uvicorn's default is 16 MiB), before login too.
            ws_max_size=settings.max_body_bytes,
            # Request headers within a deadline: trickled headers cannot hold a connection (hub/http_protocol.py).
            http=header_timeout_protocol(settings.header_timeout_seconds),
        )
        server = _graceful_server_class()(served)
        _log_to_console(settings.log_level)
        print(f"perfhub: GraphQL at http://{host}:{port}/graphql (GraphiQL in a browser)", flush=True)
        await server.serve()


async def _demo_consumer_setup(settings: Settings, training_url: str, host: str, port: int) -> ConsumerSetup:
    """What the demo's training and payroll systems need to consume this hub's events (``hub.demo.loop``)."""
    from hub.demo.loop import demo_receiver
    from resolvers.pagination import encode_cursor

    secret, last = await demo_receiver(settings, training_url)
    loopback = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    ttl = settings.max_token_ttl_seconds  # the demo's session; a longer one needs a restart
    print("perfhub: demo consumers: training takes training.need by webhook, payroll result.published live", flush=True)
    return ConsumerSetup(
        hub_url=f"http://[{loopback}]:{port}" if ":" in loopback else f"http://{loopback}:{port}",
        training_token=issue_token(settings, role=Role.TRAINING, subject="demo-training-system", ttl=ttl),
        payroll_token=issue_token(settings, role=Role.PAYROLL, subject="demo-payroll-system", ttl=ttl),
        webhook_secret=secret,
        payroll_after=encode_cursor("event", last) if last else None,
    )


def _token_refusal(settings: Settings, role: Role, employee: str | None) -> tuple[str, int] | None:
    """Why a token would be of no use, with the exit code, or None: for nobody (the caller's mistake, a usage
    error) or signed with a key no hub here knows (the place's, 1)."""
    if role in (Role.EMPLOYEE, Role.MANAGER) and not employee:
        return f"a {role.value} token speaks for a person: add --employee EMPLOYEE_NO", USAGE_ERROR
    secret_file = secret_file_path(settings) if settings.jwt_secret is None and settings.demo else None
    if secret_file is not None and not secret_file.exists():
        database = secret_file.with_name(secret_file.name.removesuffix(SECRET_FILE_SUFFIX))
        if not database.exists():
            # Minting a fresh secret here would print a token that the running hub rejects as invalid.
            return (
                f"no hub here: neither {database} nor its token secret exists; run perfhub token in the folder "
                "where perfhub serve runs, or point PERFHUB_DATABASE_URL (or PERFHUB_JWT_SECRET) at the hub's",
                1,
            )
    return None


def token(args: argparse.Namespace) -> int:
    """Prints a signed token; the last line of the output is the token alone."""
    settings = _settings(args)
    refusal = _token_refusal(settings, Role(args.role), args.employee)
    if refusal is not None:
        reason, status = refusal
        print(f"perfhub token: {reason}", file=sys.stderr)
        return status
    try:
        signed = issue_token(
            settings,
            role=Role(args.role),
            employee_number=args.employee,
            subject=args.subject,
            grants=args.grant,
            ttl=cli_insights.ttl(args),
        )
    except AuthConfigurationError as error:
        print(f"perfhub token: {error}", file=sys.stderr)
        return 1
    except TokenTooLong as error:  # the hub would refuse it
        print(f"perfhub token: {error}", file=sys.stderr)
        return USAGE_ERROR
    ttl = settings.token_ttl_seconds if cli_insights.ttl(args) is None else cli_insights.ttl(args)
    who = f" for employee {args.employee}" if args.employee else ""
    print(f"perfhub: token for role {args.role}{who}, valid {ttl} s; send it as 'Authorization: Bearer <token>'")
    if args.open:
        cli_insights.open_link(args.url, signed)
    print(signed)
    return 0


async def _migrate_audited(settings: Settings) -> None:
    """``perfhub migrate``: the operator changes the database's schema, so the audit names them (once the
    audit's table is there: the entry is written after the migration)."""
    await _migrate(settings)
    engine = create_engine(settings.database_url)
    try:
        await operator_audit("migrate").record_alone(create_sessionmaker(engine), OK)
    finally:
        await engine.dispose()


def migrate(args: argparse.Namespace) -> int:
    asyncio.run(_migrate_audited(_settings(args)))
    print("perfhub: database migrated to the latest revision")
    return 0


def seed(args: argparse.Namespace) -> int:
    from hub.demo.organisation import DatabaseNotEmpty

    try:
        asyncio.run(_seed(_settings(args), seed=args.seed, employees=args.employees, only_if_empty=False))
    except DatabaseNotEmpty as error:
        print(f"perfhub seed: {error}", file=sys.stderr)
        return 1
    print(f"perfhub: seeded the demo organisation ({args.employees} employees, seed {args.seed})")
    return 0


async def _with_sessionmaker(
    settings: Settings, recorder: AuditRecorder, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    engine = create_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        return await audit_failure(recorder, sessionmaker, work(sessionmaker))
    finally:
        await engine.dispose()


def _fail(command: str, error: OperationError | AppraisalError) -> int:
    print(f"perfhub {command}: {error.code}: {error.message}", file=sys.stderr)
    for problem in getattr(error, "problems", []):  # every one: the operator fixes the file in one pass
        print(f"  line {problem.line}: {problem.message}", file=sys.stderr)
    return 1


def compute(args: argparse.Namespace) -> int:
    """Scores an OPEN cycle (OPEN -> SCORED) with a progress bar."""
    from hub.operations.scoring import CycleScore, score_cycle

    recorder = operator_audit("compute", f"cycle:{args.cycle}")

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        who = args.actor or recorder.subject
        caller = Caller(actor=who, audit=recorder, bands=settings.bands())
        command = CycleScore(args.cycle, allow_incomplete=args.allow_incomplete, reason=args.reason)
        report = await score_cycle(sessionmaker, command, caller, progress=ConsoleProgress())
        print(f"perfhub compute: cycle {args.cycle} scored: {report.scored} results, {len(report.blocked)} blocked")
        without = sum(post.without_ratings for post in report.coverage)
        if without:
            print(f"perfhub compute: {without} result(s) scored without any rating (allowed: {args.reason})")
        shown = report.blocked[:20]
        async with sessionmaker() as session:
            named = select(Employee.id, Employee.employee_no).where(Employee.id.in_({b.employee_id for b in shown}))
            numbers = {employee_id: number for employee_id, number in await session.execute(named)}
        for blocked in shown:
            print(f"  employee {numbers[blocked.employee_id]}: {blocked.code}: {blocked.message}")
        return 0

    settings = _settings(args)
    try:
        return asyncio.run(_with_sessionmaker(settings, recorder, work))
    except (OperationError, AppraisalError) as error:
        return _fail("compute", error)


def _unreadable(error: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read, in one line without the traceback."""
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); save it as UTF-8"
    return error.strerror or type(error).__name__


def import_metrics(args: argparse.Namespace) -> int:
    """Imports measured values from a CSV file into an OPEN cycle: every row or none."""
    from hub.operations.metrics import MetricValuesImport, import_metric_values

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"perfhub import-metrics: {args.file}: {_unreadable(error)}", file=sys.stderr)
        return USAGE_ERROR
    recorder = operator_audit("import-metrics", f"cycle:{args.cycle}")

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        caller = Caller(actor=recorder.subject, audit=recorder)
        report = await import_metric_values(sessionmaker, MetricValuesImport(args.cycle, text), caller)
        print(f"perfhub import-metrics: {report.imported} values stored ({report.replaced} replaced earlier ones)")
        return 0

    try:
        return asyncio.run(_with_sessionmaker(_settings(args), recorder, work))
    except (OperationError, AppraisalError) as error:
        return _fail("import-metrics", error)


def collect(args: argparse.Namespace) -> int:
    """Pulls an OPEN cycle's extension values from the business systems, with a progress bar."""
    from connectors.base import Period
    from hub.operations.collect import CycleCollectMetrics, collect_metrics

    settings = _settings(args)
    recorder = operator_audit("collect", f"cycle:{args.cycle}")

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        async with business_systems(settings) as (config, _demo), open_systems(settings, config) as systems:
            if systems is None:
                print("perfhub collect: no business systems: pass --systems FILE", file=sys.stderr)
                return 1
            report = await collect_metrics(
                sessionmaker,
                CycleCollectMetrics(args.cycle, refresh=args.refresh),
                Caller(actor=recorder.subject, audit=recorder),
                sources=systems.source_for,
                make_period=Period,
                progress=ConsoleProgress(),
            )
        print(
            f"perfhub collect: cycle {args.cycle}: {report.stored} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.stale} stale, {len(report.missing)} missing"
        )
        for missing in report.missing[:50]:
            print(f"  {missing.employee_no} {missing.indicator}: {missing.reason}")
        if len(report.missing) > 50:
            print(f"  ... and {len(report.missing) - 50} more")
        return 0

    try:
        return asyncio.run(_with_sessionmaker(settings, recorder, work))
    except (OperationError, AppraisalError) as error:
        return _fail("collect", error)
    except ConfigurationError as error:
        print(f"perfhub collect: {error}", file=sys.stderr)
        return 1


def export_schema(args: argparse.Namespace) -> int:
    from schema import print_schema

    text = print_schema()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def _grants(text: str) -> list[Grant]:
    try:
        return [Grant(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown grant in {text!r}") from None


def _key(text: str) -> int:
    """A row id given on the command line: what a database key can hold (32-bit on PostgreSQL)."""
    try:
        key = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= key <= MAX_KEY:
        raise argparse.ArgumentTypeError(f"{text} is not an id (1 to {MAX_KEY})")
    return key


MAX_ACTOR_CHARS = 200
"""The workflow trail's ``actor`` column holds 200 characters."""


def _actor(text: str) -> str:
    """A name for the workflow trail: printable, at most the column's width (a longer one failed in the driver)."""
    if not text.strip() or not text.isprintable() or len(text) > MAX_ACTOR_CHARS:
        raise argparse.ArgumentTypeError(f"must be printable text of 1 to {MAX_ACTOR_CHARS} characters")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse's, but an error is one line naming the command and the reason (exit code 2), not the usage
    block: the same shape as every other refusal of the command line."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfhub", description="perfhub: the performance data hub")
    parser.add_argument("--database-url", help="overrides PERFHUB_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve_parser = commands.add_parser("serve", help="run the hub (migrates, seeds the demo on first start)")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument(
        "--systems", help="a systems file (TOML) naming real business systems; overrides the demo"
    )
    serve_parser.add_argument(
        "--workers", type=int, help="processes serving HTTP, each with its own connection pool (PERFHUB_WORKERS)"
    )
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help="migrate the database to the latest revision").set_defaults(handler=migrate)

    token_parser = commands.add_parser("token", help="print a bearer token (signed with the hub's HS256 secret)")
    token_parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    token_parser.add_argument("--employee", help="the employee number the token speaks for")
    token_parser.add_argument("--subject", help="the token's subject (default: the employee number or demo-ROLE)")
    token_parser.add_argument(
        "--grant",
        action="extend",
        default=[],
        type=_grants,
        help=f"extra grants, comma-separated or repeated: {', '.join(grant.value for grant in Grant)}",
    )
    token_parser.add_argument(
        "--ttl",
        type=int,
        help="seconds the token is valid (default PERFHUB_TOKEN_TTL_SECONDS, at most PERFHUB_MAX_TOKEN_TTL_SECONDS)",
    )
    cli_insights.add_arguments(token_parser)
    token_parser.set_defaults(handler=token)

    seed_parser = commands.add_parser("seed", help="build the demo organisation in an empty database")
    seed_parser.add_argument("--seed", type=int, default=7, help="same seed, same organisation")
    seed_parser.add_argument("--employees", type=int, default=120)
    seed_parser.set_defaults(handler=seed)

    compute_parser = commands.add_parser("compute", help="score an OPEN cycle (OPEN -> SCORED)")
    compute_parser.add_argument("cycle", type=_key, help="the cycle id")
    compute_parser.add_argument(
        "--actor",
        type=_actor,
        help="who the cycle's workflow trail names (default: cli:<user>; the access audit always names the user)",
    )
    compute_parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="score even where a result would have no rating at all (needs --reason)",
    )
    compute_parser.add_argument("--reason", help="why scoring goes ahead with incomplete inputs (kept in the trail)")
    compute_parser.set_defaults(handler=compute)

    import_parser = commands.add_parser("import-metrics", help="import measured values from CSV into a cycle")
    import_parser.add_argument("file", help="CSV: employee_no,indicator,value[,fetched_at]")
    import_parser.add_argument("--cycle", type=_key, required=True, help="the cycle id (must be OPEN)")
    import_parser.set_defaults(handler=import_metrics)

    collect_parser = commands.add_parser("collect", help="pull an OPEN cycle's extension values from the systems")
    collect_parser.add_argument("cycle", type=_key, help="the cycle id")
    collect_parser.add_argument("--systems", help="a systems file (TOML); default: PERFHUB_SYSTEMS_FILE or the demo")
    collect_parser.add_argument(
        "--refresh",
        action="store_true",
        help="ask every system again, even where the connector cache holds a fresh answer (a corrected source)",
    )
    collect_parser.set_defaults(handler=collect)
    cli_org.register(commands)
    cli_cycles.register(commands)

    export_parser = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export_parser.add_argument("output", nargs="?", default="-", help="a file, or - for stdout")
    export_parser.set_defaults(handler=export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
