"""``perfhub cycles``: the cycles an operator can name to ``compute`` and ``collect``, one line each.

Read only (no audit entry): id, name, period, state and how many results are stored, oldest period first.
Registered with ``perfhub`` by ``hub/cli.py`` (:func:`register`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from typing import NamedTuple, TypeVar

from sqlalchemy import func, select

from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import AppraisalResult, Cycle
from hub.domain import CycleState

VERB = "cycles"


class CycleLine(NamedTuple):
    id: int
    name: str
    period_start: dt.date
    period_end: dt.date
    state: CycleState
    results: int


async def read_cycles(settings: Settings) -> list[CycleLine]:
    """Every cycle with its stored results counted, in one statement."""
    results = (
        select(AppraisalResult.cycle_id, func.count().label("results")).group_by(AppraisalResult.cycle_id).subquery()
    )
    statement = (
        select(
            Cycle.id,
            Cycle.name,
            Cycle.period_start,
            Cycle.period_end,
            Cycle.state,
            func.coalesce(results.c.results, 0),
        )
        .outerjoin(results, results.c.cycle_id == Cycle.id)
        .order_by(Cycle.period_start, Cycle.id)
    )
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return [CycleLine(*row) for row in await session.execute(statement)]
    finally:
        await engine.dispose()


def table(cycles: list[CycleLine]) -> list[str]:
    """The cycles as aligned columns under a header."""
    rows = [("ID", "NAME", "PERIOD", "STATE", "RESULTS")]
    rows += [(str(c.id), c.name, f"{c.period_start} to {c.period_end}", c.state.value, str(c.results)) for c in cycles]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, [*widths, 0], strict=True)).rstrip() for row in rows
    ]


def list_cycles(args: argparse.Namespace) -> int:
    """Prints every cycle: id, name, period, state, results stored."""
    from hub.cli import _settings

    cycles = asyncio.run(read_cycles(_settings(args)))
    for line in table(cycles) if cycles else [f"perfhub {VERB}: no cycle yet"]:
        print(line)
    return 0


Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Adds the verb to ``perfhub``'s sub-commands."""
    parser = commands.add_parser(VERB, help="list the cycles: id, name, period, state, results stored")
    parser.set_defaults(handler=list_cycles)
