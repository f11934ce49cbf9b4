"""meta.created and meta.lastModified of Users and Groups, from the rows' own columns, moved by every entry point
that changes a person (SCIM, the GraphQL mutations, import-org); the given and family names kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee
from tests.hub.test_import_org import NEW_ORGANISATION, run
from tests.scim.scim_client import raw_client
from tests.scim.test_provisioning import PATCH_OP, graphql
from tests.served.hub_process import ServedHub

Sessions = async_sessionmaker[AsyncSession]

RENAME = """
mutation ($id: ID!, $name: String!) { employeeUpdate(input: {employeeId: $id, name: $name}) { __typename } }
"""
LEAVE = """
mutation ($id: ID!) { employeeDeactivate(input: {employeeId: $id, leftOn: "2026-11-16"}) { __typename } }
"""


def stamps(resource: dict[str, object]) -> tuple[dt.datetime, dt.datetime]:
    meta = resource["meta"]
    assert isinstance(meta, dict)
    return dt.datetime.fromisoformat(meta["created"]), dt.datetime.fromisoformat(meta["lastModified"])


def test_scim_and_graphql_changes_move_last_modified_and_keep_created(served: ServedHub) -> None:
    """A SCIM PATCH and a GraphQL rename each move the User's lastModified (and ETag), never its created; a
    ``meta.lastModified`` filter finds what changed since; the parts of a name are answered back until a
    rename from GraphQL clears them; a leaver moves their department's Group."""
    with raw_client(served) as http:
        before = http.get("/Users/8").json()
        created, modified = stamps(before)
        assert created <= modified
        name = {"formatted": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace"}
        operation = {"op": "replace", "path": "name", "value": name}
        assert http.patch("/Users/8", json={"schemas": [PATCH_OP], "Operations": [operation]}).status_code == 204
        patched = http.get("/Users/8").json()
        assert patched["name"] == name
        assert stamps(patched)[0] == created and stamps(patched)[1] > modified
        assert patched["meta"]["version"] != before["meta"]["version"]
        since = patched["meta"]["lastModified"]  # the seed's rows were written before, each at its own time
        changed = http.get("/Users", params={"filter": f'meta.lastModified ge "{since}"'}).json()
        assert [user["id"] for user in changed["Resources"]] == ["8"]
        later = http.get("/Users", params={"filter": f'meta.lastModified gt "{since}"'}).json()
        assert later["totalResults"] == 0

        assert graphql(served, RENAME, id="8", name="Augusta King")["employeeUpdate"]["__typename"] == "EmployeeChanged"
        renamed = http.get("/Users/8").json()
        assert renamed["name"] == {"formatted": "Augusta King"}  # the parts described the old name
        assert stamps(renamed)[0] == created and stamps(renamed)[1] > stamps(patched)[1]

        department = renamed["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"]
        group = http.get("/Groups", params={"filter": f'externalId eq "{department}"'}).json()["Resources"][0]
        assert graphql(served, LEAVE, id="8")["employeeDeactivate"]["__typename"] == "EmployeeChanged"
        after = http.get(f"/Groups/{group['id']}").json()
        assert "8" not in {member["value"] for member in after.get("members", [])}
        assert stamps(after)[0] == stamps(group)[0] and stamps(after)[1] > stamps(group)[1]
        assert http.get("/Users/8").json()["active"] is False


async def test_an_import_that_changes_a_person_moves_their_updated_at_only(sessionmaker: Sessions) -> None:
    """Re-importing the file with one person renamed stamps that person; the others keep their times."""
    await run(sessionmaker, NEW_ORGANISATION)

    async def times() -> dict[str, tuple[dt.datetime, dt.datetime]]:
        async with sessionmaker() as session:
            rows = await session.execute(select(Employee.employee_no, Employee.created_at, Employee.updated_at))
            return {row.employee_no: (row.created_at, row.updated_at) for row in rows}

    first = await times()
    await run(sessionmaker, NEW_ORGANISATION.replace("IT-2,Linus,", "IT-2,Linus Torvalds,"))
    second = await times()
    assert {number for number in first if second[number] != first[number]} == {"IT-2"}
    assert second["IT-2"][0] == first["IT-2"][0] and second["IT-2"][1] > first["IT-2"][1]
