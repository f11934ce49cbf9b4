"""Queries over appraisal cycles."""

from __future__ import annotations

from collections.abc import Sequence

from hub.db.models import Cycle
from resolvers.context import Context
from resolvers.errors import parse_id
from resolvers.loaders.base import select_rows
from resolvers.records import CycleRow


async def cycles(context: Context) -> Sequence[CycleRow]:
    statement = select_rows(Cycle).order_by(Cycle.period_start.desc(), Cycle.id.desc())
    async with context.sessionmaker() as session:
        return (await session.execute(statement)).all()


async def cycle(context: Context, id_: str) -> CycleRow | None:
    key = parse_id(id_)
    return None if key is None else await context.loaders.cycle_by_id.load(key)
