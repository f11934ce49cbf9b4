"""The history of hand changes to a result: every calibration and every correction, before and after."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, Key, Timestamp
from hub.db.models.indicators import _enum
from hub.domain import AdjustmentKind, Grade


class ResultAdjustment(Base):
    """One calibration or correction of a result, appended in the transaction that made the change.

    Rows are never updated. They go with their result when a reopened cycle discards its unpublished
    results (the cascade): the scores they adjusted no longer exist, and the reopen is in the cycle's
    transitions with its reason.
    """

    __tablename__ = "result_adjustments"

    id: Mapped[Key]
    result_id: Mapped[int] = mapped_column(ForeignKey("appraisal_results.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AdjustmentKind] = mapped_column(_enum(AdjustmentKind))
    total_before: Mapped[float] = mapped_column(Float)
    grade_before: Mapped[Grade] = mapped_column(_enum(Grade))
    total_after: Mapped[float] = mapped_column(Float)
    grade_after: Mapped[Grade] = mapped_column(_enum(Grade))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[Timestamp]
