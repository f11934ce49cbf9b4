"""``perfhub import-org FILE.csv [--dry-run]``: the organisation import from the command line.

The verb lives here rather than in ``hub/cli.py``, which registers it with :func:`register`; it runs the
same operation as the ``organisationImport`` mutation, audited with the operator like the other writing
verbs, and prints a line per thousand rows of a big file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal import AppraisalError
from hub.operations.audit import operator_audit
from hub.operations.commands import Caller
from hub.operations.errors import OperationError
from hub.operations.org_import import ImportCounts, OrganisationImport, OrganisationImported, import_organisation

VERB = "import-org"


class LinePerStep:
    """Progress as one printed line per step the import reports (a thousand rows each)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def begin(self, task: str, total: int | None, unit: str) -> None:
        self.total, self.done = total, 0

    def advance(self, done: int = 1, note: str | None = None) -> None:
        self.done += done
        print(f"perfhub {VERB}: {self.done} of {self.total} rows", flush=True)

    def end(self) -> None:
        pass


def _counts(counts: ImportCounts) -> str:
    return f"{counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged"


def summary(report: OrganisationImported) -> str:
    """What the import did, as the verb prints it."""
    stored = "would be stored (dry run: nothing was)" if report.dry_run else "stored"
    return (
        f"perfhub {VERB}: {stored}: departments {_counts(report.departments)}; posts {_counts(report.posts)}; "
        f"employees {_counts(report.employees)} ({report.employees.transferred} transferred, "
        f"{report.employees.deactivated} deactivated)"
    )


def import_org(args: argparse.Namespace) -> int:
    """Imports departments, posts and employees from a CSV file: every row or none."""
    from hub.cli import USAGE_ERROR, _fail, _settings, _unreadable, _with_sessionmaker

    try:
        command = OrganisationImport(csv=Path(args.file).read_text(encoding="utf-8-sig"), dry_run=args.dry_run)
    except (OSError, UnicodeDecodeError) as error:
        print(f"perfhub {VERB}: {args.file}: {_unreadable(error)}", file=sys.stderr)
        return USAGE_ERROR
    recorder = operator_audit(VERB)
    caller = Caller(actor=recorder.subject, audit=recorder)

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        print(summary(await import_organisation(sessionmaker, command, caller, progress=LinePerStep())))
        return 0

    try:
        return asyncio.run(_with_sessionmaker(_settings(args), recorder, work))
    except (OperationError, AppraisalError) as error:
        return _fail(VERB, error)


Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Adds the verb to ``perfhub``'s sub-commands."""
    parser = commands.add_parser(VERB, help="import departments, posts and employees from CSV (all rows or none)")
    parser.add_argument("file", help="CSV, one row per employee: see the README, 'Bringing your own organisation'")
    parser.add_argument("--dry-run", action="store_true", help="check and count, store nothing")
    parser.set_defaults(handler=import_org)
