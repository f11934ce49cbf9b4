"""A sorted list's cursor gave away the exact stored sort value (``...~66.66666666666667~132``), more precise than
the two decimals a page shows: now it carries the row's id and the order, and the key is looked up again."""

from __future__ import annotations

import base64
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

SORTED = """query($c: ID, $after: String) {
  results(cycleId: $c, first: 4, after: $after, orderBy: {by: TOTAL_SCORE}) {
    edges { cursor node { id totalScore } } pageInfo { endCursor } } }"""


async def test_a_cursor_decodes_to_nothing_more_precise_than_the_page_shows(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    cycle = str(seeded.past_cycle_id)
    first = (await app_client.data(SORTED, {"c": cycle, "after": None}))["results"]
    async with sessionmaker() as session:
        stored = {
            str(key): total
            for key, total in (await session.execute(select(AppraisalResult.id, AppraisalResult.total_score))).all()
        }
    for edge in first["edges"]:
        decoded = base64.urlsafe_b64decode(edge["cursor"]).decode()
        total = stored[edge["node"]["id"]]
        assert repr(total) not in decoded and not re.search(r"\d\.\d{3}", decoded), decoded
    # Keyset paging still continues after the last row shown, best first.
    second = (await app_client.data(SORTED, {"c": cycle, "after": first["pageInfo"]["endCursor"]}))["results"]
    shown = [edge["node"] for edge in first["edges"] + second["edges"]]
    assert len({node["id"] for node in shown}) == 8
    totals = [stored[node["id"]] for node in shown]
    assert totals == sorted(totals, reverse=True)


async def test_a_forged_cursor_with_a_key_beyond_32_bits_is_bad_input_not_a_database_error(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """The cursor's id reached the database unchecked: ``9999999999`` made asyncpg raise (an internal error)."""
    cycle = str(seeded.past_cycle_id)
    genuine = (await app_client.data(SORTED, {"c": cycle, "after": None}))["results"]["pageInfo"]["endCursor"]
    kind, tag, _ = base64.urlsafe_b64decode(genuine).decode().split("~")
    for key in ("9999999999", "2147483648", "\uff1012", "012"):
        forged = base64.urlsafe_b64encode(f"{kind}~{tag}~{key}".encode()).decode()
        body = await app_client.execute(SORTED, {"c": cycle, "after": forged})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (key, body["errors"])
