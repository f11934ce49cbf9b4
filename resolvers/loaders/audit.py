"""Audit entries for reads, written once per batch: a page that reads fifty people's ratings writes one
entry naming the fifty, not fifty transactions (on SQLite, fifty writers queueing for one lock)."""

from __future__ import annotations

from resolvers.loaders.base import SharedLoader
from resolvers.loaders.linked import OnRead


class ReadAuditLoader(SharedLoader[str, None]):
    """``load(id)`` joins the id to the entry that the batch writes; an id read twice is written once."""

    def __init__(self, on_read: OnRead) -> None:
        super().__init__()
        self.on_read = on_read

    async def batch_load_fn(self, ids: list[str]) -> list[None]:
        await self.on_read(ids)
        return [None] * len(ids)
