"""Errors that resolvers raise for bad input to queries; each names the problem and carries a code."""

from __future__ import annotations

from graphql import GraphQLError

from connectors.base import ConnectorError


class BadUserInput(GraphQLError):
    """A query argument that cannot be honoured (a malformed cursor, a page size out of range, ...)."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


MAX_KEY = 2**31 - 1
"""Keys are INTEGER columns: 32-bit on PostgreSQL. A larger number cannot be one of ours."""


def parse_id(value: str | int | None) -> int | None:
    """The integer behind a GraphQL ID, or None when it cannot be one of ours (an unknown id)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_KEY else None
    # Only the canonical spelling: " 12 " or "012" would name row 12 too, and be audited as something else.
    if not value.isascii() or not value.isdigit() or len(value) > 10 or value != str(int(value)):
        return None
    key = int(value)
    return key if key <= MAX_KEY else None


class Forbidden(GraphQLError):
    """The principal may not see this field or do this operation; the message says which roles may."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class TokenExpired(GraphQLError):
    """The operation's principal holds a token that has expired since it was verified."""

    def __init__(self) -> None:
        super().__init__("the token has expired", extensions={"code": "UNAUTHENTICATED"})


class SystemFailure(GraphQLError):
    """A business system could not answer for this field; the rest of the response is intact."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(
            f"the {error.system} system could not answer: {error.message}",
            extensions={"code": error.code, "system": error.system, "retried": error.retried},
        )


class UnknownId(GraphQLError):
    """A well-formed id that names nothing: ``NOT_FOUND``, the code a mutation's ``NotFoundError`` carries, naming
    the argument as ``BadUserInput`` does."""

    def __init__(self, entity: str, value: str | int, *, argument: str) -> None:
        super().__init__(f"no {entity} with id {str(value)!r}", extensions={"code": "NOT_FOUND", "argument": argument})
