"""The declarative base, naming conventions and column types shared by every model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, mapped_column

# Stable constraint names, so that Alembic migrations name the same constraint the same way on
# SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: perfhub stores timezone-aware UTC timestamps only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, object]: JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Column declarations most tables repeat, each written once (SQLAlchemy's Annotated mapping: ``id: Mapped[Key]``).
Key = Annotated[int, mapped_column(primary_key=True)]
"""A table's own id."""
Timestamp = Annotated[dt.datetime, mapped_column(default=utcnow)]
"""When the row was written, unless the writer says."""
CycleRef = Annotated[int, mapped_column(ForeignKey("cycles.id"), index=True)]
"""The cycle a row belongs to, indexed: rows are read by cycle."""
