"""Loaders for indicators and their versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Indicator, IndicatorVersion
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, RowsStatement, SessionLoader, select_rows
from resolvers.records import IndicatorRow, IndicatorVersionRow


class IndicatorByIdLoader(RowByKeyLoader[int, IndicatorRow]):
    key_column = Indicator.id

    def statement(self) -> RowsStatement:
        return select_rows(Indicator)


class IndicatorVersionByIdLoader(RowByKeyLoader[int, IndicatorVersionRow]):
    key_column = IndicatorVersion.id

    def statement(self) -> RowsStatement:
        return select_rows(IndicatorVersion)


class IndicatorVersionsByIndicatorLoader(RowsByKeyLoader[int, IndicatorVersionRow]):
    key_column = IndicatorVersion.indicator_id

    def statement(self) -> RowsStatement:
        return select_rows(IndicatorVersion).order_by(IndicatorVersion.version)


class CurrentIndicatorVersionByIndicatorLoader(SessionLoader[int, IndicatorVersionRow | None, IndicatorVersionRow]):
    """The version in force on ``today``: the highest-numbered one whose dates cover it."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], today: dt.date) -> None:
        super().__init__(sessionmaker)
        self.today = today

    async def batch_load_fn(self, keys: list[int]) -> list[IndicatorVersionRow | None]:
        statement = (
            select_rows(IndicatorVersion)
            .where(IndicatorVersion.indicator_id.in_(set(keys)))
            .where(IndicatorVersion.effective_from <= self.today)
            .where((IndicatorVersion.effective_to.is_(None)) | (IndicatorVersion.effective_to >= self.today))
            .order_by(IndicatorVersion.version)
        )
        # Ordered by version, so the last row seen per indicator is the one in force.
        current = {row.indicator_id: row for row in await self.fetch(statement)}
        return [current.get(key) for key in keys]
