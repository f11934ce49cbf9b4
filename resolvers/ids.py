"""Ids and cursors as a principal sees them: row keys for most, keyed pseudonyms for pseudonymous analysts.

Employees and results are the rows that stand for a person; their keys follow the order in which
employees were created, so for a principal without the names grant they are encrypted under the
deployment's key (``hub.pseudonyms``), and lists are ordered by that pseudonym, not by key, so that a
row's position does not give its key away either. The principal passes the same pseudonyms back as
arguments and cursors; a key in the clear, or a pseudonym this deployment did not make, is refused.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from hub.policy import large_enough_group
from resolvers.context import Context
from resolvers.errors import BadUserInput, parse_id
from resolvers.pagination import Connection, Edge, PageInfo

EMPLOYEE = "employee"
RESULT = "result"


def public_id(context: Context, kind: str, key: int) -> str:
    """The id of a row as this principal sees it."""
    pseudonyms = context.pseudonyms
    return str(key) if pseudonyms is None else pseudonyms.encode(kind, key)


def public_checksum(context: Context, stored: str | None) -> str | None:
    """A provenance checksum as this principal sees it: keyed for a pseudonymous principal, because the
    stored one is a plain SHA-256 over the employee number (or the CSV line that starts with it)."""
    pseudonyms = context.pseudonyms
    return stored if pseudonyms is None or stored is None else pseudonyms.checksum(stored)


def row_key(context: Context, kind: str, value: str, argument: str) -> int | None:
    """The row key behind an id argument; None when it cannot be one of ours (an unknown id).

    A pseudonymous principal's ids are pseudonyms: anything else (a row key in the clear, a forged or
    another deployment's pseudonym) is a clear error rather than a silent null, and never a lookup.
    """
    pseudonyms = context.pseudonyms
    if pseudonyms is None:
        return parse_id(value)
    key = pseudonyms.decode(kind, value)
    if key is None:
        raise BadUserInput(
            f"'{argument}' is not {_article(kind)} {kind} id from this API: {value[:40]!r}", argument=argument
        )
    return key


def _article(kind: str) -> str:
    return "an" if kind[:1] in "aeiou" else "a"


async def pseudonymous_page(
    context: Context,
    kind: str,
    key_column: InstrumentedAttribute[int],
    conditions: Sequence[ColumnElement[bool]],
    first: int,
    after: str | None,
) -> tuple[list[tuple[str, int]], bool, int]:
    """One page of (pseudonym, key) in pseudonym order, whether another follows, and the total.

    Reads every matching key (one column) and orders them by pseudonym in process: the order must not
    follow the keys, and the pseudonyms exist only here. Analysts are few; a page of 100,000 rows costs
    one narrow read and one cipher call.
    """
    pseudonyms = context.pseudonyms
    assert pseudonyms is not None, "callers check"
    after_token: str | None = None
    if after is not None:
        if pseudonyms.decode(kind, after) is None:
            raise BadUserInput(
                f"'after' is not {_article(kind)} {kind} cursor from this API: {after[:40]!r}", argument="after"
            )
        after_token = after
    async with context.sessionmaker() as session:
        keys: list[int] = list((await session.execute(select(key_column).where(*conditions))).scalars())
    ordered = sorted(zip(pseudonyms.encode_many(kind, keys), keys, strict=True))
    start = 0 if after_token is None else bisect.bisect_right(ordered, (after_token, 2**63))
    page = ordered[start : start + first]
    return page, start + first < len(ordered), len(ordered)


async def refuse_small_selection(
    context: Context, key_column: InstrumentedAttribute[int], grouping: Sequence[ColumnElement[bool]]
) -> None:
    """A pseudonymous list filtered by department, post or post family must select at least the minimum
    group size: a filter that picks out fewer people names them as surely as a name would."""
    if not grouping:
        return
    async with context.sessionmaker() as session:
        selected = (await session.execute(select(func.count(key_column)).where(*grouping))).scalar_one()
    if not large_enough_group(selected, context.settings):
        raise BadUserInput(
            "'filter' selects fewer people than the minimum group size by department, post or post family",
            argument="filter",
        )


class Keyed(Protocol):
    """A row of a person (an employee or a result), known by its key."""

    @property
    def id(self) -> int: ...


def pseudonymous_connection(
    page: list[tuple[str, int]], rows: Sequence[Keyed], has_next: bool, total: int
) -> Connection:
    """A page whose cursors are the rows' pseudonyms, in the page's order (rows may come in any order)."""
    by_key = {row.id: row for row in rows}
    edges = [Edge(cursor=token, node=by_key[key]) for token, key in page if key in by_key]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )
