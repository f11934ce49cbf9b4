"""Departments as read-only SCIM Groups: listed, filtered by code, their members the active employees."""

from __future__ import annotations

from hub.scim.models import EnterpriseUser
from tests.scim.scim_client import raw_client
from tests.served.hub_process import ServedHub

ENTERPRISE = str(EnterpriseUser.__schema__)


def test_a_department_is_a_group_of_its_active_employees(served_to_read: ServedHub) -> None:
    """Filtered by its code (externalId), a department lists as members exactly the Users in it."""
    with raw_client(served_to_read) as http:
        code = http.get("/Users/1").json()[ENTERPRISE]["department"]
        groups = http.get("/Groups", params={"filter": f'externalId eq "{code}"'}).json()
        assert groups["totalResults"] == 1
        group = groups["Resources"][0]
        assert http.get(f"/Groups/{group['id']}").json() == group
        users = http.get("/Users", params={"filter": f'{ENTERPRISE}:department eq "{code}"', "count": 200}).json()
        in_department = {user["id"] for user in users["Resources"] if user["active"]}
        assert {member["value"] for member in group["members"]} == in_department
        assert "1" in in_department
        everyone = http.get("/Groups", params={"count": 200}).json()
        assert everyone["totalResults"] > 1 and group["id"] in {found["id"] for found in everyone["Resources"]}


def test_groups_are_read_only(served_to_read: ServedHub) -> None:
    """Writing a Group is refused with a SCIM error, and no department changes."""
    with raw_client(served_to_read) as http:
        group = http.get("/Groups/1").json()
        created = http.post("/Groups", json={"schemas": group["schemas"], "displayName": "New"})
        assert created.status_code == 405 and created.json()["schemas"] == [
            "urn:ietf:params:scim:api:messages:2.0:Error"
        ]
        patched = http.patch(
            "/Groups/1",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
            },
        )
        assert patched.status_code == 405
        assert http.delete("/Groups/1").status_code == 405
        assert http.get("/Groups/1").json() == group
        assert http.get("/Groups/999999").status_code == 404
