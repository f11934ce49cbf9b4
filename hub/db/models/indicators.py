"""Indicators, their immutable numbered versions, and the per-post scheme versions built from them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.models.base import Base, Key, Timestamp
from hub.db.models.organisation import Post
from hub.domain import Direction, IndicatorCategory, MissingPolicy, RaterRole


def _enum(enum_type: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native enum type) so that adding a value needs no DDL on PostgreSQL.
    return Enum(enum_type, native_enum=False, length=32, validate_strings=True)


class Indicator(Base):
    __tablename__ = "indicators"

    id: Mapped[Key]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[IndicatorCategory] = mapped_column(_enum(IndicatorCategory), index=True)
    unit: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    # From this day on no new version and no new scheme version uses it; its history stays readable.
    retired_on: Mapped[dt.date | None]
    retired_reason: Mapped[str | None] = mapped_column(Text)


class Versioned:
    """The columns of an immutable numbered version: its validity, and who wrote it when and why.

    Indicator versions and scheme versions are versioned alike (``hub.operations.versions``): a change
    is a new row with the next number, and the only update to an older row closes its ``effective_to``.
    """

    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.date]
    effective_to: Mapped[dt.date | None]
    change_note: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[Timestamp]


class IndicatorVersion(Versioned, Base):
    """An immutable definition of an indicator; a change is a new row with the next number."""

    __tablename__ = "indicator_versions"
    __table_args__ = (UniqueConstraint("indicator_id", "version"),)

    id: Mapped[Key]
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    # The scoring rule as structured data, e.g. {"kind": "linear", "floor": 5, "target": 0.5}.
    rule: Mapped[dict[str, object]]
    missing_policy: Mapped[MissingPolicy] = mapped_column(_enum(MissingPolicy), default=MissingPolicy.EXCLUDE)
    source_system: Mapped[str] = mapped_column(String(64))
    source_metric: Mapped[str | None] = mapped_column(String(128))
    # The values that make sense for it (either end open); a '%' unit means 0 and 100 at the ends left unset.
    valid_min: Mapped[float | None] = mapped_column(Float)
    valid_max: Mapped[float | None] = mapped_column(Float)

    indicator: Mapped[Indicator] = relationship(lazy="raise")


class SchemeVersion(Versioned, Base):
    """A post's appraisal scheme as of a date: weighted indicator versions plus rater-role weights."""

    __tablename__ = "scheme_versions"
    __table_args__ = (UniqueConstraint("post_id", "version"),)

    id: Mapped[Key]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)

    post: Mapped[Post] = relationship(lazy="raise")


class SchemeItem(Base):
    __tablename__ = "scheme_items"
    __table_args__ = (UniqueConstraint("scheme_version_id", "indicator_version_id"),)

    id: Mapped[Key]
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id"), index=True)
    indicator_version_id: Mapped[int] = mapped_column(ForeignKey("indicator_versions.id"), index=True)
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SchemeRaterWeight(Base):
    """How much each rater role counts in the people-rated (core) part of a scheme."""

    __tablename__ = "scheme_rater_weights"
    __table_args__ = (UniqueConstraint("scheme_version_id", "role"),)

    id: Mapped[Key]
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id"), index=True)
    role: Mapped[RaterRole] = mapped_column(_enum(RaterRole))
    weight: Mapped[float] = mapped_column(Float)
