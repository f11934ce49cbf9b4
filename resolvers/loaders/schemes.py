"""Loaders for scheme versions, their items and rater-role weights."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import SchemeItem, SchemeRaterWeight, SchemeVersion
from resolvers.loaders.base import Record, RowByKeyLoader, RowsByKeyLoader, SessionLoader, select_rows


class SchemeVersionByIdLoader(RowByKeyLoader[int]):
    key_column = SchemeVersion.id

    def statement(self) -> Select[Any]:
        return select_rows(SchemeVersion)


class SchemeVersionsByPostLoader(RowsByKeyLoader[int]):
    key_column = SchemeVersion.post_id

    def statement(self) -> Select[Any]:
        return select_rows(SchemeVersion).order_by(SchemeVersion.version)


class CurrentSchemeByPostLoader(SessionLoader[int, Record | None]):
    """The scheme version in force for a post on ``today``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], today: dt.date) -> None:
        super().__init__(sessionmaker)
        self.today = today

    async def batch_load_fn(self, keys: list[int]) -> list[Record | None]:
        statement = (
            select_rows(SchemeVersion)
            .where(SchemeVersion.post_id.in_(set(keys)))
            .where(SchemeVersion.effective_from <= self.today)
            .where((SchemeVersion.effective_to.is_(None)) | (SchemeVersion.effective_to >= self.today))
            .order_by(SchemeVersion.version)
        )
        current = {row.post_id: row for row in await self.fetch(statement)}
        return [current.get(key) for key in keys]


class SchemeItemsBySchemeLoader(RowsByKeyLoader[int]):
    key_column = SchemeItem.scheme_version_id

    def statement(self) -> Select[Any]:
        return select_rows(SchemeItem).order_by(SchemeItem.position, SchemeItem.id)


class RaterWeightsBySchemeLoader(RowsByKeyLoader[int]):
    key_column = SchemeRaterWeight.scheme_version_id

    def statement(self) -> Select[Any]:
        return select_rows(SchemeRaterWeight).order_by(SchemeRaterWeight.id)
