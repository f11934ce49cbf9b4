"""The WebSocket side of /graphql: both subprotocols, refused and admitted as the HTTP side is.

Strawberry's handlers trust the shape of each frame; a frame that is JSON but not a message of the
protocol (``[1, 2]``, a ``start`` without a payload) raised inside them, logged a traceback and dropped
the socket without a close code; so did a message that is not JSON the hub decodes (an integer of more
than 4,300 digits), and graphql-ws ignored other text that is not JSON. Here a malformed frame closes the
socket with 4400 and a reason, and an undecodable one before the socket is authenticated also counts as a
failed authentication of the client's address.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping
from contextlib import suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from graphql import GraphQLError, GraphQLFormattedError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
    SubscribeMessagePayload,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ErrorMessage,
    OperationMessage,
    StartMessage,
    StartMessagePayload,
)

from hub import admission
from hub.ratelimit import principal_key
from resolvers.context import Context
from resolvers.event_results import EncodedData
from resolvers.slow_subscribers import TOO_SLOW_CLOSE_CODE, too_slow_reason

if TYPE_CHECKING:
    from hub.app import PerfhubGraphQL

log = logging.getLogger("perfhub")

INVALID_MESSAGE = 4400
"""graphql-transport-ws's code for a message that breaks the protocol; used for graphql-ws too."""
TOO_MANY_INITIALISATIONS = 4429
SUBSCRIPTIONS_ONLY = "graphql-ws serves subscriptions only: send queries and mutations over HTTP"

OperationPayload: TypeAlias = SubscribeMessagePayload | StartMessagePayload
"""What an operation asks for, in either protocol's message (``subscribe`` or ``start``)."""


