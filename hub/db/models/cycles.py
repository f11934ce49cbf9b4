"""Appraisal cycles, the scheme each post is pinned to, transitions, 360 ratings and measured metrics."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, CycleRef, Key, Timestamp
from hub.db.models.indicators import _enum
from hub.domain import CycleState, NominationState, RaterRole


class Cycle(Base):
    __tablename__ = "cycles"

    id: Mapped[Key]
    name: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    state: Mapped[CycleState] = mapped_column(_enum(CycleState), default=CycleState.DRAFT)
    created_at: Mapped[Timestamp]


class DeletedCycle(Base):
    """A cycle deleted while it was DRAFT. Its id is never given to another cycle: SQLite gives a new row
    the highest id plus one, so a deleted newest cycle's id would come back, and the access audit's
    ``cycle:<id>`` and a client retrying with an old id would then name a different cycle."""

    __tablename__ = "deleted_cycles"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    deleted_by: Mapped[str] = mapped_column(String(200))
    deleted_at: Mapped[Timestamp]


class CycleScheme(Base):
    """The scheme version a post is scored under in a cycle, pinned when the cycle opens."""

    __tablename__ = "cycle_schemes"
    __table_args__ = (UniqueConstraint("cycle_id", "post_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    scheme_version_id: Mapped[int] = mapped_column(ForeignKey("scheme_versions.id"))


class CycleTransition(Base):
    """The audit trail of a cycle's state machine: who moved it, when, from where to where, and why."""

    __tablename__ = "cycle_transitions"

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    from_state: Mapped[CycleState | None] = mapped_column(_enum(CycleState))
    to_state: Mapped[CycleState] = mapped_column(_enum(CycleState))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    """What the step changed beyond the state: the scope an opening pinned, who joined or left an OPEN cycle (a
    join or a leave is a step from OPEN to OPEN)."""
    at: Mapped[Timestamp]


class CycleLeaver(Base):
    """An active employee taken out of an OPEN cycle (``cycleLeave``) although their post stays in it: no longer a
    participant, so neither rated nor scored in it. A leaver of the organisation needs no row: only active
    employees take part."""

    __tablename__ = "cycle_leavers"
    __table_args__ = (UniqueConstraint("cycle_id", "employee_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[Timestamp]


class RaterAssignment(Base):
    """An evaluation relationship in a cycle: ``rater`` rates ``ratee`` in ``role``."""

    __tablename__ = "rater_assignments"
    __table_args__ = (UniqueConstraint("cycle_id", "ratee_id", "rater_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    ratee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    role: Mapped[RaterRole] = mapped_column(_enum(RaterRole))


class PeerNomination(Base):
    """A peer the ratee proposed as a rater in a cycle, and the manager's decision on it.

    An approved nomination has made a PEER rater assignment; the nomination stays as the record of who
    proposed it and who decided.
    """

    __tablename__ = "peer_nominations"
    __table_args__ = (UniqueConstraint("cycle_id", "ratee_id", "nominee_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    ratee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    nominee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    state: Mapped[NominationState] = mapped_column(_enum(NominationState), default=NominationState.PROPOSED)
    proposed_at: Mapped[Timestamp]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class Rating(Base):
    """One rater's rating of one core indicator for one ratee; a resubmission replaces it."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("cycle_id", "ratee_id", "rater_id", "indicator_version_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    ratee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    role: Mapped[RaterRole] = mapped_column(_enum(RaterRole))
    indicator_version_id: Mapped[int] = mapped_column(ForeignKey("indicator_versions.id"))
    value: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[Timestamp]


class MetricValue(Base):
    """A measured value of an extension indicator for one employee in one cycle, with provenance."""

    __tablename__ = "metric_values"
    __table_args__ = (UniqueConstraint("cycle_id", "employee_id", "indicator_version_id"),)

    id: Mapped[Key]
    cycle_id: Mapped[CycleRef]
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    indicator_version_id: Mapped[int] = mapped_column(ForeignKey("indicator_versions.id"))
    value: Mapped[float] = mapped_column(Float)
    system: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128))
    fetched_at: Mapped[dt.datetime]
    checksum: Mapped[str] = mapped_column(String(64))
    stale: Mapped[bool] = mapped_column(default=False)
