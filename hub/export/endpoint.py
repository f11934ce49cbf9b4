"""``GET /export/<dataset>.<format>``: the bearer token, the rate limit, refusals, and the streamed response.

What a caller gets is decided by the export source that ``hub.app`` hands in (``resolvers.export``), which
reads with the API's own row scope, filters and small-cell rules, and refuses (``ExportRefused``) before the
first byte: a refusal is a status and a GraphQL-shaped error body, as ``/graphql`` answers it. Once the
response has started, a failure (the database gone) can only cut it short: the chunked body then ends without
its last chunk, which every HTTP client reports as an error, and a Parquet file lacks its footer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from hub import guards, policy
from hub.auth import AuthenticationError, Authenticator, Principal
from hub.config import Settings
from hub.db.engine import unavailable_reason
from hub.export.columns import DATASETS, Column
from hub.export.formats import Format, encode
from hub.ratelimit import Buckets, principal_key

log = logging.getLogger("perfhub.export")

MAX_EXPORTS_AT_ONCE = 2
"""Exports a process streams at once: each holds a database connection for as long as its client reads."""


class ExportRefused(Exception):
    """An export that cannot be made as asked: answered with ``status`` before any row is read."""

    def __init__(self, status: int, message: str, code: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What an export source is asked for: a dataset, the query parameters, and who asks."""

    dataset: str
    parameters: Mapping[str, Sequence[str]]
    principal: Principal
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    today: dt.date
    request_id: str
    replica: async_sessionmaker[AsyncSession] | None = None
    """The read replica (PERFHUB_READ_DATABASE_URL): an analyst's export reads it, as their queries do."""


@dataclass(frozen=True, slots=True)
class Export:
    """An export checked and ready to stream: its columns, a file name, and its rows, read as they are sent."""

    columns: Sequence[Column]
    filename: str
    batches: AsyncGenerator[pa.RecordBatch, None]


ExportSource = Callable[[ExportRequest], Awaitable[Export]]


@dataclass
class ExportEndpoint:
    """The Starlette endpoint of ``/export/{name}``; the rate-limit buckets are the GraphQL endpoint's, so that
    exports and queries draw on one allowance per principal."""

    settings: Settings
    clock: Callable[[], dt.date]
    authenticator: Authenticator
    source: ExportSource
    rate_limiter: Buckets
    auth_failures: Buckets
    running: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_EXPORTS_AT_ONCE))

    async def serve(self, request: Request) -> Response:
        """The route's handler (a bound method: Starlette calls it with the request)."""
        request_id = guards.request_id()
        response = await self._answer(request, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    async def _answer(self, request: Request, request_id: str) -> Response:
        dataset, _, suffix = str(request.path_params["name"]).rpartition(".")
        if dataset not in DATASETS or suffix not in set(Format):
            names = ", ".join(f"/export/{name}.csv|.parquet" for name in DATASETS)
            return guards.error_response(404, f"no such export; there are {names}", "NOT_FOUND")
        address = request.client.host if request.client is not None else "-"
        try:
            principal = await self._authenticate(request)
        except AuthenticationError as error:
            retry_after = await self.auth_failures.take(address)
            if retry_after > 0:
                return guards.rate_limited(retry_after, limit="auth_failures_per_minute")
            return guards.invalid_token(error.reason)
        if principal.is_anonymous:
            return guards.unauthenticated()
        if policy.provisions_only(principal):
            return guards.error_response(403, "a token with the scim role reads nothing here", "FORBIDDEN")
        retry_after = await self.rate_limiter.take(principal_key(principal, address))
        if retry_after > 0:
            return guards.rate_limited(retry_after)
        if self.running.locked():
            return guards.error_response(
                503,
                "the hub is streaming as many exports as it serves at once; retry shortly",
                "EXPORTS_BUSY",
                headers={"Retry-After": "5"},
            )
        asked = ExportRequest(
            dataset,
            {key: request.query_params.getlist(key) for key in request.query_params},
            principal,
            self.settings,
            request.app.state.resources.sessionmaker,
            self.clock(),
            request_id,
            request.app.state.resources.replica,
        )
        return await self._export(asked, Format(suffix))

    async def _authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if self.authenticator.may_block:  # a JWKS URL may be fetched: keep the event loop free
            return await asyncio.to_thread(self.authenticator.authenticate, header)
        return self.authenticator.authenticate(header)

    async def _export(self, asked: ExportRequest, format_: Format) -> Response:
        await self.running.acquire()
        try:
            export = await self.source(asked)
        except ExportRefused as refused:
            self.running.release()
            return guards.error_response(refused.status, refused.message, refused.code, parameter=refused.parameter)
        except Exception as error:
            self.running.release()
            reason = unavailable_reason(error)
            if reason is None:
                raise
            log.warning("export: database unavailable (request id %s): %s", asked.request_id, reason)
            message = f"The database is unavailable ({reason}); try again shortly (request id {asked.request_id})."
            return guards.error_response(503, message, "DATABASE_UNAVAILABLE")
        return _Streamed(
            encode(export.batches, export.columns, format_),
            media_type=format_.media_type,
            headers={"Content-Disposition": f'attachment; filename="{export.filename}.{format_.value}"'},
            done=self.running.release,
        )


class _Streamed(StreamingResponse):
    """A streamed export that gives its place back (``done``) however its sending ends: sent, failed, or its client
    gone before the first byte (when the body's own ``finally`` would never run)."""

    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        media_type: str,
        headers: Mapping[str, str],
        done: Callable[[], None],
    ) -> None:
        super().__init__(body, media_type=media_type, headers=headers)
        self.source = body
        self.done = done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_in_time(message: Message) -> None:
            # A client that stops reading blocks the send (flow control) and would keep its export's place, and
            # on PostgreSQL a connection and a transaction, for ever: two such clients would shut the export for
            # everyone (insider review F1). One that takes no chunk for SEND_TIMEOUT_SECONDS is dropped.
            try:
                await asyncio.wait_for(send(message), SEND_TIMEOUT_SECONDS)
            except TimeoutError:
                raise _ClientStalled from None

        try:
            await super().__call__(scope, receive, send_in_time)
        except* _ClientStalled:  # raised in the response's task group: it may come as a group
            log.warning("export: the client took nothing for %s s; its export was ended", SEND_TIMEOUT_SECONDS)
        finally:
            # Starlette leaves a body it stopped reading suspended: closed here, the export's connection goes
            # back to the pool before its place does.
            try:
                await self.source.aclose()
            finally:
                self.done()


class _ClientStalled(Exception):
    """The export's client stopped reading (``_Streamed``)."""


SEND_TIMEOUT_SECONDS = 30.0
"""How long a streamed export waits for its client to take a chunk before it gives its place up."""
