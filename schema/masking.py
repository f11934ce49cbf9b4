"""Unexpected errors are masked for the client and logged with the request id; ours stay readable.

An error is *ours* when it is a GraphQL error by construction: the parser's and the validator's
(no original error), one a resolver raised deliberately (a GraphQLError subclass such as
BadUserInput or Forbidden), or one that carries ``extensions.code``. Anything else is a Python
exception escaping a resolver or an extension, whose text may show internals.

One kind of unexpected error is not a defect: the database being away (refused, silent, out of
connections; ``hub.db.engine.unavailable_reason`` decides). It is answered as ``DATABASE_UNAVAILABLE``
with a sentence a client can act on (try again), and logged as a warning without a traceback, since
an outage of minutes would otherwise bury the log in identical ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from hub import policy
from hub.db.engine import is_statement_timeout, unavailable_reason
from resolvers.context import Context
from schema.extension_runner import StreamingExtensionsRunner

log = logging.getLogger("perfhub.graphql")

DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
STATEMENT_TIMEOUT = "STATEMENT_TIMEOUT"


def statement_timeout_message(seconds: float, request_id: str) -> str:
    """What an analyst reads when a statement of their query ran past the analysts' statement timeout."""
    return (
        f"The query ran longer than the analysts' statement timeout ({seconds:g} s) and was cancelled; narrow it "
        f"(filters, fewer groups, a smaller page) rather than trying again (request id {request_id})."
    )


def database_unavailable_message(reason: str, request_id: str) -> str:
    """What a client reads when the database is away: that it is, why, and that trying again may help."""
    return f"The database is unavailable ({reason}); try again shortly (request id {request_id})."


def is_unexpected(error: GraphQLError) -> bool:
    """True when the error's message may show internals and must be masked."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not (error.extensions and "code" in error.extensions)


def database_unavailable(error: GraphQLError) -> str | None:
    """Why the database could not serve, when that is what this unexpected error says; else None."""
    original = error.original_error
    if original is None or not is_unexpected(error):
        return None
    return unavailable_reason(original)


def _request_id(execution_context: ExecutionContext | None) -> str:
    context = execution_context.context if execution_context is not None else None
    return str(getattr(context, "request_id", "") or "-")


def _analyst_timeout(execution_context: ExecutionContext | None, error: GraphQLError) -> float | None:
    """The analysts' statement timeout, when ``error`` is one of their statements cancelled by it; else None."""
    context = execution_context.context if execution_context is not None else None
    original = error.original_error
    if not isinstance(context, Context) or original is None or not is_unexpected(error):
        return None
    if not policy.statement_limited(context.principal) or not is_statement_timeout(original):
        return None
    return context.settings.analyst_statement_timeout_seconds


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's MaskErrors with our rule, and the request id in the masked message and extensions."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = _request_id(self.execution_context)
        reason = database_unavailable(error)
        limit = _analyst_timeout(self.execution_context, error)
        if limit is not None:
            # Not an outage: the question was too expensive for the analysts' limit, and asking again will not help.
            message, code = statement_timeout_message(limit, request_id), STATEMENT_TIMEOUT
        elif reason is not None:
            message, code = database_unavailable_message(reason, request_id), DATABASE_UNAVAILABLE
        elif isinstance(error.original_error, RecursionError):
            # The parser or a rule recursed too deep: the document's nesting, not a fault of ours.
            message, code = "the document is nested too deeply", "QUERY_TOO_COMPLEX"
        else:
            message, code = f"Unexpected error (request id {request_id}).", "INTERNAL_SERVER_ERROR"
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": code, "requestId": request_id},
        )


class PerfhubSchema(strawberry.Schema):
    """The strawberry Schema, logging unexpected errors with traceback and request id, and ours quietly."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return StreamingExtensionsRunner(execution_context, extensions)  # a subscription's events cost less

    def process_errors(self, errors: Iterable[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        request_id = _request_id(execution_context)
        operation = execution_context.operation_name if execution_context is not None else None
        for error in errors:
            reason = database_unavailable(error)
            if reason is not None:
                # One line: the driver's message without SQLAlchemy's statement and parameters.
                detail = str(error.original_error).partition("\n")[0]
                log.warning(
                    "database unavailable in operation %s (request id %s): %s (%s: %s)",
                    operation or "-",
                    request_id,
                    reason,
                    type(error.original_error).__name__,
                    detail,
                    extra={"request_id": request_id},
                )
            elif is_unexpected(error):
                log.error(
                    "unexpected error in operation %s (request id %s): %s",
                    operation or "-",
                    request_id,
                    error.message,
                    exc_info=error.original_error,
                    extra={"request_id": request_id},
                )
            else:
                log.info(
                    "operation %s (request id %s) answered an error: %s",
                    operation or "-",
                    request_id,
                    error.message,
                    extra={"request_id": request_id},
                )