class SocketRefused(Exception):
    """Refuses a socket at ``connection_init``: both protocols' handlers close it with ``code`` and ``reason``.

    4401 (no valid token) rather than the 4403 strawberry closes a ConnectionRejectionError with: graphql-ws
    clients give up at once on 4401 and show the reason, while they retry 4403 five times with backoff (~40 s).
    No socket is refused 4403: every authenticated role may connect (what it may read is the schema's business).
    """

    def __init__(self, reason: str, code: int = 4401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def malformed(message: object) -> str | None:
    """Why a frame is not a well-formed message of either protocol, or None when it is."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string 'type'"
    kind = message["type"]
    if kind in {"subscribe", "start", "complete", "stop"} and not isinstance(message.get("id"), str):
        return f"a '{kind}' message needs a string 'id'"
    if kind in {"subscribe", "start"}:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return f"a '{kind}' message needs a payload with a string 'query'"
        if not isinstance(payload.get("variables") or {}, dict):
            return "'variables' must be an object"
        if not isinstance(payload.get("operationName") or "", str):
            return "'operationName' must be a string"
    return None


def _not_a_subscription(payload: OperationPayload) -> bool:
    """True when the document parses and its operation is a query or a mutation (the graphql-ws protocol
    serves subscriptions only; strawberry would fail on them with an internal error). Documents that do
    not parse are left to strawberry, which answers them with the syntax error."""
    try:
        document = parse(payload["query"])
    except GraphQLError:
        return False
    operation = get_operation_ast(document, payload.get("operationName"))
    return operation is not None and operation.operation != OperationType.SUBSCRIPTION


def _is_subscription(payload: OperationPayload, max_tokens: int) -> bool:
    """True when the document parses and the operation it runs is a subscription."""
    try:
        document = parse(payload["query"], max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):
        return False
    operation = get_operation_ast(document, payload.get("operationName"))
    return operation is not None and operation.operation == OperationType.SUBSCRIPTION


async def _refuse_undecodable(
    handler: TransportWSHandler | LegacyWSHandler, error: NonJsonMessageReceived, authenticated: bool
) -> None:
    """Closes the socket of a message that is not JSON the hub decodes with 4400, the reason saying why.

    Before a valid ``connection_init`` the message is a failed authentication of the address, as a bad
    token is: a client cycling sockets of undecodable messages soon has its ``connection_init`` refused 4429.
    """
    cause = error.__cause__
    why = cause.msg if isinstance(cause, json.JSONDecodeError) else "it does not decode"
    reason = f"WebSocket message is not JSON perfhub accepts: {why}"[:120]  # a close reason holds 123 bytes
    address = _client_address(handler.context)
    if not authenticated:
        await handler.view.auth_failures.take(address)
    log.info("WebSocket closed (%d) for %s: %s", INVALID_MESSAGE, address, reason)
    await handler.websocket.close(code=INVALID_MESSAGE, reason=reason)


def _client_address(context: Context) -> str:
    client = getattr(context.request, "client", None)
    return client.host if client is not None else "-"


class TooManySubscriptions(GraphQLError):
    """A subscription refused because its principal, or this process, holds the most it may."""

    def __init__(self, limit: str, maximum: int) -> None:
        whose = "this principal" if limit == "max_subscriptions" else "this hub process"
        super().__init__(
            f"too many subscriptions: {whose} holds the maximum of {maximum}; complete one before starting another",
            extensions={"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit, "maximum": maximum},
        )


async def _hold_slot(
    view: PerfhubGraphQL, context: Context, payload: OperationPayload
) -> tuple[str | None, GraphQLError | None]:
    """A subscription slot for the operation when it is a subscription: (the slot's key or None, refusal)."""
    if not _is_subscription(payload, view.settings.max_tokens):
        return None, None
    return _take_slot(view, context)


def _take_slot(view: PerfhubGraphQL, context: Context) -> tuple[str | None, GraphQLError | None]:
    """A subscription slot for the socket's principal: (the slot's key or None, refusal)."""
    key = principal_key(context.principal, _client_address(context))
    refused = view.subscription_slots.acquire(key)
    if refused is None:
        return key, None
    slots = view.subscription_slots
    maximum = slots.per_principal if refused == "max_subscriptions" else slots.per_process
    log.info("subscription refused: %s holds %d (%s)", key, slots.held(key), refused)
    return None, TooManySubscriptions(refused, maximum)


def _release_when_done(view: PerfhubGraphQL, key: str, task: asyncio.Task[object] | None) -> None:
    """Gives the slot back when the operation's task ends, however it ends (completed, stopped, socket closed)."""
    if task is None:
        view.subscription_slots.release(key)
    else:
        task.add_done_callback(lambda _task: view.subscription_slots.release(key))


def _client_went_away(error: BaseException) -> bool:
    """True for the errors of sending to a socket the client has closed: the end of a subscription, not a fault."""
    if isinstance(error, WebSocketDisconnected | WebSocketDisconnect | ConnectionError):
        return True
    # Starlette refuses a send after the close handshake with a RuntimeError naming it (or, once the hub closed
    # the socket itself, as a too-slow subscriber's is, one saying that a close message has been sent).
    return isinstance(error, RuntimeError) and ("websocket.close" in str(error) or "close message" in str(error))


async def _close_if_too_slow(context: Context) -> None:
    """Closes the socket with ``TOO_SLOW_CLOSE_CODE`` after a stream ended as too slow sent its error (once)."""
    reason = too_slow_reason(context)
    socket = context.request
    if reason is not None and isinstance(socket, WebSocket) and socket.application_state != WebSocketState.DISCONNECTED:
        log.info("WebSocket closed (%d): %s", TOO_SLOW_CLOSE_CODE, reason)
        with suppress(Exception):  # closed meanwhile by the stream's own closer or the client
            await socket.close(code=TOO_SLOW_CLOSE_CODE, reason=reason)


def _encoded_once(message: Mapping[str, object]) -> str | None:
    """The message's JSON when its payload is only an event's data encoded once (``EncodedData``): the same
    text strawberry would encode, without encoding the event again for every subscriber it goes to."""
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1 or not isinstance(data := payload.get("data"), EncodedData):
        return None
    head = _head(tuple((key, value) for key, value in message.items() if key != "payload"))
    return head + ',"payload":{"data":' + data.json() + "}}"


@lru_cache(maxsize=1024)
def _head(fields: tuple[tuple[str, object], ...]) -> str:
    # A stream's messages differ only in their payload: its id and type are encoded once, not once per event.
    return json.dumps(dict(fields), separators=(",", ":"))[:-1]


async def _send(handler: TransportWSHandler | LegacyWSHandler, message: Mapping[str, object]) -> bool:
    """Sends a message whose event data is encoded already; False when it is not one (strawberry sends it)."""
    socket = handler.websocket
    text = _encoded_once(message) if isinstance(socket, ASGIWebSocketAdapter) else None
    if text is None or not isinstance(socket, ASGIWebSocketAdapter):
        return False
    try:
        await socket.ws.send_text(text)
    except WebSocketDisconnect as error:  # as strawberry's adapter raises it
        raise WebSocketDisconnected from error
    return True


class ServerBusy(GraphQLError):
    """A query or mutation on a socket whose turn at the process's door (``hub.admission``) did not come in time:
    the socket's answer to what HTTP answers 503 ``SERVER_BUSY``."""

    def __init__(self, refused: admission.Busy) -> None:
        super().__init__(
            f"the hub is busy: your operation waited {math.ceil(refused.waited)} s for its turn; "
            f"retry after {admission.RETRY_AFTER_SECONDS} s",
            extensions={"code": "SERVER_BUSY", "retryAfter": admission.RETRY_AFTER_SECONDS},
        )


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, admitting each operation on the socket as an HTTP request is admitted."""

    view: PerfhubGraphQL  # strawberry types it as any view; this handler serves only ours

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Any: strawberry's handler takes its view as Any
        super().__init__(*args, **kwargs)
        # The ids of the socket's queries and mutations not yet started: each runs inside the process's door, as
        # an HTTP request does (a query holds a pooled connection while it runs; a socket must not be a way
        # round the limit). Subscriptions do not: they are limited by their slots, and a stream holds no
        # connection between its reads.
        self.through_the_door: set[str] = set()

    async def handle_task_exception(self, error: Exception) -> None:
        # A subscriber that closes its socket while an event is on its way is how a consumer stops
        # (and how one crashes): strawberry would log it with a traceback as a worker fault.
        if _client_went_away(error) or _client_went_away(error.__cause__ or error):
            log.info("WebSocket closed by the client during a delivery: %s", type(error).__name__)
            return
        await super().handle_task_exception(error)

    async def send_message(self, message: Message) -> None:
        if not await _send(self, message):
            await super().send_message(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        try:
            if operation.id not in self.through_the_door:
                await super().run_operation(operation)
                return
            self.through_the_door.discard(operation.id)
            try:
                async with self.view.door.entered():
                    await super().run_operation(operation)
            except admission.Busy as refused:
                log.info("WebSocket operation refused: %s", refused)
                await operation.send_initial_errors([ServerBusy(refused)])
        finally:
            await _close_if_too_slow(self.context)

    async def handle(self) -> None:
        # Strawberry's loop, but for the refusal of a message that does not decode (_refuse_undecodable).
        self.on_request_accepted()
        try:
            try:
                async for message in self.websocket.iter_json():
                    await self.handle_message(message)
            except NonTextMessageReceived:
                await self.handle_invalid_message("WebSocket message type must be text")
            except NonJsonMessageReceived as error:
                await _refuse_undecodable(self, error, self.connection_acknowledged)
        except WebSocketDisconnected:
            pass
        finally:
            await self.shutdown()

    async def handle_message(self, message: object) -> None:
        reason = malformed(message)
        if reason is not None:
            await self.handle_invalid_message(reason)  # closes with 4400 and the reason
            return
        await super().handle_message(cast(Message, message))  # a message of the protocol: malformed() checked it

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refusal:  # raised by on_ws_connect, past strawberry's own checks
            log.info("WebSocket refused (%d): %s", refusal.code, refusal.reason)
            await self.websocket.close(code=refusal.code, reason=refusal.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # The protocol's own refusals (no connection_ack yet, an id in use) close the socket: theirs first.
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)
            return
        refusal = await self.view.admit_socket_operation(self.context)
        subscription = refusal is None and _is_subscription(message["payload"], self.view.settings.max_tokens)
        key: str | None = None
        if subscription:
            key, refusal = _take_slot(self.view, self.context)
        if refusal is not None:
            await self.send_message({"id": message["id"], "type": "error", "payload": [refusal.formatted]})
            return
        if not subscription:
            self.through_the_door.add(message["id"])
        await super().handle_subscribe(message)
        if key is not None:
            operation = self.operations.get(message["id"])
            _release_when_done(self.view, key, operation.task if operation is not None else None)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (subscriptions only), admitting each operation on the socket as an HTTP request is admitted."""

    view: PerfhubGraphQL  # as above

    async def handle(self) -> None:
        # Strawberry's loop, but a message that does not decode closes the socket (_refuse_undecodable)
        # instead of being ignored, as the malformed ones are.
        try:
            try:
                async for message in self.websocket.iter_json():
                    await self.handle_message(message)  # type: ignore[arg-type]  # malformed() checks it
            except NonTextMessageReceived:
                await self.websocket.close(code=1002, reason="WebSocket message type must be text")
            except NonJsonMessageReceived as error:
                await _refuse_undecodable(self, error, self.connection_acknowledged)
        except WebSocketDisconnected:
            pass
        finally:
            if self.keep_alive_task:
                self.keep_alive_task.cancel()
                with suppress(BaseException):
                    await self.keep_alive_task
            await self.cleanup()

    async def handle_message(self, message: OperationMessage) -> None:
        reason = malformed(message)
        if reason is not None:
            await self.websocket.close(code=INVALID_MESSAGE, reason=reason)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        if self.connection_acknowledged:
            # Strawberry would authenticate a second init and swap the principal, while the socket's
            # Context keeps the row scope built for the first: one token's reach under another's name.
            # graphql-transport-ws closes the socket on a second init; so does this protocol here.
            await self.websocket.close(code=TOO_MANY_INITIALISATIONS, reason="Too many initialisation requests")
            return
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refusal:
            # The protocol's refusal, then the close code graphql-transport-ws gives it (strawberry's 1011
            # would say "server error").
            log.info("WebSocket (graphql-ws) refused (%d): %s", refusal.code, refusal.reason)
            await self.send_message({"type": "connection_error", "payload": {"message": refusal.reason}})
            await self.websocket.close(code=refusal.code, reason=refusal.reason)

    async def send_message(self, message: OperationMessage) -> None:
        if not await _send(self, message):
            await super().send_message(message)

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        # Strawberry's graphql-ws task lets a send to a socket the client closed escape, and asyncio logs it
        # as "Task exception was never retrieved" with a traceback: a client leaving is not a fault.
        try:
            await super().handle_async_results(operation_id, query, operation_name, variables)
        except Exception as error:
            if not _client_went_away(error):
                raise
            log.info("WebSocket (graphql-ws) closed by the client during a delivery: %s", type(error).__name__)
        finally:
            await _close_if_too_slow(self.context)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            if _not_a_subscription(message["payload"]):
                only: GraphQLFormattedError = {"message": SUBSCRIPTIONS_ONLY}
                await self.send_message(ErrorMessage(type="error", id=message["id"], payload=only))
                return
            # A start replaces a running operation of the same id, refused or not: no limit-free restarts,
            # and its slot is free before the new one is counted.
            await self.cleanup_operation(message["id"])
            refusal = await self.view.admit_socket_operation(self.context)
            key: str | None = None
            if refusal is None:
                key, refusal = await _hold_slot(self.view, self.context, message["payload"])
            if refusal is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": refusal.formatted})
                return
            await super().handle_start(message)
            if key is not None:
                _release_when_done(self.view, key, self.tasks.get(message["id"]))
            return
        await super().handle_start(message)
