"""Queries over indicators."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_

from hub.db.models import Indicator
from hub.domain import IndicatorCategory
from resolvers.context import Context
from resolvers.loaders.base import select_rows
from resolvers.records import IndicatorRow


async def indicators(
    context: Context, category: IndicatorCategory | None, *, include_retired: bool = True
) -> Sequence[IndicatorRow]:
    """Every indicator (of a category), by id; without those retired by today unless ``include_retired``."""
    statement = select_rows(Indicator).order_by(Indicator.id)
    if category is not None:
        statement = statement.where(Indicator.category == category)
    if not include_retired:
        statement = statement.where(or_(Indicator.retired_on.is_(None), Indicator.retired_on > context.today))
    async with context.sessionmaker() as session:
        return (await session.execute(statement)).all()
