"""The ``perfhub`` command: serve, migrate, seed, compute, import-metrics, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import AppraisalError
from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.db.models import Department, utcnow
from hub.operations.errors import OperationError

T = TypeVar("T")


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
        await build_demo(
            sessionmaker, seed=seed, employees=employees, today=dt.datetime.now(dt.UTC).date(), progress=True
        )
        return True
    finally:
        await engine.dispose()


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    if settings.demo:
        seeded = asyncio.run(
            _seed(settings, seed=settings.demo_seed, employees=settings.demo_employees, only_if_empty=True)
        )
        if seeded:
            print("perfhub: seeded the demo organisation", flush=True)
    else:
        asyncio.run(_migrate(settings))
    print(f"perfhub: GraphQL at http://{host}:{port}/graphql (GraphiQL in a browser)", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level)
    return 0


def migrate(args: argparse.Namespace) -> int:
    asyncio.run(_migrate(_settings(args)))
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


async def _with_sessionmaker(settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    engine = create_engine(settings.database_url)
    try:
        return await work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def _fail(command: str, error: OperationError | AppraisalError) -> int:
    print(f"perfhub {command}: {error.code}: {error.message}", file=sys.stderr)
    for problem in getattr(error, "problems", [])[:50]:
        print(f"  line {problem.line}: {problem.message}", file=sys.stderr)
    return 1


def compute(args: argparse.Namespace) -> int:
    """Scores an OPEN cycle (OPEN -> SCORED) with a progress bar."""
    from hub.operations.scoring import score_cycle

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        report = await score_cycle(sessionmaker, args.cycle, actor=args.actor, bands=settings.bands(), progress=True)
        print(f"perfhub compute: cycle {args.cycle} scored: {report.scored} results, {len(report.blocked)} blocked")
        for blocked in report.blocked[:20]:
            print(f"  employee {blocked.employee_id}: {blocked.code}: {blocked.message}")
        return 0

    settings = _settings(args)
    try:
        return asyncio.run(_with_sessionmaker(settings, work))
    except (OperationError, AppraisalError) as error:
        return _fail("compute", error)


def import_metrics(args: argparse.Namespace) -> int:
    """Imports measured values from a CSV file into an OPEN cycle: every row or none."""
    from hub.operations.metrics import import_metric_values

    text = Path(args.file).read_text(encoding="utf-8-sig")

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        report = await import_metric_values(sessionmaker, cycle_id=args.cycle, csv_text=text, now=utcnow())
        print(f"perfhub import-metrics: {report.imported} values stored ({report.replaced} replaced earlier ones)")
        return 0

    try:
        return asyncio.run(_with_sessionmaker(_settings(args), work))
    except (OperationError, AppraisalError) as error:
        return _fail("import-metrics", error)


def export_schema(args: argparse.Namespace) -> int:
    from schema import print_schema

    text = print_schema()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfhub", description="perfhub: the performance data hub")
    parser.add_argument("--database-url", help="overrides PERFHUB_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the hub (migrates, seeds the demo on first start)")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help="migrate the database to the latest revision").set_defaults(handler=migrate)

    seed_parser = commands.add_parser("seed", help="build the demo organisation in an empty database")
    seed_parser.add_argument("--seed", type=int, default=7, help="same seed, same organisation")
    seed_parser.add_argument("--employees", type=int, default=120)
    seed_parser.set_defaults(handler=seed)

    compute_parser = commands.add_parser("compute", help="score an OPEN cycle (OPEN -> SCORED)")
    compute_parser.add_argument("cycle", type=int, help="the cycle id")
    compute_parser.add_argument("--actor", default="cli", help="who the audit trail names")
    compute_parser.set_defaults(handler=compute)

    import_parser = commands.add_parser("import-metrics", help="import measured values from CSV into a cycle")
    import_parser.add_argument("file", help="CSV: employee_no,indicator,value[,fetched_at]")
    import_parser.add_argument("--cycle", type=int, required=True, help="the cycle id (must be OPEN)")
    import_parser.set_defaults(handler=import_metrics)

    export_parser = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export_parser.add_argument("output", nargs="?", default="-", help="a file, or - for stdout")
    export_parser.set_defaults(handler=export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
