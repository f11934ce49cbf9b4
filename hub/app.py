"""The ASGI application: routes, the lifespan that owns the database, and the GraphQL endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import math
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cross_web import AsyncHTTPRequestAdapter, HTTPException  # strawberry's HTTP layer, as its views use it
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from connectors.config import SystemsConfig
from connectors.registry import Systems
from hub import admission, graphiql, graphql_http, guards, insights_page, persisted, policy
from hub.auth import ANONYMOUS, AuthenticationError, Authenticator, Principal
from hub.config import Introspection, Settings
from hub.db.engine import (
    DatabaseTimeouts,
    create_bounded_engine,
    create_read_only_engine,
    create_sessionmaker,
    is_in_memory,
    served_pool,
    unavailable_reason,
)
from hub.events.watcher import OutboxWatcher
from hub.export.endpoint import ExportEndpoint
from hub.pseudonyms import pseudonyms_for
from hub.ratelimit import RedisRateLimiter, SubscriptionSlots, make_buckets, principal_key, tokens_for
from hub.systems import configured_systems, open_systems
from hub.webhooks import worker as webhooks
from hub.websocket import LegacyWSHandler, SocketRefused, TransportWSHandler
from hub.worker import Worker
from resolvers.context import Context
from resolvers.errors import TokenExpired
from resolvers.export import open_export
from schema import build_schema
from schema.masking import DATABASE_UNAVAILABLE, database_unavailable_message
from schema.operation_guard import RateLimited

if TYPE_CHECKING:
    from hub.scim.app import ScimApp

log = logging.getLogger("perfhub")

Clock = Callable[[], dt.date]

_JSON_CONTAINER = re.compile(rb"[ \t\r\n]*[\[{]")

_HTTP_OPERATION_TYPES: dict[str, frozenset[OperationType]] = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}
"""What HTTP executes here. Strawberry admits subscriptions over GET and POST too, for its SSE and multipart
transports, which the hub does not serve: executed as a single result, a subscription fails inside graphql-core."""

TOO_MANY_FAILED_AUTHENTICATIONS = 4429
"""The close code of a socket whose address is over its failed authentications (graphql-ws does not retry 44xx)."""
_SCIM_ONLY = "a token with the scim role provisions people at /scim/v2 and reads nothing here"
_SOCKET_TOKEN_MISSING = 'authentication required: send {"Authorization": "Bearer <token>"} in connection_init'


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class Resources:
    """What the lifespan opens and closes; handlers reach it through ``app.state.resources``."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    systems: Systems | None = None
    worker: Worker | None = None
    """The process that scores and imports for API callers (``hub.worker``); None: they run in this one."""
    outbox: OutboxWatcher | None = None
    """Wakes the process's live subscriptions when the outbox grows (``hub.events.watcher``)."""
    replica: async_sessionmaker[AsyncSession] | None = None
    """Analysts' queries read through it (PERFHUB_READ_DATABASE_URL, read-only connections); None: unset."""


class _Refused(Exception):
    """Ends an HTTP request early with a ready response (401, 429)."""

    def __init__(self, response: Response) -> None:
        self.response = response


class PerfhubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI endpoint: authenticates every request and socket, rate-limits, builds the Context.

    Over HTTP the bearer token is in the Authorization header; over a WebSocket it is in the
    ``connection_init`` payload, and the principal then holds for every operation on the socket,
    until the token expires. Every operation on a socket takes a token from the person's rate-limit
    bucket, the one their HTTP requests take from, and more once its estimated cost is known (``charge``).
    Without a token a caller may load GraphiQL, and run introspection-only documents when introspection
    is public, nothing else. Failed authentications are limited per client address.
    """

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, settings: Settings, clock: Clock, authenticator: Authenticator) -> None:
        # The insights page's documents and the portals' (PERFHUB_PERSISTED_DOCUMENTS), by SHA-256: pinned parsed
        # and validated in the schema's caches, and with PERFHUB_PERSISTED_ONLY the only documents that run.
        self.persisted = persisted.PersistedDocuments.load(
            portals=settings.persisted_documents,
            persisted_only=settings.persisted_only,
            learned_max=settings.persisted_learned_max,
        )
        schema = build_schema(
            settings,
            self.persisted.prepared,
            refuse_unregistered=settings.persisted_only,
            compiled_plans=settings.compiled_plans,
        )
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.clock = clock
        self.authenticator = authenticator
        self.rate_limiter = make_buckets(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            settings.rate_limit_redis_url,
            prefix="perfhub:ratelimit:",
        )
        self.auth_failures = make_buckets(
            settings.auth_failures_per_minute / 60,
            settings.auth_failures_per_minute,
            settings.rate_limit_redis_url,
            prefix="perfhub:authfail:",
        )
        # A request inside at once per pooled connection (hub.db.engine.served_pool) but the ones the process's own
        # work takes: the others wait at the door, before they hold anything, not in the pool's queue mid-flight.
        self.door = admission.Door(admission.capacity(served_pool(settings)), settings.operation_queue_timeout_seconds)
        self.subscription_slots = SubscriptionSlots(settings.max_subscriptions, settings.max_subscriptions_per_process)
        # Strawberry's page loads GraphiQL from a CDN; this one, from the hub (hub/graphiql.py). Built once,
        # so that a file it needs and the hub lacks is logged at startup.
        self.graphiql_page = (
            graphiql.build_page(
                super().graphql_ide_html, introspection_needs_token=settings.introspection is Introspection.TOKEN
            )
            if settings.graphiql
            else None
        )

    @property
    def graphql_ide_html(self) -> str:
        return self.graphiql_page.html if self.graphiql_page else super().graphql_ide_html

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.graphiql_page is None:
            return await super().render_graphql_ide(request)
        return self.graphiql_page.response()  # with its Content-Security-Policy

    def decode_json(self, data: str | bytes) -> object:
        # Bytes that are not UTF-8, arrays nested past Python's recursion limit, or an integer of more digits
        # than Python converts (a ValueError, not a JSONDecodeError) are a client's malformed body or
        # WebSocket message, not a server error: JSONDecodeError is how strawberry's HTTP and WebSocket
        # sides recognise one (400, and hub/websocket.py closes the socket with 4400).
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except UnicodeDecodeError:
            raise UnacceptedJSON("it is not UTF-8") from None
        except RecursionError:
            raise UnacceptedJSON("it is nested too deeply") from None
        except ValueError:  # Python's limit on int digits, the one other ValueError json.loads raises
            raise UnacceptedJSON(f"an integer has more than {sys.get_int_max_str_digits()} digits") from None

    def parse_json(self, data: str | bytes) -> object:
        try:
            return self.decode_json(data)
        except UnacceptedJSON as error:
            raise HTTPException(400, f"The request body is not JSON perfhub accepts: {error.msg}") from None
        except json.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        # Strawberry assumes a JSON body is an object or an array; `null` or `3` would reach it as a 500.
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            body = await request.get_body()
            if not _JSON_CONTAINER.match(body.encode() if isinstance(body, str) else body):
                raise HTTPException(400, "The request body must be a JSON object")
        data = await super().parse_http_body(request)
        # A persisted document's hash becomes its registered text here, before admission and the extensions.
        try:
            if isinstance(data, list):
                return [self.persisted.resolve(one) for one in data]
            return self.persisted.resolve(data)
        except persisted.PersistedQueryError as error:
            raise _Refused(_persisted_refusal(error, request.headers.get("accept"))) from None

    async def authenticate(self, authorization: str | None) -> Principal:
        if self.authenticator.may_block:  # a JWKS URL may be fetched: keep the event loop free
            return await asyncio.to_thread(self.authenticator.authenticate, authorization)
        return self.authenticator.authenticate(authorization)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        request.state.request_id = guards.request_id()
        request.state.client_request_id = guards.client_request_id(request.headers.get("x-request-id"))
        response: Response
        try:
            request.state.principal = await self.authenticate_request(request)
            if request.state.principal.is_anonymous and not self._anonymous_may_ask(request):
                # Before the body is read: an anonymous flood costs the hub a header parse per request.
                raise await self._refuse_anonymous(request)
            if policy.provisions_only(request.state.principal):
                raise _Refused(guards.error_response(403, _SCIM_ONLY, "FORBIDDEN"))
            # The request's first rate-limit token, before the body is read too: a principal over its
            # limit costs no body parse either. Its cost takes the rest once estimated (``charge``).
            key = principal_key(request.state.principal, _address(request))
            retry_after = await self.rate_limiter.take(key)
            if retry_after > 0:
                log.info("rate limit: %s must wait %.1f s", key, retry_after)
                raise _Refused(guards.rate_limited(retry_after))
            response = await self.run(request)
        except admission.Busy as refused:
            log.warning("busy: request %s waited %.1f s for its turn", request.state.request_id, refused.waited)
            response = admission.busy(refused)
        except (AuthenticationError, _Refused, HTTPException) as error:
            response = _refusal_response(error)
        except (guards.BodyTooLarge, guards.BodyTooSlow):
            raise  # guards.BodySizeLimit, around the app, answers them with 413 and 408
        except ClientDisconnect:
            # A client that leaves before its body is in is not a fault of the hub, and there is nobody to answer.
            log.info("client left before sending its whole request (request id %s)", request.state.request_id)
            return
        except Exception as error:
            # The last line of defence: whatever escaped strawberry's own masking still reaches the client
            # as GraphQL JSON naming the request id, never as Starlette's text/plain 500.
            reason = unavailable_reason(error)
            if reason is not None:  # not a defect: the database is away
                log.warning(
                    "database unavailable (request id %s, client's %s): %s",
                    request.state.request_id,
                    request.state.client_request_id or "-",
                    reason,
                )
                response = _database_unavailable(request, reason)
            else:
                log.exception(
                    "unexpected error (request id %s, client's %s)",
                    request.state.request_id,
                    request.state.client_request_id or "-",
                )
                response = guards.error_response(
                    500, f"Unexpected error (request id {request.state.request_id})", "INTERNAL_SERVER_ERROR"
                )
        if response.status_code == 429 and self.settings.refusal_delay_seconds > 0:
            # A client over its limit waits for its refusal: a sleeping request costs the hub nothing, and a
            # flood that sends its next request when the last is answered slows to one per connection and
            # delay, instead of hundreds of refusals a second that the event loop serves before anyone else.
            await asyncio.sleep(self.settings.refusal_delay_seconds)
        if response.status_code >= 400 and "x-request-id" not in response.headers:
            response.headers["X-Request-Id"] = request.state.request_id
        # A GraphQL response with errors and no data: in the client's media type, as any other answer.
        wants_graphql_response = (
            graphql_http.response_media_type(request.headers.get("accept")) == graphql_http.GRAPHQL_RESPONSE
        )
        if wants_graphql_response and response.headers.get("content-type", "").startswith(guards.JSON):
            response.headers["content-type"] = GRAPHQL_RESPONSE_CONTENT_TYPE
        await response(scope, receive, send)

    async def authenticate_request(self, request: Request) -> Principal:
        """The request's principal. Each failure is counted against the client address; past its limit a
        failure is 429 rather than 401, and tells nothing about the token. A valid token is never refused
        here: one client's stale token must not lock out everyone behind the same address (an office NAT)."""
        try:
            return await self.authenticate(request.headers.get("authorization"))
        except AuthenticationError:
            address = _address(request)
            retry_after = await self.auth_failures.take(address)
            if retry_after > 0:
                log.info("failed authentications: %s must wait %.1f s", address, retry_after)
                raise _Refused(guards.rate_limited(retry_after, limit="auth_failures_per_minute")) from None
            raise

    async def close(self) -> None:
        """Closes the rate limit's Redis connections, if any (the app's lifespan ends)."""
        for buckets in (self.rate_limiter, self.auth_failures):
            if isinstance(buckets, RedisRateLimiter):
                await buckets.close()

    def _anonymous_may_ask(self, request: Request) -> bool:
        """Whether a request without a token goes on to strawberry: GraphiQL's page (a GET without a query),
        and, when introspection is public, a document that ``_admit`` then checks is introspection only."""
        return policy.may_introspect(ANONYMOUS, self.settings) or (
            request.method == "GET" and "query" not in request.query_params
        )

    async def _refuse_anonymous(self, request: Request) -> _Refused:
        """401 for an operation without a token; counted as a failed authentication of the address, so that
        an anonymous flood is soon answered 429."""
        retry_after = await self.auth_failures.take(_address(request))
        if retry_after > 0:
            return _Refused(guards.rate_limited(retry_after, limit="auth_failures_per_minute"))
        return _Refused(guards.unauthenticated())

    async def charge(self, context: Context, cost: int) -> float:
        """Takes what an operation's estimated cost adds to the token its arrival took, from the caller's
        bucket: 0.0 when taken, else the seconds until the bucket holds it (nothing is taken then)."""
        extra = tokens_for(cost, self.settings.rate_limit_cost_unit) - 1
        if extra <= 0:
            return 0.0
        key = principal_key(context.principal, _address(context.request))
        retry_after = await self.rate_limiter.take(key, extra)
        if retry_after > 0:
            log.info("rate limit: %s must wait %.1f s for an operation of cost %d", key, retry_after, cost)
        return retry_after

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # The answer's media type, negotiated once; create_response reads it there (it is not handed the request).
        sub_response.media_type = graphql_http.response_media_type(request.headers.get("accept"))
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        if sub_response.media_type != graphql_http.GRAPHQL_RESPONSE:
            return super().create_response(response_data, sub_response)  # application/json: 200, as ever
        if isinstance(response_data, dict) and graphql_http.is_request_error(response_data):
            # Nothing was executed: no data entry, and a 4xx (GraphQL over HTTP, application/graphql-response+json).
            sub_response.status_code = graphql_http.request_error_status(response_data.get("errors") or [])
            response_data = response_data.copy()
            del response_data["data"]
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = GRAPHQL_RESPONSE_CONTENT_TYPE
        return response

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        resources: Resources = request.app.state.resources
        # HTTP requests got theirs in __call__, so that an error escaping execution names the same id.
        request_id = getattr(request.state, "request_id", None) or guards.request_id()
        client_request_id = guards.client_request_id(request.headers.get("x-request-id"))
        if isinstance(request, WebSocket):
            principal = ANONYMOUS  # the principal arrives with connection_init: see on_ws_connect
        else:
            principal = request.state.principal
            if isinstance(response, Response):
                response.headers["X-Request-Id"] = request_id
        context = Context(
            settings=self.settings,
            sessionmaker=resources.sessionmaker,
            replica=resources.replica,
            systems=resources.systems,
            worker=resources.worker,
            outbox=resources.outbox,
            today=self.clock(),
            request_id=request_id,
            client_request_id=client_request_id,
            request=request,
            response=response,
        )
        context.bind(principal)
        context.charge = functools.partial(self.charge, context)
        return context

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        await self._admit(request, request_data, context.principal)
        # Once the body is in (a slow client waits outside), until the answer is ready (not while it is sent).
        try:
            async with self.door.entered():
                return await super().execute_operation(
                    request, request_adapter, request_data, context, root_value, sub_response
                )
        finally:
            context.answered()

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, with the operation types of ``_HTTP_OPERATION_TYPES`` and our answers for the others."""
        try:
            result = await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=_HTTP_OPERATION_TYPES.get(request_adapter.method, frozenset()),
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            raise _Refused(_wrong_method(error.operation_type, request)) from None
        except CannotGetOperationTypeError as error:  # as strawberry answers these
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        refused = _rate_limited(result)
        if refused is not None:  # the operation's cost was more than its caller's bucket held: nothing ran
            raise _Refused(guards.rate_limited(refused))
        return result

    async def _admit(
        self, request: Request, data: GraphQLRequestData | list[GraphQLRequestData], principal: Principal
    ) -> None:
        """Refuses anonymous operations but introspection, when it is public (the request's first rate-limit
        token was taken in ``__call__``)."""
        documents = data if isinstance(data, list) else [data]
        if principal.is_anonymous and not (
            policy.may_introspect(principal, self.settings)
            and all(
                guards.is_introspection_only(document.query, max_tokens=self.settings.max_tokens)
                for document in documents
            )
        ):
            raise await self._refuse_anonymous(request)

    async def admit_socket_operation(self, context: Context) -> GraphQLError | None:
        """The error refusing an operation on an authenticated socket, or None to let it start.

        The token may have expired since ``connection_init``, or the principal used up its rate limit.
        Checked when the operation arrives, before its document is parsed, as ``_admit`` is per request;
        the schema's OperationGuard checks the expiry again when the operation executes.
        """
        principal = context.principal
        if principal.expired(dt.datetime.now(dt.UTC), self.settings.jwt_leeway_seconds):
            return TokenExpired()
        key = principal_key(principal, _address(context.request))
        retry_after = await self.rate_limiter.take(key)
        if retry_after > 0:
            log.info("rate limit: %s must wait %.1f s (WebSocket)", key, retry_after)
            return RateLimited(retry_after)
        return None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticates a socket from its ``connection_init`` payload ``{"Authorization": "Bearer ..."}``."""
        params = getattr(context, "connection_params", None) or {}
        header = next(
            (value for key, value in params.items() if key.lower() == "authorization" and isinstance(value, str)),
            None,
        )
        if header is None:
            raise SocketRefused(_SOCKET_TOKEN_MISSING)
        try:
            principal = await self.authenticate(header)
        except AuthenticationError as error:
            retry_after = await self.auth_failures.take(_address(context.request))
            if retry_after > 0:
                reason = f"too many failed authentications: retry after {math.ceil(retry_after)} s"
                raise SocketRefused(reason, TOO_MANY_FAILED_AUTHENTICATIONS) from None
            raise SocketRefused(error.reason) from None
        if principal.is_anonymous:
            raise SocketRefused(_SOCKET_TOKEN_MISSING)
        if policy.provisions_only(principal):
            raise SocketRefused(_SCIM_ONLY)
        # A socket reads the primary: its subscriptions are woken by the primary's outbox and must then read the
        # events that woke them, which a replica behind it may not hold yet.
        context.bind(principal, replica=False)
        unset: UnsetType = UNSET  # acknowledge without a payload
        return unset


