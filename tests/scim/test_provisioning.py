"""Joiners, movers and leavers pushed by SCIM into the served hub, and what GraphQL then shows.

The tests share one hub per backend for the module (``served`` here): each writes only to Users no other
test here reads (joiner SCIM-0001 and leaver 5; 2 and 4 for e-mails, 4 untouched by the bad patches; 6; 7;
SCIM-A), so what it asserts does not depend on the others. The audit test has a hub of its own
(``served_alone``): it asserts every SCIM entry in the audit log, which the other tests' writes add to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scim2_models import SearchRequest

from hub.auth import Role
from hub.scim.models import Email, EnterpriseUser, Manager, Name, PerfhubUser, UserResource
from tests.scim.scim_client import extensions, ids_found, patch, raw_client, scim_client, user
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

ENTERPRISE = str(EnterpriseUser.__schema__)
PERFHUB = str(PerfhubUser.__schema__)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def served(served_shared: ServedHub) -> ServedHub:
    """The module's hub on its backend (see above); a test fails on a traceback logged while it ran."""
    return served_shared


@pytest.fixture
def served_alone(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    """A hub and database of the test's own."""
    yield from served_fixtures.hub_of_its_own(database_url, tmp_path)


EMPLOYEE_QUERY = """
query ($id: ID!) { employee(id: $id) {
  employeeNo name email status leftOn department { code } post { code } manager { id }
  postAssignments { startDate endDate post { code } }
  results { id }
} }
"""


def graphql(hub: ServedHub, query: str, **variables: object) -> dict[str, Any]:
    answer = httpx.post(hub.url, json={"query": query, "variables": variables}, headers=hub.headers(Role.HR_ADMIN))
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def a_post_elsewhere(hub: ServedHub, post_code: str) -> tuple[str, str]:
    """Another post than ``post_code``, with its department's code."""
    data = graphql(hub, "{ posts { code department { code } } }")
    other = next(post for post in data["posts"] if post["code"] != post_code)
    return other["code"], other["department"]["code"]


def test_a_joiner_a_mover_and_a_leaver_reach_graphql(served: ServedHub) -> None:
    """A hire by POST, a transfer and a new manager by PATCH, a leaver by active=false: GraphQL shows the new
    employee, the assignment history of the move, and the leaver INACTIVE with their results kept."""
    with scim_client(served) as client:
        boss_post = extensions(user(client.query(UserResource, "1")))[1].post
        assert boss_post is not None

        joiner = UserResource(
            user_name="SCIM-0001",
            external_id="idp-42",
            name=Name(given_name="Ada", family_name="Lovelace"),
            emails=[Email(value="ada@example.org", primary=True)],
            active=True,
        )
        joiner[EnterpriseUser] = EnterpriseUser(manager=Manager(value="1"))
        joiner[PerfhubUser] = PerfhubUser(post=boss_post, hire_date="2026-01-05")
        hired = user(client.create(joiner))
        assert hired.id is not None and hired.user_name == "SCIM-0001" and hired.external_id == "idp-42"
        enterprise, _ = extensions(hired)
        assert enterprise.employee_number == "SCIM-0001"
        assert enterprise.manager is not None and enterprise.manager.value == "1"
        assert hired.name is not None and hired.name.formatted == "Ada Lovelace"

        search = SearchRequest[UserResource].model_validate({"filter": 'externalId eq "idp-42"'})
        assert ids_found(client.search(UserResource, search)) == [hired.id]  # POST /Users/.search

        new_post, new_department = a_post_elsewhere(served, boss_post)
        move = patch(
            ("replace", f"{PERFHUB}:post", new_post),
            ("replace", f"{ENTERPRISE}:department", new_department),
            ("replace", f"{ENTERPRISE}:manager", {"value": "2"}),
        )
        assert client.modify(UserResource, hired.id, move) is None  # 204: RFC 7644 §3.5.2 lets PATCH answer no body
        enterprise, perfhub = extensions(user(client.query(UserResource, hired.id)))
        assert perfhub.post == new_post and enterprise.department == new_department

        employee = graphql(served, EMPLOYEE_QUERY, id=hired.id)["employee"]
        assert employee["name"] == "Ada Lovelace" and employee["email"] == "ada@example.org"
        assert employee["status"] == "ACTIVE" and employee["manager"] == {"id": "2"}
        assert (employee["post"]["code"], employee["department"]["code"]) == (new_post, new_department)
        history = [(row["post"]["code"], row["endDate"] is None) for row in employee["postAssignments"]]
        assert history == [(new_post, True), (boss_post, False)]  # newest first: the move ended the first post

        # A leaver with results: the existing employee 5 (the demo has scored cycles).
        before = graphql(served, EMPLOYEE_QUERY, id="5")["employee"]
        assert before["results"], "the demo employee should have results"
        client.modify(UserResource, "5", patch(("replace", "active", False)))
        assert user(client.query(UserResource, "5")).active is False
        after = graphql(served, EMPLOYEE_QUERY, id="5")["employee"]
        assert after["status"] == "INACTIVE" and after["leftOn"] is not None
        assert after["results"] == before["results"]


def test_every_write_is_audited_as_the_scim_caller(served_alone: ServedHub) -> None:
    """A hire and a refused hire each leave an audit entry naming scim:<subject>."""
    served = served_alone
    with raw_client(served) as http:
        post = http.get("/Users/1").json()[PERFHUB]["post"]
        body = {"schemas": [str(UserResource.__schema__), PERFHUB], "userName": "SCIM-A", "name": {"formatted": "A"}}
        assert http.post("/Users", json={**body, PERFHUB: {"post": post}}).status_code == 201
        assert http.post("/Users", json={**body, PERFHUB: {"post": post}}).status_code == 409
    data = graphql(served, "{ auditLog(first: 50) { edges { node { subject operation outcome ids } } } }")
    entries = [edge["node"] for edge in data["auditLog"]["edges"] if edge["node"]["subject"].startswith("scim:")]
    outcomes = sorted((entry["operation"], entry["outcome"]) for entry in entries)
    assert outcomes == [("scim.createUser", "DUPLICATE_CODE"), ("scim.createUser", "ok")]


def test_filters_and_pages(served: ServedHub) -> None:
    """userName, externalId and employeeNumber filters; startIndex and count page the list."""
    with raw_client(served) as http:
        one = http.get("/Users/3").json()
        number = one["userName"]
        for expression in (f'userName eq "{number}"', f'{ENTERPRISE}:employeeNumber eq "{number}"'):
            listed = http.get("/Users", params={"filter": expression}).json()
            assert [user["id"] for user in listed["Resources"]] == ["3"], expression
        assert http.get("/Users", params={"filter": 'externalId eq "nobody"'}).json()["totalResults"] == 0
        page = http.get("/Users", params={"startIndex": 11, "count": 5}).json()
        assert page["startIndex"] == 11 and page["itemsPerPage"] == 5
        assert [user["id"] for user in page["Resources"]] == ["11", "12", "13", "14", "15"]
        assert page["totalResults"] >= 120


@pytest.mark.parametrize(
    ("change", "status", "scim_type"),
    [
        ({"op": "replace", "path": f"{PERFHUB}:post", "value": "NO-SUCH-POST"}, 400, "invalidValue"),
        ({"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "999999"}}, 400, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": "OTHER"}, 400, "mutability"),
    ],
)
def test_bad_patches_are_scim_errors_and_change_nothing(
    served: ServedHub, change: dict[str, object], status: int, scim_type: str
) -> None:
    """A patch naming nothing, or changing the immutable userName, is a SCIM error body; the User is unchanged."""
    with raw_client(served) as http:
        before = http.get("/Users/4").json()
        answer = http.patch("/Users/4", json={"schemas": [PATCH_OP], "Operations": [change]})
        assert answer.status_code == status, answer.text
        assert answer.json()["scimType"] == scim_type
        assert http.get("/Users/4").json() == before


def test_a_taken_email_is_409_uniqueness_and_an_unknown_user_404(served: ServedHub) -> None:
    """Another employee's e-mail is a uniqueness conflict; an id that names nobody is 404; DELETE is refused."""
    with raw_client(served) as http:
        change = {"op": "replace", "path": "emails", "value": [{"value": "taken@example.org", "primary": True}]}
        assert http.patch("/Users/2", json={"schemas": [PATCH_OP], "Operations": [change]}).status_code == 204
        answer = http.patch("/Users/4", json={"schemas": [PATCH_OP], "Operations": [change]})
        assert (answer.status_code, answer.json()["scimType"]) == (409, "uniqueness")
        taken = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "externalId", "value": "idp-7"}]}
        assert http.patch("/Users/2", json=taken).status_code == 204
        answer = http.patch("/Users/4", json=taken)
        assert (answer.status_code, answer.json()["scimType"]) == (409, "uniqueness")
        assert http.get("/Users/4").json().get("externalId") is None
        assert http.get("/Users/999999").status_code == 404
        assert http.delete("/Users/4").status_code == 405
        assert http.get("/Users/4").json()["active"] is True


