"""scim2-tester's RFC 7643/7644 checks against the served hub: discovery, and create, read, replace, search and
PATCH (add, replace, remove) of Users, with nothing failed.

The tester fills every writable attribute with random values. Where perfhub accepts any value (userName,
externalId, names, e-mails) they stay random; where a value must name something of the organisation (a post,
a department, a manager) or be a date, the models the tester builds from carry examples it picks from
instead: the organisation's real codes, read from the hub. Deleting is left out: perfhub keeps its people
(a leaver is ``active: false``), so DELETE is answered 405.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import CaseExact, Required, ResourceType, ScimProvider
from scim2_models import Email as BaseEmail
from scim2_tester import Status, check_server
from scim2_tester.utils import CheckResult

from hub.scim.models import CONFIG, Email, EnterpriseUser, Group, Manager, Name, PerfhubUser, User
from tests.scim.scim_client import raw_client
from tests.served.hub_process import ServedHub

ENTERPRISE = str(EnterpriseUser.__schema__)
PERFHUB = str(PerfhubUser.__schema__)
FAILED = {Status.ERROR, Status.CRITICAL}


@pytest.fixture
def served(served_shared: ServedHub) -> ServedHub:
    """The module's hub on its backend, not one per test: discovery reads only what no User changes (the
    service provider's configuration, resource types and schemas), and the CRUD checks write Users of their
    own, with random names."""
    return served_shared


def organisation_examples(hub: ServedHub) -> ScimProvider:
    """perfhub's models as an identity provider configured for perfhub fills them: a name and a post on every
    hire (marked required here, so that the tester sends them), and examples of a post, its department and a
    manager that the hub holds, and of the e-mail perfhub keeps (work, primary)."""
    with raw_client(hub) as http:
        first = http.get("/Users/1").json()
    post_code, department_code = first[PERFHUB]["post"], first[ENTERPRISE]["department"]

    class ExampleManager(Manager):
        value: Annotated[str | None, Required.true, CaseExact.true] = Field(None, examples=["1"])

    class ExampleName(Name):
        formatted: Annotated[str | None, Required.true] = None

    class ExampleEmail(Email):  # perfhub keeps one e-mail, the work one, and answers it so
        type: BaseEmail.Type | None = Field(None, examples=[BaseEmail.Type.work])
        primary: bool | None = Field(None, examples=[True])

    class ExampleUser(User):  # type: ignore[type-arg]
        name: Annotated[ExampleName | None, Required.true] = None
        emails: list[ExampleEmail] | None = None  # type: ignore[assignment]
        active: bool | None = Field(None, examples=[True])

    class ExampleEnterpriseUser(EnterpriseUser):
        department: str | None = Field(None, examples=[department_code])
        manager: ExampleManager | None = None

    class ExamplePerfhubUser(PerfhubUser):
        post: Annotated[str | None, Required.true] = Field(None, examples=[post_code])
        hire_date: str | None = Field(None, examples=["2026-01-05"])

    users = ResourceType.from_resource(
        ExampleUser[ExampleEnterpriseUser | Annotated[ExamplePerfhubUser, Required.true]]  # type: ignore[misc]
    )
    groups = ResourceType.from_resource(Group)  # a search at the root answers departments too
    return ScimProvider(
        models=[ExampleUser, ExampleEnterpriseUser, ExamplePerfhubUser, Group],
        resource_types=[users, groups],
        config=CONFIG,
    )


ADD, REMOVE, REPLACE = "check_add_attribute", "check_remove_attribute", "check_replace_attribute"
KNOWN_DEVIATIONS = {
    # The enterprise employeeNumber is the employee number, a read-only echo of userName: the extension never
    # comes back as the tester sent it (nor can it be removed: a department cannot).
    (ADD, ENTERPRISE),
    (REPLACE, ENTERPRISE),
    (REMOVE, ENTERPRISE),
    # A person is always active or a leaver, in a department, with a hire date: left out or removed, these stay.
    (REMOVE, "active"),
    (REMOVE, f"{ENTERPRISE}:department"),
    (REMOVE, f"{PERFHUB}:hireDate"),
}
"""The tester's checks that fail by perfhub's design, each with its reason; the test fails on any other, and on
any of these that starts to pass (then take it off the list)."""


def deviations(results: list[CheckResult]) -> set[tuple[str, str]]:
    """The failed checks as (check, attribute)."""
    found: set[tuple[str, str]] = set()
    for result in results:
        if result.status in FAILED:
            reason = result.reason or ""
            found.add((result.title or "", reason.split("'")[1] if "'" in reason else ""))
    return found


def failures(results: list[CheckResult]) -> list[str]:
    return [
        f"{result.title} ({result.resource_type}): {result.reason}" for result in results if result.status in FAILED
    ]


def test_discovery_is_rfc_compliant(served: ServedHub) -> None:
    """ServiceProviderConfig, ResourceTypes and Schemas as the tester discovers them: nothing failed."""
    with raw_client(served) as http:
        results = check_server(SyncSCIMClient(http), include_tags={"discovery", "misc"})
    assert results and not failures(results)
    assert {result.status for result in results} & {Status.SUCCESS, Status.COMPLIANT}


def test_users_crud_and_patch_are_rfc_compliant(served: ServedHub) -> None:
    """Create, read, replace, search and PATCH of Users: nothing failed but the known deviations, and the checks
    ran (none skipped)."""
    with raw_client(served) as http:
        client = SyncSCIMClient(http, provider=organisation_examples(served))
        results = check_server(client, exclude_tags={"crud:delete"}, resource_types=["User"])
    assert deviations(results) == KNOWN_DEVIATIONS, "\n".join(failures(results))
    ran = [result for result in results if result.status is not Status.SKIPPED]
    assert {"object_creation", "object_query", "object_replacement"} <= {result.title for result in ran}
    assert len([result for result in ran if (result.title or "").startswith("check_")]) > 5  # the PATCH checks
