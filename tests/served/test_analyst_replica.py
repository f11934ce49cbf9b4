"""The served hub pointed at a read replica (PERFHUB_READ_DATABASE_URL): an analyst client reads the replica, an
hr_admin client the primary, and the analyst's audited refusals are written to the primary (PostgreSQL)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from sqlalchemy import update

from hub.auth import Role
from hub.db.engine import create_sessionmaker
from hub.db.models import Department
from tests.conftest import opened_engine
from tests.hub.test_analyst_reads import REPLICA_NAME, _audit_entries, replica_url  # noqa: F401 (a fixture)
from tests.served.conftest import NO_RATE_LIMIT, _no_traceback
from tests.served.hub_process import ServedHub

DEPARTMENTS = {"query": "{ departments { name } }"}
EXPORTED = "Administrative Office"
"""A department of the demo whose results the export lists."""


async def test_a_served_analyst_reads_the_replica_and_writes_nothing_there(
    postgresql_url: str,
    replica_url: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Over HTTP to `perfhub serve`: the analyst sees the replica's renamed department, hr_admin the primary's name,
    and the analyst's refused mutation leaves the replica's audit table as it was."""
    before = await _audit_entries(replica_url)
    env = {**NO_RATE_LIMIT, "PERFHUB_READ_DATABASE_URL": replica_url}
    with ServedHub(postgresql_url, tmp_path, env) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
            seen = {}
            for role in (Role.ANALYST, Role.HR_ADMIN):
                answer = await client.post("/graphql", json=DEPARTMENTS, headers=hub.headers(role))
                assert answer.status_code == 200, answer.text
                seen[role] = {department["name"] for department in answer.json()["data"]["departments"]}
            refused = await client.post(
                "/graphql",
                json={"query": 'mutation { cycleDelete(cycleId: "1") { __typename } }'},
                headers=hub.headers(Role.ANALYST),
            )
            assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _no_traceback(hub)
    assert REPLICA_NAME in seen[Role.ANALYST]
    assert REPLICA_NAME not in seen[Role.HR_ADMIN]
    assert await _audit_entries(replica_url) == before


async def test_a_served_analysts_export_reads_the_replica_and_audits_on_the_primary(
    postgresql_url: str,
    replica_url: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """The BI export follows the same binding as the analyst's queries (insider review F2): the analyst's file
    shows the replica's renamed department, hr_admin's the primary's, and the export's audit entry is written
    to the primary (the replica's connections are read-only, so an entry written there would fail the export)."""
    # The fixture renames the root department, which holds no results: rename one that does, in the replica only.
    async with opened_engine(replica_url) as engine, create_sessionmaker(engine).begin() as session:
        await session.execute(update(Department).where(Department.name == EXPORTED).values(name=REPLICA_NAME))
    before = await _audit_entries(replica_url), await _audit_entries(postgresql_url)
    env = {**NO_RATE_LIMIT, "PERFHUB_READ_DATABASE_URL": replica_url}
    with ServedHub(postgresql_url, tmp_path, env) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=60) as client:
            names = {}
            for role in (Role.ANALYST, Role.HR_ADMIN):
                answer = await client.get("/export/results.csv?cycleId=1", headers=hub.headers(role))
                assert answer.status_code == 200, answer.text
                rows = list(csv.reader(io.StringIO(answer.text)))
                column = rows[0].index(next(name for name in rows[0] if name.startswith("department_name")))
                names[role] = {row[column] for row in rows[1:]}
    _no_traceback(hub)
    assert REPLICA_NAME in names[Role.ANALYST]
    assert REPLICA_NAME not in names[Role.HR_ADMIN] and EXPORTED in names[Role.HR_ADMIN]
    assert await _audit_entries(replica_url) == before[0]
    assert await _audit_entries(postgresql_url) >= before[1] + 2
