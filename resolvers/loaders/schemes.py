"""Loaders for scheme versions, their items and rater-role weights."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import SchemeItem, SchemeRaterWeight, SchemeVersion
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, RowsStatement, SessionLoader, select_rows
from resolvers.records import RaterWeightRow, SchemeItemRow, SchemeVersionRow


class SchemeVersionByIdLoader(RowByKeyLoader[int, SchemeVersionRow]):
    key_column = SchemeVersion.id

    def statement(self) -> RowsStatement:
        return select_rows(SchemeVersion)


class SchemeVersionsByPostLoader(RowsByKeyLoader[int, SchemeVersionRow]):
    key_column = SchemeVersion.post_id

    def statement(self) -> RowsStatement:
        return select_rows(SchemeVersion).order_by(SchemeVersion.version)


class CurrentSchemeByPostLoader(SessionLoader[int, SchemeVersionRow | None, SchemeVersionRow]):
    """The scheme version in force for a post on ``today``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], today: dt.date) -> None:
        super().__init__(sessionmaker)
        self.today = today

    async def batch_load_fn(self, keys: list[int]) -> list[SchemeVersionRow | None]:
        statement = (
            select_rows(SchemeVersion)
            .where(SchemeVersion.post_id.in_(set(keys)))
            .where(SchemeVersion.effective_from <= self.today)
            .where((SchemeVersion.effective_to.is_(None)) | (SchemeVersion.effective_to >= self.today))
            .order_by(SchemeVersion.version)
        )
        current = {row.post_id: row for row in await self.fetch(statement)}
        return [current.get(key) for key in keys]


class SchemeItemsBySchemeLoader(RowsByKeyLoader[int, SchemeItemRow]):
    key_column = SchemeItem.scheme_version_id

    def statement(self) -> RowsStatement:
        return select_rows(SchemeItem).order_by(SchemeItem.position, SchemeItem.id)


class RaterWeightsBySchemeLoader(RowsByKeyLoader[int, RaterWeightRow]):
    key_column = SchemeRaterWeight.scheme_version_id

    def statement(self) -> RowsStatement:
        return select_rows(SchemeRaterWeight).order_by(SchemeRaterWeight.id)
