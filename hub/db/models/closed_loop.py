"""The closed loop's configuration: which courses answer which indicator, and HR's merit matrix."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, utcnow


class TrainingNeedRule(Base):
    """For one indicator: the score under which a result shows a training need, and the related courses."""

    __tablename__ = "training_need_rules"

    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), primary_key=True)
    threshold: Mapped[float | None] = mapped_column(Float, default=None)
    """Null: the C grade's lower bound (``PERFHUB_GRADE_BANDS``), the default."""
    courses: Mapped[list[str]] = mapped_column(JSON)
    """Course names (or activity ids) as the training system reports completed courses."""
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    set_by: Mapped[str] = mapped_column(String(200))


class MeritMatrix(Base):
    """One version of HR's merit matrix; the newest is in force, the older ones stay as history."""

    __tablename__ = "merit_matrices"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition: Mapped[dict[str, object]] = mapped_column(JSON)
    """Currency, salary ranges per post family, position-in-range bounds and the cells (``hub.closedloop.matrix``)."""
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    set_by: Mapped[str] = mapped_column(String(200))
