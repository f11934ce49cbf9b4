"""Insider review, the audit: bounded in size whatever a caller sends, complete for refused reads of
compensation and ratings, and keyed by the hub's own request id.

Found on main: ids were audited as sent, so 40 denied mutations with a 1 MB id grew the database by 38 MB
in a second; a refused read of compensation or ratings left no entry; a caller's X-Request-Id was stored
as the audit's request id, so a caller chose which id its entries carried.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cli import main
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import AuditEntry, Employee
from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

served = served_fixtures.served  # the served hub's fixture, used in this folder too

MEGABYTE_ID = "9" * 1_000_000
"""Just under the default body limit (1 MiB) once wrapped in the request's JSON."""


def entry_size(entry: AuditEntry) -> int:
    """What an entry holds, in characters: its text columns and its ids as stored (JSON)."""
    texts = (entry.subject, entry.roles, entry.operation, entry.outcome, entry.request_id, entry.client_request_id)
    return sum(len(text or "") for text in texts) + len(json.dumps(entry.ids))


async def entries_of(database_url: str) -> list[AuditEntry]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())
    finally:
        await engine.dispose()


def test_forty_denied_mutations_with_a_megabyte_id_add_less_than_64_kb_of_audit(served: ServedHub) -> None:
    before = asyncio.run(entries_of(served.database_url))
    analyst = served.headers("analyst")
    with httpx.Client(timeout=30) as client:
        for _ in range(40):
            response = client.post(
                served.url,
                json={
                    "query": "mutation($id: ID!) { cycleScore(cycleId: $id) { __typename } }",
                    "variables": {"id": MEGABYTE_ID},
                },
                headers=analyst,
            )
            assert response.status_code == 200, response.text[:200]
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    added = asyncio.run(entries_of(served.database_url))[len(before) :]
    # Every call is audited, and none keeps more than a bounded part of what it was sent.
    assert [(entry.operation, entry.outcome) for entry in added] == [("cycleScore", "BAD_USER_INPUT")] * 40
    assert {tuple(entry.ids) for entry in added} == {("cycleId:" + "9" * 64 + "...(1000000 chars)",)}
    assert sum(entry_size(entry) for entry in added) < 64 * 1024


async def _entries(sessionmaker: async_sessionmaker[AsyncSession], operation: str) -> list[AuditEntry]:
    async with sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.operation == operation).order_by(AuditEntry.id)
        return list((await session.execute(query)).scalars())


async def test_an_id_that_does_not_parse_is_audited_truncated_with_its_length(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Under the argument limit but no id of ours, with a NUL-free but unprintable tail: kept in part, escaped."""
    garbage = "x" * 100 + "\u202e\u0007"
    analyst = app_client.as_principal("analyst")
    body = await analyst.execute("mutation($id: ID!) { cycleScore(cycleId: $id) { __typename } }", {"id": garbage})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [entry] = await _entries(sessionmaker, "cycleScore")
    assert (entry.outcome, entry.ids) == ("denied", ["cycle:" + "x" * 64 + "...(102 chars)"])


async def test_a_refused_read_of_compensation_is_audited_once_per_page(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # With the names grant, so that the ids the analyst sees are the keys the audit names.
    analyst = app_client.as_principal("analyst", subject="curious-analyst", grants=["names"])
    body = await analyst.execute("{ employees(first: 20) { edges { node { id compensationRecords { currency } } } } }")
    ids = [edge["node"]["id"] for edge in body["data"]["employees"]["edges"]]
    assert len(ids) == 20
    assert len(body["errors"]) == 20
    assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
    [entry] = await _entries(sessionmaker, "Employee.compensationRecords")
    assert (entry.subject, entry.roles, entry.outcome) == ("curious-analyst", "analyst", "denied")
    assert sorted(entry.ids) == sorted(f"employee:{id_}" for id_ in ids)


async def test_a_refused_read_of_ratings_is_audited(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """An employee asking for their own ratings before publication, a payroll system asking for anyone's."""
    async with sessionmaker() as session:
        someone = (await session.execute(select(Employee.id, Employee.employee_no).limit(1))).one()
    query = "query($id: ID!, $c: ID!) { employee(id: $id) { ratingsReceived(cycleId: $c) { value } } }"
    variables = {"id": str(someone.id), "c": str(seeded.current_cycle_id)}
    for client in (app_client.as_principal("employee", someone.employee_no), app_client.as_principal("payroll")):
        body = await client.execute(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    entries = await _entries(sessionmaker, "Employee.ratingsReceived")
    assert [(entry.roles, entry.outcome, entry.ids) for entry in entries] == [
        (role, "denied", [f"employee:{someone.id}@cycle:{seeded.current_cycle_id}"]) for role in ("employee", "payroll")
    ]


async def test_the_audit_request_id_is_the_hubs_own_and_the_callers_is_kept_beside_it(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    analyst = app_client.as_principal("analyst")
    sent: dict[str, str] = {}
    for header in ("portal-42", "spaces and / slashes " + "z" * 100):
        response = await analyst.http.post(
            "/graphql",
            json={"query": 'mutation { cycleScore(cycleId: "1") { __typename } }'},
            headers={"X-Request-Id": header},
        )
        sent[header] = response.headers["x-request-id"]
    entries = await _entries(sessionmaker, "cycleScore")
    assert [(entry.request_id, entry.client_request_id) for entry in entries] == [
        (sent["portal-42"], "portal-42"),
        (sent["spaces and / slashes " + "z" * 100], "spaces_and___slashes_" + "z" * 43),
    ]
    assert all(len(request_id) == 32 and request_id not in sent for request_id in sent.values())
    # HR reads both in auditLog.
    data = await app_client.data("{ auditLog(first: 2) { edges { node { operation requestId clientRequestId } } } }")
    nodes = [edge["node"] for edge in data["auditLog"]["edges"]]
    assert {(node["requestId"], node["clientRequestId"]) for node in nodes} == {
        (entry.request_id, entry.client_request_id) for entry in entries
    }


async def test_a_caller_cannot_give_two_requests_one_audit_request_id(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    analyst = app_client.as_principal("analyst")
    for _ in range(2):
        await analyst.http.post(
            "/graphql",
            json={"query": 'mutation { cycleScore(cycleId: "1") { __typename } }'},
            headers={"X-Request-Id": "same-for-both"},
        )
    entries = await _entries(sessionmaker, "cycleScore")
    assert len({entry.request_id for entry in entries}) == 2
    assert {entry.client_request_id for entry in entries} == {"same-for-both"}


def test_perfhub_migrate_is_audited_with_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every verb that writes names its operator; import-metrics, compute, collect and seed already did
    (tests/hub/test_cli.py)."""
    monkeypatch.setattr("getpass.getuser", lambda: "ann")
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}"
    assert main(["--database-url", url, "migrate"]) == 0
    capsys.readouterr()
    entries: list[Any] = asyncio.run(entries_of(url))
    assert [(entry.subject, entry.roles, entry.operation, entry.outcome) for entry in entries] == [
        ("cli:ann", "cli", "migrate", "ok")
    ]
