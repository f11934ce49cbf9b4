"""A valid query is never answered "database unavailable" because the hub is busy (PostgreSQL, a small pool).

A query once checked out a pooled connection per session (eight for the README's first query, several at once), so
N concurrent queries asked the pool for several times N connections, and waited in its queue mid-flight until the
pool timeout: in ``bench.served`` (10,000 employees) 32 concurrent README queries on a pool of 32 got not one answer.
A query's reads now take turns on one connection (``hub.db.lease``) and a process executes no more requests at once
than its pool serves (``hub.admission``): the others wait at the door. The pool timeout here is one second, short
against the queries, as on a busy machine: before the change the hub logged the pool's timeouts as tracebacks, and
with the lease alone (no door) 40 of these 64 requests were answered DATABASE_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from bench.served_readme import readme_query
from hub.auth import Role
from tests.served.conftest import NO_RATE_LIMIT, _no_traceback
from tests.served.hub_process import ServedHub
from tests.served.sockets import socket_client

POOL = "4"
CONCURRENT = 32
ROUNDS = 2


async def test_thirty_two_concurrent_readme_queries_on_a_pool_of_four_all_answer_data(
    postgresql_url: str, tmp_path: Path
) -> None:
    """32 clients at once, twice, against one process whose pool holds four connections: every answer is 200 with
    the README's data and no error, and no session of a query had to take a connection of its own."""
    env = {
        **NO_RATE_LIMIT,
        "PERFHUB_DATABASE_CONNECTIONS": POOL,
        "PERFHUB_WORKERS": "1",
        "PERFHUB_DATABASE_POOL_TIMEOUT_SECONDS": "1",
    }
    query = {"query": readme_query()}
    with ServedHub(postgresql_url, tmp_path, env) as hub:
        headers = hub.headers(Role.HR_ADMIN)
        limits = httpx.Limits(max_connections=CONCURRENT)
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=60, limits=limits) as client:
            answers: list[httpx.Response] = []
            for _ in range(ROUNDS):
                answers += await asyncio.gather(
                    *(client.post("/graphql", json=query, headers=headers) for _ in range(CONCURRENT))
                )
    _no_traceback(hub)
    assert "for its operation's connection" not in hub.log()
    failed = [answer.text[:300] for answer in answers if answer.status_code != 200 or "errors" in answer.json()]
    assert failed == [], f"{len(failed)} of {len(answers)} failed, the first: {failed[0]}"
    first = answers[0].json()["data"]
    assert first["cycles"] and first["employees"]["edges"], "the README's query finds its data"
    assert all(answer.json() == answers[0].json() for answer in answers)


async def test_a_socket_query_whose_turn_does_not_come_is_refused_server_busy(
    postgresql_url: str, tmp_path: Path
) -> None:
    """With one place inside and no patience, concurrent socket queries that find the door shut get the error
    HTTP answers with 503: code SERVER_BUSY and when to retry; the socket stays usable and a query sent once
    the others are done answers data."""
    env = {
        **NO_RATE_LIMIT,
        "PERFHUB_DATABASE_CONNECTIONS": "2",  # one place inside, one connection kept for the process's own work
        "PERFHUB_WORKERS": "1",
        "PERFHUB_OPERATION_QUEUE_TIMEOUT_SECONDS": "0.001",
    }
    request = GraphQLRequest(readme_query())
    with ServedHub(postgresql_url, tmp_path, env) as hub:
        async with socket_client(hub, Role.HR_ADMIN) as session:
            outcomes = await asyncio.gather(
                *(session.execute(request) for _ in range(CONCURRENT // 4)), return_exceptions=True
            )
            refusals = [outcome for outcome in outcomes if isinstance(outcome, TransportQueryError)]
            assert refusals, f"none of {len(outcomes)} queries was refused with the door shut"
            assert len(refusals) + sum(isinstance(outcome, dict) for outcome in outcomes) == len(outcomes), [
                type(outcome) for outcome in outcomes
            ]
            for refusal in refusals:
                assert refusal.errors is not None
                assert refusal.errors[0]["extensions"] == {"code": "SERVER_BUSY", "retryAfter": 2}
            assert (await session.execute(request))["cycles"], "the socket still answers once the door is free"
    _no_traceback(hub)