def test_microsoft_entra_style_patches(served: ServedHub) -> None:
    """Entra's habits: capitalised ops, a filtered e-mail path, booleans as strings, attributes perfhub does not
    keep (ignored); the change lands, the leaver too."""
    operations = [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "entra@example.org"},
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Replace", "path": "active", "value": "False"},
    ]
    with raw_client(served) as http:
        answer = http.patch("/Users/6", json={"schemas": [PATCH_OP], "Operations": operations})
        assert answer.status_code == 204, answer.text
        user = http.get("/Users/6").json()
    assert user["emails"] == [{"value": "entra@example.org", "type": "work", "primary": True}]
    assert user["active"] is False and "title" not in user
    with raw_client(served) as http:
        back = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": True}]}
        refused = http.patch("/Users/6", json=back)
        assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")  # a leaver stays one
        assert http.get("/Users/6").json()["active"] is False


def renaming(name: str) -> dict[str, object]:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "name.formatted", "value": name}]}


def test_a_stale_etag_is_412_and_a_fresh_one_applies(served: ServedHub) -> None:
    """If-Match with the version read before someone else's change is refused; with the current one it applies."""
    with raw_client(served) as http:
        stale = http.get("/Users/7").headers["ETag"]
        assert http.patch("/Users/7", json=renaming("A")).status_code == 204
        assert http.patch("/Users/7", json=renaming("B"), headers={"If-Match": stale}).status_code == 412
        fresh = http.get("/Users/7").headers["ETag"]
        assert fresh != stale
        assert http.patch("/Users/7", json=renaming("B"), headers={"If-Match": fresh}).status_code == 204
        assert http.get("/Users/7").json()["name"] == {"formatted": "B"}
