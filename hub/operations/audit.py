"""Writing the access audit. Entries are inserted, never changed.

An entry that records a change is written by the operation that makes the change, in the same
transaction, just before it commits (:class:`AuditRecorder`, :func:`audit_change`): the change and its
entry commit together or not at all, so no crash, lock or killed process can leave a change without
its entry. What changes nothing (a denied call, an expected failure, an unexpected error, a read of
compensation or of someone's ratings) is written in a short transaction of its own.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from hub.auth import Principal
from hub.db.models import AuditEntry

OK = "ok"
DENIED = "denied"
ERROR = "error"
"""An unexpected failure: the caller saw a masked error; nothing was written."""
OPERATOR_ROLE = "cli"
"""The role the audit names for a person running ``perfhub`` at the command line."""
MAX_AUDITED_CHARS = 64
"""The most of a caller's value (an id, an argument) an entry keeps; the rest is counted, not stored."""
MAX_AUDITED_IDS = 100
"""The most ids an entry keeps from a caller's arguments; the rest are counted."""

T = TypeVar("T")


class AuditRecorder:
    """One caller's entry for one operation, waiting to be written.

    The operation that makes the change calls :meth:`record` inside its transaction; ``committed`` turns
    true when that transaction commits. A caller whose operation did not commit an entry (it was
    denied, failed, or wrote nothing) writes one with :meth:`record_alone`.
    """

    def __init__(
        self,
        *,
        subject: str,
        roles: Iterable[str],
        operation: str,
        request_id: str,
        ids: Iterable[str] = (),
        client_request_id: str | None = None,
    ) -> None:
        self.subject = subject
        self.roles = ",".join(sorted(roles))
        self.operation = operation
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.ids = list(ids)
        self.committed = False

    @classmethod
    def for_principal(
        cls,
        principal: Principal,
        *,
        operation: str,
        request_id: str,
        ids: Iterable[str] = (),
        client_request_id: str | None = None,
    ) -> AuditRecorder:
        return cls(
            subject=principal.subject,
            roles=(role.value for role in principal.roles),
            operation=operation,
            request_id=request_id,
            ids=ids,
            client_request_id=client_request_id,
        )

    def values(self, outcome: str, ids: Iterable[str] = ()) -> dict[str, object]:
        """The entry's columns, with the ids given here added to the recorder's own."""
        return {
            "subject": self.subject,
            "roles": self.roles,
            "operation": self.operation,
            "ids": sorted({*self.ids, *ids}),
            "outcome": outcome,
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
        }

    async def record(self, session: AsyncSession, *ids: str) -> None:
        """Adds the entry of a successful change to ``session``'s transaction; ``ids`` name the rows the
        change wrote (``cycle:3``). Called last before the commit, so that nothing after it can fail."""
        await session.execute(insert(AuditEntry).values(**self.values(OK, ids)))
        event.listen(session.sync_session, "after_commit", self._mark_committed, once=True)

    def _mark_committed(self, _session: Session) -> None:
        self.committed = True

    async def record_alone(
        self, sessionmaker: async_sessionmaker[AsyncSession], outcome: str, ids: Iterable[str] = ()
    ) -> None:
        """Writes the entry of a call that changed nothing, in a transaction of its own."""
        async with sessionmaker.begin() as session:
            await session.execute(insert(AuditEntry).values(**self.values(outcome, ids)))


def bounded(value: str, limit: int = MAX_AUDITED_CHARS) -> str:
    """A caller's value as an entry keeps it: verbatim when short and printable; else its first ``limit``
    characters, escaped (no NUL, control character or lone surrogate reaches the database), and its length.

    The audit records what callers send, so a caller must not choose how much it stores: forty denied
    mutations with a 1 MB id once grew the database by 38 MB.
    """
    head = value[:limit]
    if len(value) <= limit and head.isprintable():
        return value
    return f"{ascii(head)[1:-1]}...({len(value)} chars)"


def bounded_ids(ids: Iterable[str], limit: int = MAX_AUDITED_IDS) -> list[str]:
    """At most ``limit`` ids, then one that counts the others."""
    kept = list(ids)
    if len(kept) <= limit:
        return kept
    return [*kept[:limit], f"...and {len(kept) - limit} more"]


def operator() -> str:
    """Who runs the command line, as the audit names them: ``cli:`` and the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment and no passwd entry for the uid
        return f"cli:uid-{os.getuid()}"


def operator_audit(operation: str, *ids: str) -> AuditRecorder:
    """The entry of one run of a writing ``perfhub`` verb: the operator, role ``cli``, the verb as operation."""
    return AuditRecorder(
        subject=operator(), roles=[OPERATOR_ROLE], operation=operation, request_id=uuid.uuid4().hex, ids=ids
    )


async def audit_failure(audit: AuditRecorder, sessionmaker: async_sessionmaker[AsyncSession], work: Awaitable[T]) -> T:
    """Awaits ``work``; when it fails without having committed its entry, the failure gets one of its own
    (the error's ``code``, else ``error``), and the error goes on."""
    try:
        return await work
    except Exception as error:
        if not audit.committed:
            await audit.record_alone(sessionmaker, getattr(error, "code", None) or ERROR)
        raise


async def audit_change(session: AsyncSession, audit: AuditRecorder | None, *ids: str) -> None:
    """What an operation calls last in its transaction: writes the entry when it was given a recorder.

    Operations take the recorder as an option because in-process callers (the demo seed, benchmarks,
    tests) may change data with nobody to audit, or audit the whole session (:func:`audit_every_commit`).
    """
    if audit is not None:
        await audit.record(session, *ids)


def audit_every_commit(
    sessionmaker: async_sessionmaker[AsyncSession], audit: AuditRecorder
) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker like ``sessionmaker`` whose every committing transaction also writes ``audit``'s entry.

    For code that takes no recorder but must be audited all the same (the demo seed run by
    ``perfhub seed``): each transaction gets its entry in the transaction itself, just before commit.
    """

    class AuditedSession(Session):
        pass

    def before_commit(session: Session) -> None:
        session.execute(insert(AuditEntry).values(**audit.values(OK)))

    event.listen(AuditedSession, "before_commit", before_commit)
    return async_sessionmaker(**{**sessionmaker.kw, "sync_session_class": AuditedSession})


async def record_access(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    operation: str,
    ids: Iterable[str],
    outcome: str,
    request_id: str,
    client_request_id: str | None = None,
) -> None:
    """Appends one entry in a transaction of its own: a read, or a call that changed nothing."""
    recorder = AuditRecorder.for_principal(
        principal, operation=operation, request_id=request_id, ids=ids, client_request_id=client_request_id
    )
    await recorder.record_alone(sessionmaker, outcome)
