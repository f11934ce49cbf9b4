"""The access audit: who did or read what sensitive thing, and when."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models.base import Base, Key, utcnow


class AuditEntry(Base):
    """One mutation, or one read of compensation or of another person's ratings.

    Written in the hub's own database so that it is backed up, replicated and queried with the data
    it protects; entries are only ever inserted.
    """

    __tablename__ = "audit_entries"

    id: Mapped[Key]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    roles: Mapped[str] = mapped_column(String(200))
    """The principal's roles, comma-separated, as they were when it acted."""
    operation: Mapped[str] = mapped_column(String(100), index=True)
    """The GraphQL field: a mutation's name, or e.g. ``Employee.compensationRecords``."""
    ids: Mapped[list[str]] = mapped_column(JSON)
    """The ids the operation touched, as ``Kind:id`` strings (``Employee:12``, ``Cycle:3``)."""
    outcome: Mapped[str] = mapped_column(String(32))
    """``ok``, ``denied`` or the failure's code."""
    request_id: Mapped[str] = mapped_column(String(64))
    """The hub's own id of the request (or of the CLI run): the one its logs and error messages name."""
    client_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """The X-Request-Id the caller sent, bounded; the caller's label, never taken for the hub's own."""
