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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.served_readme import readme_query
from hub.auth import Role
from tests.loopback import served
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
    """With three places inside and no patience, eight concurrent socket queries that find the door shut get the error
    HTTP answers with 503: code SERVER_BUSY and when to retry; the socket stays usable and a query sent once
    the others are done answers data."""
    env = {
        **NO_RATE_LIMIT,
        "PERFHUB_DATABASE_CONNECTIONS": "4",  # the least a process pools: three places inside
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


SLOW_PAYROLL_SECONDS = 4.0
COMPENSATION_PAGE = "{ employees(first: 3) { edges { node { employeeNo compensationRecords { currency } } } } }"
SLOW_PAYROLL = """\
[systems.payroll]
kind = "odata"
base_url = "{base_url}"
auth = {{ type = "basic", username_env = "PAYROLL_USER", password_env = "PAYROLL_PASSWORD" }}
entity_set = "EmpCompensation"
retries = 0
timeout = 30.0
"""


PLACES = 3
"""Places inside a process that pools four connections (the least it pools), one kept for its own work."""


def slow_payroll(asked: list[str], all_asked: asyncio.Event) -> Starlette:
    """A payroll system that takes ``SLOW_PAYROLL_SECONDS`` to answer that it is unavailable; ``all_asked`` is set
    once it has been asked ``PLACES`` times."""

    async def anything(request: Request) -> Response:
        asked.append(request.url.path)
        if len(asked) >= PLACES:
            all_asked.set()
        await asyncio.sleep(SLOW_PAYROLL_SECONDS)
        return Response("maintenance", status_code=503)

    return Starlette(routes=[Route("/{path:path}", anything)])


async def test_a_query_waiting_on_a_slow_business_system_leaves_its_place_to_others(
    postgresql_url: str, tmp_path: Path
) -> None:
    """Three places inside, a door that lets a request wait one second, and a payroll system that takes four to
    answer: while three pages of compensation records wait on payroll, another hr_admin's query gets in and
    answers (before, the waiting pages held every place, and the other query was refused 503 SERVER_BUSY); the
    pages then answer with their payroll field null and the system's error, their other fields intact."""
    asked: list[str] = []
    all_asked = asyncio.Event()
    async with served(slow_payroll(asked, all_asked)) as payroll:
        systems = tmp_path / "systems.toml"
        systems.write_text(SLOW_PAYROLL.format(base_url=payroll), encoding="utf-8")
        env = {
            **NO_RATE_LIMIT,
            "PERFHUB_DATABASE_CONNECTIONS": "4",
            "PERFHUB_WORKERS": "1",
            "PERFHUB_OPERATION_QUEUE_TIMEOUT_SECONDS": "1",
            "PERFHUB_SYSTEMS_FILE": str(systems),
            "PAYROLL_USER": "hub",
            "PAYROLL_PASSWORD": "secret",
        }
        hub = ServedHub(postgresql_url, tmp_path, env)
        await asyncio.to_thread(hub.start)  # off the loop: the payroll system is served on it
        try:
            headers = hub.headers(Role.HR_ADMIN)
            async with httpx.AsyncClient(base_url=hub.base_url, timeout=60) as client:
                pages = [
                    asyncio.create_task(client.post("/graphql", json={"query": COMPENSATION_PAGE}, headers=headers))
                    for _ in range(PLACES)
                ]
                await asyncio.wait_for(all_asked.wait(), 30)  # every page is waiting on payroll now
                other = await client.post("/graphql", json={"query": "{ cycles { id name } }"}, headers=headers)
                assert not any(page.done() for page in pages), "a page answered before the other query"
                answered = await asyncio.gather(*pages)
        finally:
            await asyncio.to_thread(hub.stop)
    assert other.status_code == 200, other.text[:300]
    assert other.json()["data"]["cycles"], other.text[:300]
    for page in answered:
        body = page.json()
        nodes = [edge["node"] for edge in body["data"]["employees"]["edges"]]
        assert len(nodes) == 3 and all(node["employeeNo"] and node["compensationRecords"] is None for node in nodes)
        assert {error["path"][-1] for error in body["errors"]} == {"compensationRecords"}
    _no_traceback(hub)