GRAPHQL_RESPONSE_CONTENT_TYPE = f"{graphql_http.GRAPHQL_RESPONSE}; charset=utf-8"


class UnacceptedJSON(json.JSONDecodeError):
    """JSON the hub does not decode: ``msg`` says why (an integer too long, too deep, not UTF-8)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)


def _address(request: Request | WebSocket | None) -> str:
    """The client's address as the socket shows it (behind a proxy, run uvicorn with --proxy-headers)."""
    client = getattr(request, "client", None)
    return client.host if client is not None else "-"


def _rate_limited(result: ExecutionResult) -> float | None:
    """The retry-after of an operation refused by its cost's rate limit (nothing ran), else None."""
    if result.data is not None or not result.errors:
        return None
    extensions = result.errors[0].extensions or {}
    if extensions.get("code") != "RATE_LIMITED":
        return None
    retry_after = extensions.get("retryAfter")
    return float(retry_after) if isinstance(retry_after, int | float) else 1.0


def _refusal_response(error: AuthenticationError | _Refused | HTTPException) -> Response:
    """The answer to a request refused before or instead of execution: a GraphQL error body with its status."""
    if isinstance(error, AuthenticationError):
        return guards.invalid_token(error.reason)
    if isinstance(error, _Refused):
        return error.response
    # strawberry's 4xx (unparsable body, unknown operation name, ...)
    code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "HTTP_ERROR")
    return guards.error_response(error.status_code, error.reason, code)


