"""Relay cursor pagination by keyset on the primary key: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Executable, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.rows import read_rows
from resolvers.errors import MAX_KEY, BadUserInput


@dataclass(frozen=True, slots=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


class Keyed(Protocol):
    """A row pages are cut from: keyset pagination reads its integer primary key."""

    @property
    def id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Edge:
    cursor: str
    node: object
    """The row; the schema's edge type says what it is (``EmployeeEdge.node: Employee``) and reads it."""


@dataclass(frozen=True, slots=True)
class Connection:
    edges: list[Edge]
    page_info: PageInfo
    total_count: int | None
    """None when the query did not select ``totalCount``: nobody reads it, so nobody counted."""


def nodes(connection: Connection) -> list[object]:
    """The records of a page, in its order."""
    return [edge.node for edge in connection.edges]


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The key after which the page starts; a cursor of another kind or garbage is a clear error."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        prefix, _, key = text.partition(":")
        if prefix != kind or not key.isascii() or not key.isdigit() or len(key) > 10 or int(key) > MAX_KEY:
            raise ValueError(prefix)  # keys are 32-bit: a larger number cannot be one of ours
        return int(key)
    except (ValueError, UnicodeError, binascii.Error):
        article = "an" if kind[:1] in "aeiou" else "a"
        raise BadUserInput(
            f"'after' is not {article} {kind} cursor from this API: {cursor[:40]!r}", argument="after"
        ) from None


def check_page_size(first: int | None, maximum: int, default: int = 50) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise BadUserInput(f"'first' must be between 0 and {maximum}, got {first}", argument="first")
    return first


def make_connection(kind: str, rows: Sequence[Keyed], first: int, total_count: int | None) -> Connection:
    """Builds a page from ``first + 1`` fetched rows: the extra row only tells that there is a next page."""
    page = rows[:first]
    edges = [Edge(cursor=encode_cursor(kind, row.id), node=row) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
        total_count=total_count,
    )


# Untyped columns: each connection pages its own statement (a mapped class or a tuple of columns), read by
# its own maker of edges.
async def read_page(
    session: AsyncSession,
    page: Executable,
    counted: type[object],
    conditions: Sequence[ColumnElement[bool]],
    count_total: bool,
) -> tuple[Sequence[Row[Any]], int | None]:
    """The page's rows, and the number of ``counted`` rows matching ``conditions`` when ``count_total`` asks.

    The count is the one statement of a page that grows with the table (it reads every matching row), so it
    runs only when the query selects ``totalCount`` (``schema.selection.selects``).
    """
    rows = await read_rows(session, page)
    if not count_total:
        return rows, None
    total = (await session.execute(select(func.count()).select_from(counted).where(*conditions))).scalar_one()
    return rows, total
