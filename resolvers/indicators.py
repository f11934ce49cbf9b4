"""Queries over indicators."""

from __future__ import annotations

from collections.abc import Sequence

from hub.db.models import Indicator
from hub.domain import IndicatorCategory
from resolvers.context import Context
from resolvers.loaders.base import select_rows
from resolvers.records import IndicatorRow


async def indicators(context: Context, category: IndicatorCategory | None) -> Sequence[IndicatorRow]:
    statement = select_rows(Indicator).order_by(Indicator.id)
    if category is not None:
        statement = statement.where(Indicator.category == category)
    async with context.sessionmaker() as session:
        return (await session.execute(statement)).all()
