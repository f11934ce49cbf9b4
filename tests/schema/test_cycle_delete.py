"""cycleDelete: a DRAFT cycle made by mistake can go; nothing later can."""

from __future__ import annotations

from typing import Any

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

CREATE = """
mutation { cycleCreate(input: {name: "Typo 2027", periodStart: "2027-01-01", periodEnd: "2027-06-30"}) {
  ... on CycleChanged { cycle { id state } } } }
"""

DELETE = """
mutation($id: ID!) {
  cycleDelete(cycleId: $id) {
    __typename ... on CycleDeleted { cycleId } ... on MutationError { code field message }
  }
}
"""

CYCLE = "query($id: ID!) { cycle(id: $id) { id } }"

AUDIT = '{ auditLog(first: 5, operation: "cycleDelete") { edges { node { outcome ids } } } }'


async def delete(client: GraphQLClient, cycle_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.data(DELETE, {"id": cycle_id}))["cycleDelete"]
    return answer


async def test_a_draft_cycle_is_deleted_and_audited(app_client: GraphQLClient) -> None:
    created = (await app_client.data(CREATE))["cycleCreate"]["cycle"]
    assert created["state"] == "DRAFT"

    assert await delete(app_client, created["id"]) == {"__typename": "CycleDeleted", "cycleId": created["id"]}
    assert (await app_client.data(CYCLE, {"id": created["id"]}))["cycle"] is None
    entries = [edge["node"] for edge in (await app_client.data(AUDIT))["auditLog"]["edges"]]
    assert entries[0] == {"outcome": "ok", "ids": [f"cycle:{created['id']}"]}


async def test_an_open_cycle_is_refused_and_kept(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    open_cycle = str(seeded.current_cycle_id)
    answer = await delete(app_client, open_cycle)
    assert (answer["__typename"], answer["code"], answer["field"]) == ("StateError", "WRONG_CYCLE_STATE", "cycleId")
    assert (await app_client.data(CYCLE, {"id": open_cycle}))["cycle"] == {"id": open_cycle}


async def test_an_id_that_names_nothing_is_not_found(app_client: GraphQLClient) -> None:
    for unknown in ("999999", "not-a-number"):
        answer = await delete(app_client, unknown)
        assert (answer["__typename"], answer["code"], answer["field"]) == ("NotFoundError", "NOT_FOUND", "cycleId")


async def test_only_hr_admin_may_delete(app_client: GraphQLClient) -> None:
    created = (await app_client.data(CREATE))["cycleCreate"]["cycle"]
    manager = app_client.as_principal("manager", "E0002")
    body = await manager.execute(DELETE, {"id": created["id"]})
    assert body["data"] == {"cycleDelete": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await app_client.data(CYCLE, {"id": created["id"]}))["cycle"] == {"id": created["id"]}


async def test_a_deleted_cycles_id_is_never_given_to_another(app_client: GraphQLClient) -> None:
    """SQLite gives a new row the highest id plus one: the newest cycle, deleted, must not lend its id to the
    next one (the audit's cycle:<id> and a client retrying an old id would name a different cycle)."""
    deleted = (await app_client.data(CREATE))["cycleCreate"]["cycle"]["id"]
    assert (await delete(app_client, deleted))["__typename"] == "CycleDeleted"

    created = (await app_client.data(CREATE))["cycleCreate"]["cycle"]["id"]
    assert int(created) > int(deleted)
    assert (await delete(app_client, deleted))["code"] == "NOT_FOUND"
