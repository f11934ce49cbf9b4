"""GraphQL over HTTP (the GraphQL Foundation's spec): which media type answers a request, and with which status.

A client that lists ``application/graphql-response+json`` in Accept gets that type, and with it status codes
that say what happened: a request error (nothing executed: the document does not parse or validate, the
variables do not coerce, a guard refused the operation) is 4xx (500 for a masked internal error, 503 when
the database is unavailable) and has no ``data`` entry. An executed operation is 200 whatever its field
errors say, ``DATABASE_UNAVAILABLE`` ones included: the spec recommends 2xx for any response with ``data``,
even ``null``. Every other client keeps the legacy ``application/json`` answer: status 200 whatever
GraphQL errors the body carries, as the spec requires for that type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

_STATUS_BY_CODE: Mapping[str, int] = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    # Nothing could be executed because the database is away: the server's state, not the request's fault,
    # and temporary (RFC 9110 15.6.4).
    "DATABASE_UNAVAILABLE": 503,
}


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when Accept names it (not through a wildcard) with a quality at
    least that of ``application/json``; else ``application/json``, the spec's default for legacy clients and
    for ``*/*`` or a missing Accept.
    """
    if not accept:
        return JSON
    ranges = list(_media_ranges(accept))
    graphql_quality = _quality(ranges, GRAPHQL_RESPONSE, wildcards=False)
    json_quality = _quality(ranges, JSON, wildcards=True)
    return GRAPHQL_RESPONSE if graphql_quality > 0 and graphql_quality >= json_quality else JSON


def _media_ranges(accept: str) -> Sequence[tuple[str, float]]:
    """The Accept header's media ranges, lower-cased, with their quality (1 unless ``q=`` says otherwise)."""
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(1.0, max(0.0, float(value)))
                except ValueError:
                    quality = 0.0  # an unreadable weight: treat the range as not acceptable
        if media_range:
            ranges.append((media_range.lower(), quality))
    return ranges


def _quality(ranges: Sequence[tuple[str, float]], media_type: str, *, wildcards: bool) -> float:
    """The quality of the most specific range matching the media type (RFC 9110 12.5.1); 0 when none does."""
    kind = media_type.split("/")[0]
    candidates = [(media_type, 3), (f"{kind}/*", 2), ("*/*", 1)] if wildcards else [(media_type, 3)]
    best: tuple[int, float] = (0, 0.0)
    for media_range, quality in ranges:
        for candidate, specificity in candidates:
            if media_range == candidate and specificity > best[0]:
                best = (specificity, quality)
    return best[1]


def is_request_error(response: Mapping[str, object]) -> bool:
    """True for a GraphQL response of a request error: errors, and no data because nothing was executed.

    Field errors always carry a ``path``; a request error never does (GraphQL spec 7.1.2). A ``data: null``
    with pathed errors is a field error propagated to the root: executed, so not a request error.
    """
    errors = response.get("errors")
    return (
        response.get("data") is None
        and isinstance(errors, list)
        and bool(errors)
        and all(isinstance(error, Mapping) and "path" not in error for error in errors)
    )


def code_status(code: str) -> int:
    """The status of a request error whose ``extensions.code`` is ``code``: 400 for a code we do not map."""
    return _STATUS_BY_CODE.get(code, 400)


def request_error_status(errors: Sequence[object]) -> int:
    """The status of a request error: from the first error's ``extensions.code``, 400 when it has none we map."""
    first = errors[0] if errors else None
    extensions = first.get("extensions") if isinstance(first, Mapping) else None
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return code_status(code) if isinstance(code, str) else 400
