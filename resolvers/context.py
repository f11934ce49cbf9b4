"""The typed per-request Context that every resolver receives as ``info.context``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from hub import policy
from hub.auth import ANONYMOUS, Principal
from hub.config import Settings
from hub.events.watcher import OutboxWatcher
from hub.operations import audit as audit_log
from hub.pseudonyms import Pseudonyms, pseudonyms_for
from hub.worker import Worker
from resolvers.loaders import Loaders
from resolvers.loaders.linked import LinkedSystems
from resolvers.scope import Scope


@dataclass
class Context:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    """What the request reads through: the primary, or the read replica for a principal ``bind`` sent there."""
    today: dt.date
    principal: Principal = ANONYMOUS
    request_id: str = ""
    """The hub's own id of the request (or socket): the audit's request id, named in logs and error messages."""
    client_request_id: str | None = None
    """The X-Request-Id the caller sent, bounded (``hub.guards.client_request_id``); kept beside the hub's own."""
    # Set by the HTTP integration; strawberry reads status codes and headers from them.
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    systems: LinkedSystems | None = None
    """The business systems' connectors (``connectors.registry.Systems``), owned by the app's lifespan."""
    worker: Worker | None = None
    """Where scoring and metric imports run (``hub.worker``); None: in this process."""
    outbox: OutboxWatcher | None = None
    """The process's watcher of new result events (``hub.events.watcher``), owned by the app's lifespan; None:
    subscriptions poll the outbox themselves."""
    connection_params: dict[str, object] | None = None
    """A WebSocket's ``connection_init`` payload (strawberry stores it here); None over HTTP."""
    charge: Callable[[int], Awaitable[float]] | None = None
    """Takes an operation's estimated cost from its caller's rate-limit bucket (schema.limits.CostLimiter):
    0.0 when taken, else the seconds to wait. Set by the hub's view; None where nothing is rate-limited."""
    cell_sizes: dict[str, asyncio.Future[Counter[tuple[int, ...]]]] = field(default_factory=dict)
    """How many people share each department-and-post cell (``resolvers.small_groups``), by what is counted:
    one read per request, shared by every row's fields."""

    replica: async_sessionmaker[AsyncSession] | None = None
    """The read replica the lifespan opened (PERFHUB_READ_DATABASE_URL); None: everyone reads the primary."""
    primary: async_sessionmaker[AsyncSession] | None = None
    """The primary, once ``bind`` pointed ``sessionmaker`` at the replica; None while they are the same."""

    def bind(self, principal: Principal, *, replica: bool = True) -> None:
        """Sets the authenticated principal (per request, or at a socket's ``connection_init``); one that reads
        from the replica (``policy.reads_from_replica``) reads through it from here on, unless ``replica`` is
        false."""
        self.principal = principal
        if replica and self.replica is not None and self.primary is None and policy.reads_from_replica(principal):
            self.primary, self.sessionmaker = self.sessionmaker, self.replica
            self.renew_loaders()

    @property
    def writer(self) -> async_sessionmaker[AsyncSession]:
        """Where this request's writes go (its access audit entries): always the primary, never a replica."""
        return self.primary if self.primary is not None else self.sessionmaker

    @cached_property
    def scope(self) -> Scope:
        return Scope(self.principal)

    @cached_property
    def pseudonyms(self) -> Pseudonyms | None:
        """The deployment's keyed ids for a pseudonymous principal; None for everyone else."""
        return pseudonyms_for(self.settings) if self.scope.pseudonymous else None

    def renew_loaders(self) -> None:
        """Drops the loaders and their caches. A subscription's context lives as long as its socket;
        each delivery renews them so that no answer is older than the event it belongs to."""
        self.__dict__.pop("loaders", None)

    def answered(self) -> None:
        """The request's answer is made: what it read for its fields goes now (``Loaders.release``). Not in
        ``renew_loaders``: an operation on the same socket may still be reading through the loaders it had."""
        loaders = self.__dict__.pop("loaders", None)
        if loaders is not None:
            loaders.release()
        self.cell_sizes.clear()
        self.charge = None  # a partial of the view holding this context: the context's own cycle

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(
            self.sessionmaker,
            self.today,
            self.scope,
            self.systems,
            on_compensation_read=self._audit_compensation_read,
            on_ratings_read=self._audit_ratings_read,
            on_denied_read=self._audit_denied_reads,
        )

    async def audit(self, operation: str, ids: list[str], outcome: str) -> None:
        """Appends an entry to the access audit in the name of this request's principal."""
        await audit_log.record_access(
            self.writer,
            self.principal,
            operation=operation,
            ids=ids,
            outcome=outcome,
            request_id=self.request_id,
            client_request_id=self.client_request_id,
        )

    async def _audit_ratings_read(self, reads: list[str]) -> None:
        """One entry for a batch of ``employee:ID@cycle:ID`` reads: the cycles, then the employees."""
        employees, cycles = zip(*(read.split("@", 1) for read in reads), strict=True)
        ids = sorted(set(cycles)) + list(dict.fromkeys(employees))
        await self.audit("Employee.ratingsReceived", ids, audit_log.OK)

    async def _audit_denied_reads(self, reads: list[str]) -> None:
        """One ``denied`` entry per field for a batch of ``Type.field|id`` refusals (a page of fifty employees
        whose compensation an analyst asked for is one entry naming the fifty)."""
        by_field: dict[str, list[str]] = {}
        for read in reads:
            field, _, touched = read.partition("|")
            by_field.setdefault(field, []).append(touched)
        for field, ids in by_field.items():
            await self.audit(field, ids, audit_log.DENIED)

    async def _audit_compensation_read(self, employee_numbers: list[str]) -> None:
        ids = [f"employee_no:{number}" for number in employee_numbers]
        await self.audit("Employee.compensationRecords", ids, audit_log.OK)
