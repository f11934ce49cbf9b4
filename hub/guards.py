"""HTTP-level guards in front of GraphQL: body size, error responses, what an anonymous caller may ask."""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON = "application/json"
INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_NOT_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._-]")


def error_response(
    status_code: int, message: str, code: str, *, headers: Mapping[str, str] | None = None, **extensions: object
) -> Response:
    """A GraphQL-shaped error body (no ``data``: nothing was executed) with an HTTP status."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    # ASCII-escaped JSON: a message may echo the client's input, lone surrogates included, which
    # Starlette's JSONResponse could not encode as UTF-8.
    return Response(json.dumps(body), status_code=status_code, headers=dict(headers or {}), media_type=JSON)


def unauthenticated() -> Response:
    return error_response(401, "authentication required", "UNAUTHENTICATED", headers={"WWW-Authenticate": "Bearer"})


def invalid_token(reason: str) -> Response:
    # RFC 6750 3: the challenge names the error; the description is our short, non-revealing reason.
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return error_response(401, reason, "UNAUTHENTICATED", headers={"WWW-Authenticate": challenge})


def rate_limited(retry_after: float, *, limit: str = "rate_limit") -> Response:
    seconds = max(1, math.ceil(retry_after))
    message = "rate limit exceeded" if limit == "rate_limit" else "too many failed authentications"
    return error_response(
        429,
        f"{message}: retry after {seconds} s",
        "RATE_LIMITED",
        headers={"Retry-After": str(seconds)},
        limit=limit,
    )


def request_id() -> str:
    """The hub's own id of a request: what the audit, the logs, error messages and the X-Request-Id answer name.

    Never the caller's: an id the caller chooses could name another request's entries, or many requests alike.
    """
    return uuid.uuid4().hex


def client_request_id(header: str | None) -> str | None:
    """The caller's X-Request-Id, bounded, as the audit and the logs keep it beside the hub's own; None without
    one. A header that is no sane token keeps its first 64 characters, the others replaced by ``_``."""
    if not header:
        return None
    if _REQUEST_ID.fullmatch(header):
        return header
    return _NOT_IN_REQUEST_ID.sub("_", header[:64])


def is_introspection_only(query: str | None, *, max_tokens: int) -> bool:
    """True when every operation of the document is a query asking only for ``__schema``/``__type``/``__typename``.

    GraphiQL's documentation explorer sends such documents before the user has pasted a token.
    """
    if not query:
        return False
    try:
        document = parse(query, max_tokens=max_tokens, no_location=True)
    except (GraphQLError, RecursionError):
        return False
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    operations = [definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)]
    return bool(operations) and all(
        operation.operation is OperationType.QUERY and _only_introspection(operation.selection_set, fragments, set())
        for operation in operations
    )


def _only_introspection(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], visited: set[str]
) -> bool:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value not in INTROSPECTION_FIELDS:
                return False
        elif isinstance(selection, InlineFragmentNode):
            if not _only_introspection(selection.selection_set, fragments, visited):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None:
                return False
            if name in visited:
                continue
            visited.add(name)
            if not _only_introspection(fragment.selection_set, fragments, visited):
                return False
    return True


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the cap."""


class BodyTooSlow(Exception):
    """Raised from ``receive`` when a body has not arrived in full within the body timeout."""


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before the app parses it, and one
    that has not arrived in full ``timeout`` seconds after the headers is answered 408.

    A declared Content-Length is checked up front; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.max_bytes <= 0 and self.timeout is None):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_response(400, "invalid Content-Length", "BAD_REQUEST")(scope, receive, send)
                return
            if 0 < self.max_bytes < int(declared):
                await self._refuse(scope, receive, send)
                return
        received = 0
        response_started = False
        body_complete = False
        deadline = None if self.timeout is None else asyncio.get_running_loop().time() + self.timeout

        async def counting_receive() -> Message:
            nonlocal received, body_complete
            if body_complete or deadline is None:
                message = await receive()  # after the body: http.disconnect, whenever it comes
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if 0 < self.max_bytes < received:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._refuse(scope, receive, send)
        except BodyTooSlow:
            if response_started:
                raise
            message = f"the request body did not arrive within {self.timeout:g} s"
            await error_response(408, message, "REQUEST_TIMEOUT", limit="body_timeout_seconds")(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body exceeds the limit of {self.max_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
            limit="max_body_bytes",
            maximum=self.max_bytes,
        )
        await response(scope, receive, send)
