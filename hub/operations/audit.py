"""Writing the access audit. Entries are inserted, never changed; each in a short transaction of its own."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Principal
from hub.db.models import AuditEntry

OK = "ok"
DENIED = "denied"


async def record_access(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    operation: str,
    ids: Iterable[str],
    outcome: str,
    request_id: str,
) -> None:
    """Appends one audit entry."""
    async with sessionmaker.begin() as session:
        await session.execute(
            insert(AuditEntry).values(
                subject=principal.subject,
                roles=",".join(sorted(principal.roles)),
                operation=operation,
                ids=sorted(set(ids)),
                outcome=outcome,
                request_id=request_id,
            )
        )
