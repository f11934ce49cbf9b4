"""The outbox of result events: written in the transaction that publishes, read by every subscriber."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, CycleRef, Key, Timestamp


class ResultEvent(Base):
    """One published (or revised) result. ``id`` orders the stream and is the cursor; ``event_id`` is the
    stable identity a consumer de-duplicates redeliveries by."""

    __tablename__ = "result_events"

    id: Mapped[Key]
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    cycle_id: Mapped[CycleRef]
    result_id: Mapped[int] = mapped_column(ForeignKey("appraisal_results.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    occurred_at: Mapped[Timestamp]
    snapshot: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """What the event carries (``hub.events.contents.snapshot_of``), taken in the transaction that wrote it: the
    figures of that moment. None for events written before migration 0015, which are read from the live tables."""