def _persisted_refusal(error: persisted.PersistedQueryError, accept: str | None) -> Response:
    """An unknown hash: 200 in legacy application/json (Apollo's clients read the code from the body), 404 in
    application/graphql-response+json (as Apollo's router); a hash that is not the text's, or a text the
    safelist (PERFHUB_PERSISTED_ONLY) refuses: 400."""
    legacy = graphql_http.response_media_type(accept) == graphql_http.JSON
    status = 400 if error.code in persisted.REQUEST_ERRORS else 200 if legacy else 404
    return guards.error_response(status, error.message, error.code)


def _database_unavailable(request: Request, reason: str) -> Response:
    """A request error saying the database is away: 503 in application/graphql-response+json, and 200 in legacy
    application/json, whose clients read errors from the body of a 200 (GraphQL over HTTP)."""
    media_type = graphql_http.response_media_type(request.headers.get("accept"))
    status = graphql_http.code_status(DATABASE_UNAVAILABLE) if media_type == graphql_http.GRAPHQL_RESPONSE else 200
    request_id: str = request.state.request_id
    message = database_unavailable_message(reason, request_id)
    return guards.error_response(status, message, DATABASE_UNAVAILABLE, headers={"X-Request-Id": request_id})


def _wrong_method(operation_type: OperationType, request: Request) -> Response:
    """The answer to an operation HTTP does not execute here: a subscription, or a mutation sent with GET."""
    if operation_type is OperationType.SUBSCRIPTION:
        message = f"subscriptions are served over WebSocket (graphql-transport-ws) at {request.url.path}, not over HTTP"
        return guards.error_response(400, message, "WEBSOCKET_REQUIRED")
    # GraphQL over HTTP: a mutation in a GET request is 405, with the method that would do.
    message = f"{operation_type.value} operations must be sent with POST"
    return guards.error_response(405, message, "METHOD_NOT_ALLOWED", headers={"Allow": "POST"})


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers within the readiness timeout; else 503, within that timeout too.

    The probe's own limit matters: an orchestrator's probe that hangs through a partition never learns that
    this process cannot serve. Cancelled at the deadline, the probe's connection is invalidated by the pool.
    """
    resources: Resources = request.app.state.resources
    timeout: float = request.app.state.settings.readiness_timeout_seconds
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline, resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means not ready
        # The body is public (no token needed): our phrase for the failure, never the driver's message.
        if deadline.expired():
            reason = f"no answer within {timeout:g} s"
        else:
            reason = unavailable_reason(error) or "the database check failed"
        log.warning("readiness check failed: %s (%s: %s)", reason, type(error).__name__, str(error).partition("\n")[0])
        return JSONResponse({"status": "unavailable", "database": "unreachable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _scim_on_first_use(authenticator: Authenticator, clock: Callable[[], dt.date]) -> ASGIApp:
    """SCIM provisioning (``hub.scim.app``), built at its first request: its libraries (scim2-models, scim2-server)
    took a second of CPU to import at every start, a quarter of ``perfhub serve``'s, for a route most processes never
    serve. The import runs in a thread, so that the rest of the hub goes on answering meanwhile."""
    built: asyncio.Future[ASGIApp] | None = None

    def imported() -> type[ScimApp]:
        from hub.scim.app import ScimApp

        return ScimApp

    async def build() -> ASGIApp:
        return (await asyncio.to_thread(imported))(authenticator, clock).mounted

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal built
        if built is None:  # one build however many requests arrive meanwhile
            built = asyncio.ensure_future(build())
        try:
            scim_app = await asyncio.shield(built)
        except BaseException:
            if built.done():
                built = None  # a failed build is tried again by the next request
            raise
        await scim_app(scope, receive, send)

    return mounted


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_today,
    systems: SystemsConfig | None = None,
    after_startup: Callable[[], None] | None = None,
) -> Starlette:
    """The hub as an ASGI app; the database engine and the business systems' clients live exactly as
    long as the app's lifespan. ``systems`` defaults to the settings' systems file, if any; ``after_startup``
    runs once the lifespan has opened everything (``perfhub serve`` freezes the garbage collector there).

    Raises AuthConfigurationError when there is no key to verify bearer tokens with (or to key the
    pseudonyms of analysts without the names grant: PERFHUB_ID_KEY when tokens are verified by a JWKS), and
    ConfigurationError when the systems file is invalid.
    """
    settings = settings or Settings()
    authenticator = Authenticator(settings)
    pseudonyms_for(settings)  # a deployment without a key for analysts' pseudonyms must not start
    systems = systems if systems is not None else configured_systems(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeouts = DatabaseTimeouts.of(settings)
        pool = served_pool(settings)
        engine = create_bounded_engine(settings.database_url, timeouts, **pool)
        read_url = settings.read_database_url
        replica = create_read_only_engine(read_url, timeouts, **pool) if read_url else None
        # A database in this process's memory cannot be opened by another: its work stays here.
        use_worker = settings.worker_process and not is_in_memory(settings.database_url)
        worker = Worker(settings, systems) if use_worker else None
        try:
            sessionmaker = create_sessionmaker(engine)
            watcher = OutboxWatcher.of(settings, engine, sessionmaker) if settings.outbox_watcher else None
            async with (
                open_systems(settings, systems) as connected,
                watcher.running() if watcher is not None else contextlib.nullcontext(),
                webhooks.running(sessionmaker, settings, watcher),
            ):
                app.state.resources = Resources(
                    engine,
                    sessionmaker,
                    connected,
                    worker,
                    watcher,
                    replica=create_sessionmaker(replica) if replica is not None else None,
                )
                app.state.settings = settings  # for readyz's timeout
                if after_startup is not None:
                    after_startup()
                yield
        finally:
            if worker is not None:
                await worker.close()
            await graphql.close()
            await engine.dispose()
            if replica is not None:
                await replica.dispose()

    graphql = PerfhubGraphQL(settings, clock, authenticator)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Mount("/scim", _scim_on_first_use(authenticator, clock)),  # SCIM 2.0 provisioning at /scim/v2 (hub/scim)
        # The BI export (hub/export): the API's rows for the caller (resolvers.export), streamed as CSV or Parquet.
        Route(
            "/export/{name}",
            ExportEndpoint(
                settings, clock, authenticator, open_export, graphql.rate_limiter, graphql.auth_failures
            ).serve,
        ),
        *([graphiql.assets_route()] if settings.graphiql else []),
        *insights_page.routes(settings, graphql.persisted),  # the /insights page (hub/static/insights)
    ]
    middleware = [
        Middleware(guards.BodySizeLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds)
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
