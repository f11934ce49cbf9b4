"""Webhooks: the endpoints hr_admin registers, one delivery per (endpoint, outbox event), and every attempt.

The delivery rows are the worker's whole state, so a restarted hub (or another hub process) carries on
where the last one stopped; the attempts are the delivery log hr_admin reads.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, Key, Timestamp


class WebhookEndpoint(Base):
    """An HTTPS (or HTTP) URL that receives result events, with its signing secret and filters."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[Key]
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    """Only the events of this cycle, when set."""
    post_family: Mapped[str | None] = mapped_column(String(64))
    """Only the events of results of posts of this family, when set."""
    secret: Mapped[str] = mapped_column(String(100))
    """``whsec_`` + base64: kept as is because signing needs it (HMAC), shown to hr_admin only once."""
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_secret_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    """Until then a rotated-out secret signs too, so the receiver can switch secrets without losing events."""
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    enqueued_up_to: Mapped[int] = mapped_column(Integer, default=0)
    """The outbox id up to which this endpoint's deliveries are made (its cursor into the stream)."""
    created_at: Mapped[Timestamp]
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookDelivery(Base):
    """One event for one endpoint: PENDING until DELIVERED or DEAD; a worker leases it while it posts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "outbox_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[Key]
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("result_events.id"))
    """The event's cursor: an endpoint's deliveries go out in this order."""
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts ever made; each has its own number, never reused (replays go on counting)."""
    round_start: Mapped[int] = mapped_column(Integer, default=0)
    """``attempts`` when the delivery was last (re-)queued: the retry schedule counts from here."""
    next_attempt_at: Mapped[Timestamp]
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    """A worker posting it holds it until then; a crashed worker's lease runs out and another takes over."""


class WebhookAttempt(Base):
    """One POST of a delivery: the delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[Key]
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    outbox_id: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer)
    at: Mapped[Timestamp]
    outcome: Mapped[str] = mapped_column(String(16))
    """What the delivery became: DELIVERED, RETRYING, DEAD, or DISABLED (410 Gone)."""
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
