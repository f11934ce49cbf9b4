"""Who may use /scim/v2, and what a scim token may not do elsewhere."""

from __future__ import annotations

import httpx
import pytest

from hub.auth import Role
from tests.scim.scim_client import raw_client
from tests.served.hub_process import ServedHub


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.MANAGER, Role.ANALYST, Role.PAYROLL])
def test_only_scim_and_hr_admin_may_provision(served_to_read: ServedHub, role: Role) -> None:
    """Other roles are refused 403 at /scim/v2, no token 401; hr_admin is let in."""
    # An analyst's token names nobody (one that names an employee is refused as a whole: tests/hub/test_auth.py).
    number = None if role is Role.ANALYST else "E0001"
    with raw_client(served_to_read, role, employee_number=number) as http:
        assert http.get("/Users/1").status_code == 403
    with raw_client(served_to_read, None) as http:
        assert http.get("/Users/1").status_code == 401
        assert http.get("/ServiceProviderConfig").status_code == 200  # RFC 7644 §4: public
    with raw_client(served_to_read, Role.HR_ADMIN) as http:
        assert http.get("/Users/1").status_code == 200


def test_a_bad_token_is_401_with_a_challenge(served_to_read: ServedHub) -> None:
    """A token that does not verify is 401 with a SCIM error body and a Bearer challenge; a scim token is let in."""
    with raw_client(served_to_read, None) as http:
        answer = http.get("/Users/1", headers={"Authorization": "Bearer not-a-token"})
        assert answer.status_code == 401 and answer.json()["status"] == "401"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    with raw_client(served_to_read, Role.SCIM) as http:
        assert http.get("/Users/1").status_code == 200


def test_a_scim_token_reads_nothing_on_graphql(served_to_read: ServedHub) -> None:
    """A scim token is refused 403 by /graphql."""
    answer = httpx.post(served_to_read.url, json={"query": "{ __typename }"}, headers=served_to_read.headers(Role.SCIM))
    assert answer.status_code == 403
