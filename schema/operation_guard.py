"""What every operation passes just before it executes, whatever the transport: an unexpired token, fresh loaders.

Over HTTP the token is verified with every request, so an expired one is refused before it gets here.
Over a WebSocket it is verified once, at ``connection_init``, and one Context serves every operation
on the socket; this guard makes those operations behave like requests: refused once the token has
expired (allowing the verifier's leeway), and each one starting with fresh loaders, so that a query
after a mutation on the same socket reads what the mutation wrote and no cache lives as long as the
socket. Mutations get the full statement timeout, above the connections' read timeout (hub.db.engine), and an
analyst's queries the analysts' own (``policy.statement_limited``), answered STATEMENT_TIMEOUT when hit. The
transport's own admission checks (rate limit) run earlier, in ``hub.app``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from hub import policy
from hub.db.engine import WRITE_STATEMENT_TIMEOUT
from hub.db.lease import OPERATION_LEASE, SEAT, ConnectionLease
from resolvers.context import Context
from resolvers.errors import TokenExpired


class RateLimited(GraphQLError):
    """The principal has used up its rate limit; ``retryAfter`` says in how many seconds to try again."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"rate limit exceeded: retry after {seconds} s",
            extensions={"code": "RATE_LIMITED", "limit": "rate_limit", "retryAfter": seconds},
        )


class OperationGuard(SchemaExtension):
    """Refuses an operation whose token has expired, before it executes; else gives it fresh loaders.

    It runs in ``on_execute``, after the parse and validation caches and the document limits, so that
    it touches neither. It raises rather than setting a result: strawberry executes a subscription even
    when an extension has set one, but turns an error raised here into the operation's answer.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        if context.principal.expired(dt.datetime.now(dt.UTC), context.settings.jwt_leeway_seconds):
            raise TokenExpired
        context.renew_loaders()
        # Queries and subscriptions read under the connection's read timeout; a mutation's transactions get
        # the full statement timeout. Put back afterwards: in process (tests, the ASGI transport) the request
        # shares its caller's task. Set, not reset with a token: a generator may be closed from another context.
        operation_type = self.execution_context.operation_type
        writes = operation_type is OperationType.MUTATION
        previous = WRITE_STATEMENT_TIMEOUT.get()
        WRITE_STATEMENT_TIMEOUT.set(statement_timeout(context, writes=writes))
        # A query's reads take turns on one pooled connection (hub.db.lease), given back when it ends, however it
        # ends. Not a mutation's transactions, nor a subscription's reads: this hook ends when its stream starts.
        lease = (
            ConnectionLease(context.settings.database_pool_timeout_seconds, SEAT.get())
            if operation_type is OperationType.QUERY
            else None
        )
        previous_lease = OPERATION_LEASE.get()
        OPERATION_LEASE.set(lease)
        try:
            yield
        finally:
            WRITE_STATEMENT_TIMEOUT.set(previous)
            OPERATION_LEASE.set(previous_lease)
            if lease is not None:
                await lease.close()


def statement_timeout(context: Context, *, writes: bool) -> float | None:
    """The statement timeout of an operation's transactions, in seconds; None keeps the connection's (the read
    statement timeout). Never above the full statement timeout, which the client-side deadline follows."""
    settings = context.settings
    if writes:
        return settings.database_statement_timeout_seconds
    if policy.statement_limited(context.principal):
        return min(settings.analyst_statement_timeout_seconds, settings.database_statement_timeout_seconds)
    return None
