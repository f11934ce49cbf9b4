"""A SCIM client of the served hub, as an identity provider would hold one: scim2-client over httpx2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ListResponse, PatchOp

from hub.auth import Role
from hub.scim.models import EnterpriseUser, PerfhubUser, User, UserResource, provider
from tests.served.hub_process import ServedHub


def scim_url(hub: ServedHub) -> str:
    return f"{hub.base_url}/scim/v2"


def raw_client(hub: ServedHub, role: Role | None = Role.SCIM, employee_number: str | None = None) -> httpx2.Client:
    """An HTTP client at /scim/v2 with a token of ``role`` (none without one)."""
    headers = {} if role is None else hub.headers(role, employee_number)
    return httpx2.Client(base_url=scim_url(hub), headers=headers, timeout=30)


@contextmanager
def scim_client(hub: ServedHub, role: Role = Role.SCIM) -> Iterator[SyncSCIMClient]:
    """scim2-client with perfhub's models (typed extensions), the capabilities read from the server."""
    with raw_client(hub, role) as http:
        client = SyncSCIMClient(http, provider=provider())
        client.discover()
        yield client


def user(answer: object) -> UserResource:
    """A User scim2-client answered (its answers are typed as User, Error or dict)."""
    assert isinstance(answer, User), answer
    return cast(UserResource, answer)


def extensions(answer: UserResource) -> tuple[EnterpriseUser, PerfhubUser]:
    enterprise, perfhub = answer[EnterpriseUser], answer[PerfhubUser]
    assert enterprise is not None and perfhub is not None
    return enterprise, perfhub


def patch(*operations: tuple[str, str, object]) -> PatchOp[UserResource]:
    """A PatchOp of (op, path, value) operations."""
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": path, "value": value} for op, path, value in operations],
    }
    return PatchOp[UserResource].model_validate(body)


def ids_found(answer: object) -> list[str | None]:
    """The ids of a ListResponse scim2-client answered."""
    assert isinstance(answer, ListResponse), answer
    return [resource.id for resource in answer.resources or []]
