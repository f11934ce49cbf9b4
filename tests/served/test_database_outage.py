"""The served hub through a database outage: it answers quickly that the database is away, then recovers.

`perfhub serve` reaches PostgreSQL only through a TCP proxy in the test (``tests/tcp_proxy.py``), with short
timeouts set in its environment as an operator would set them. The proxy refuses the hub (every open
connection reset, new ones refused: the database restarting), then passes again, then black-holes it
(connections accepted, nothing answered, open ones silent: a network partition), then passes again.
Throughout, /readyz answers 503 within its own timeout and every query and mutation answers
DATABASE_UNAVAILABLE within the configured timeouts: nothing hangs until the outage ends. When it ends,
the same process serves again, without a restart.

The clients' own timeouts are three times what the hub should need, so a hang fails the test as a
timeout while a slow machine does not: the test asserts outcomes, not latencies. PostgreSQL only: the
outage is made on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.served.hub_process import ServedHub, served_behind_proxy
from tests.tcp_proxy import Mode, ProxyThread

# Short, but not so short that a loaded test machine trips them while the database is up: connecting
# (TCP, authentication, the driver's type setup) can take a second there.
CONNECT = 2.0
POOL = 2.0
STATEMENT = 4.0
READINESS = 1.5
ENV = {
    "PERFHUB_RATE_LIMIT_PER_SECOND": "0",
    "PERFHUB_DATABASE_CONNECT_TIMEOUT_SECONDS": str(CONNECT),
    "PERFHUB_DATABASE_POOL_TIMEOUT_SECONDS": str(POOL),
    "PERFHUB_DATABASE_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT),
    "PERFHUB_READINESS_TIMEOUT_SECONDS": str(READINESS),
}
REQUEST_BUDGET = 3 * (CONNECT + POOL + STATEMENT)
"""A client's patience with one request: three times the longest the configured timeouts allow for it."""
READY_BUDGET = 3 * READINESS
CONCURRENT = 12

QUERY = "{ employees(first: 5) { totalCount edges { node { name department { name } } } } }"
MUTATION = """
mutation { cycleCreate(input: {name: "Outage", periodStart: "2027-01-01", periodEnd: "2027-12-31"}) { __typename } }
"""
UNAVAILABLE = "DATABASE_UNAVAILABLE"


@pytest.fixture
def proxied(postgresql_backend: Backend, tmp_path: Path) -> Iterator[tuple[ServedHub, ProxyThread]]:
    """The served hub on a fresh PostgreSQL database that it reaches only through the proxy."""
    with served_behind_proxy(postgresql_backend, tmp_path, ENV, ProxyThread) as (hub, proxy):
        yield hub, proxy


def post(hub: ServedHub, document: str, accept: str | None = None) -> httpx.Response:
    headers = hub.headers("hr_admin") | ({"Accept": accept} if accept else {})
    return httpx.post(hub.url, json={"query": document}, headers=headers, timeout=REQUEST_BUDGET)


def ready(hub: ServedHub) -> httpx.Response:
    return httpx.get(f"{hub.base_url}/readyz", timeout=READY_BUDGET)


def codes(answer: httpx.Response) -> list[str]:
    body: dict[str, Any] = answer.json()
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def assert_served(hub: ServedHub) -> None:
    answer = post(hub, QUERY)
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json(), answer.text
    assert answer.json()["data"]["employees"]["totalCount"] == 120


def assert_unavailable(hub: ServedHub, reason: str) -> None:
    """/readyz, a burst of concurrent queries and a mutation all say the database is away, in time."""
    readiness = ready(hub)
    assert readiness.status_code == 503, readiness.text
    assert readiness.json()["status"] == "unavailable"
    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(lambda _: post(hub, QUERY), range(CONCURRENT)))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert set(codes(answer)) == {UNAVAILABLE}, answer.text
        assert all(reason in error["message"] for error in answer.json()["errors"]), answer.text
    # A client of GraphQL over HTTP's own media type: the operation executed (its field failed), so 200 too.
    strict = post(hub, QUERY, accept="application/graphql-response+json")
    assert strict.status_code == 200, strict.text
    assert set(codes(strict)) == {UNAVAILABLE}, strict.text
    # A mutation fails, and so does writing its audit entry: still the same answer, not an internal error.
    mutated = post(hub, MUTATION)
    assert mutated.status_code == 200, mutated.text
    assert codes(mutated) == [UNAVAILABLE], mutated.text


def test_the_hub_fails_fast_through_an_outage_and_recovers_without_a_restart(
    proxied: tuple[ServedHub, ProxyThread],
) -> None:
    hub, proxy = proxied
    assert_served(hub)
    assert ready(hub).status_code == 200

    proxy.set_mode(Mode.REFUSE)
    assert_unavailable(hub, "refused")

    proxy.set_mode(Mode.PASS)
    assert_served(hub)
    with ThreadPoolExecutor(CONCURRENT) as pool:  # fill the pool: the partition will silence these connections
        list(pool.map(lambda _: assert_served(hub), range(CONCURRENT)))

    proxy.set_mode(Mode.BLACK_HOLE)
    assert_unavailable(hub, "did not answer in time")

    proxy.set_mode(Mode.PASS)
    assert_served(hub)
    assert ready(hub).status_code == 200
    assert_served(hub)  # and again, on the pool as it is after the outage

    log = hub.log()
    assert "database unavailable" in log
    assert "Traceback" not in log, log[-4000:]
