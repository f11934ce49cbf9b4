"""Appraisal results and the indicator scores that explain them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, CycleRef, Key, Timestamp
from hub.db.models.indicators import _enum
from hub.domain import Grade


class AppraisalResult(Base):
    """An employee's result in a cycle; post and department are copied so results never move."""

    __tablename__ = "appraisal_results"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id"),
        # A cycle's results by total, ties by id: the sorted lists' (and top-N's) keyset order (migration 0015).
        Index("ix_appraisal_results_cycle_total", "cycle_id", "total_score", "id"),
    )

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id"))
    total_score: Mapped[float] = mapped_column(Float)
    grade: Mapped[Grade] = mapped_column(_enum(Grade))
    rank_in_post: Mapped[int | None] = mapped_column(Integer)
    percentile_in_post: Mapped[float | None] = mapped_column(Float)
    rank_in_department: Mapped[int | None] = mapped_column(Integer)
    percentile_in_department: Mapped[float | None] = mapped_column(Float)
    calibrated: Mapped[bool] = mapped_column(default=False)
    # What the engine computed, kept when calibration changes total or grade.
    computed_total: Mapped[float] = mapped_column(Float)
    computed_grade: Mapped[Grade] = mapped_column(_enum(Grade))
    calibration_reason: Mapped[str | None] = mapped_column(Text)
    calibrated_by: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[Timestamp]


class IndicatorScore(Base):
    """One indicator's contribution to a result, with its inputs so the result can be recomputed."""

    __tablename__ = "indicator_scores"
    __table_args__ = (UniqueConstraint("result_id", "indicator_version_id"),)

    id: Mapped[Key]
    result_id: Mapped[int] = mapped_column(ForeignKey("appraisal_results.id"), index=True)
    indicator_version_id: Mapped[int] = mapped_column(ForeignKey("indicator_versions.id"))
    raw_value: Mapped[float | None] = mapped_column(Float)
    normalized_score: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    effective_weight: Mapped[float | None] = mapped_column(Float)
    weighted_score: Mapped[float | None] = mapped_column(Float)
    provenance_system: Mapped[str | None] = mapped_column(Text)
    provenance_metric: Mapped[str | None] = mapped_column(Text)
    provenance_fetched_at: Mapped[dt.datetime | None]
    provenance_stale: Mapped[bool] = mapped_column(default=False)
    provenance_checksum: Mapped[str | None] = mapped_column(Text)
    # For people-rated indicators: the per-role means that were combined, e.g. {"MANAGER": 4.0}.
    inputs: Mapped[dict[str, object] | None]
