"""A registered document sent as its text takes the registered document's path: pre-parsed, pre-validated and,
where it has one, its compiled plan (schema/compiled.py). A portal that sends the text its build registered is
the same portal as one that sends the hash: both answer the same status and bytes, errors included, for every
kind of principal, and what the plan answers for the hash it answers for the text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Principal
from hub.persisted import sha256_hex
from resolvers.context import Context
from resolvers.ids import EMPLOYEE, public_id
from schema import compiled
from tests.conftest import TEST_SECRET, TODAY, GraphQLClient, make_settings, serving
from tests.schema.conftest import PORTAL_DOCUMENTS, Org
from tests.schema.test_compiled import documents, principals


def token(principal: Principal) -> str:
    """A token for any principal, several roles included (``issue_token`` signs one role)."""
    claims: dict[str, Any] = {
        "iss": "perfhub",
        "aud": "perfhub",
        "sub": principal.subject,
        "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
        "roles": sorted(role.value for role in principal.roles),
        "grants": sorted(grant.value for grant in principal.grants),
    }
    if principal.employee_number is not None:
        claims["employee_no"] = principal.employee_number
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


async def post(client: GraphQLClient, body: dict[str, Any]) -> tuple[int, bytes, int]:
    """The status and bytes of the answer, and how many operations a compiled plan answered for it."""
    before = compiled.STATS.compiled
    response = await client.http.post("/graphql", json=body)
    return response.status_code, response.content, compiled.STATS.compiled - before


@pytest.mark.parametrize("first", [3, 50, 501, -1])
async def test_a_registered_text_answers_as_its_hash_for_every_principal(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], org: Org, first: int
) -> None:
    """Every portal document, by text and by hash, for nine principals: the same answer, and the plan runs for
    the text exactly when it runs for the hash (pages over the size limit and negative sizes are errors)."""
    settings = make_settings(database_url=database_url, persisted_documents=PORTAL_DOCUMENTS)
    texts = sorted(documents().by_hash.values())
    planned_by_text = 0
    async with serving(settings) as hub:
        for role, principal in principals(org).items():
            client = hub.with_token(token(principal))
            context = Context(
                settings=settings, sessionmaker=sessionmaker, today=TODAY, principal=principal, request_id="t"
            )
            for text in texts:
                variables = {"id": public_id(context, EMPLOYEE, org.staff_id)} if "$id" in text else {"first": first}
                by_hash = {
                    "variables": variables,
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}},
                }
                by_text = {"query": text, "variables": variables}
                hashed, sent = await post(client, by_hash), await post(client, by_text)
                assert sent == hashed, (role, text.split("(")[0], first)
                planned_by_text += sent[2]
    if first in (3, 50):
        assert planned_by_text > 0, "the plan answers the registered texts it answers by hash"
