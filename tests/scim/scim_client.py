"""A SCIM client of the served hub, as an identity provider would hold one: scim2-client over httpx2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient

from hub.auth import Role
from hub.scim.models import provider
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
