"""A valid query is never answered "database unavailable" because the hub is busy (PostgreSQL, a small pool).

A query operation once checked out a pooled connection per loader batch dispatched in the same tick, so N
concurrent operations asked the pool for several times N connections at once, and every one of them waited in
the pool's queue until its timeout: at 32 concurrent README queries on a pool of 32, not one was answered. An
operation's reads now share one connection (``hub.db.lease``), so a pool of four serves any number of them, in
turn.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bench.served_readme import readme_query
from hub.auth import Role
from tests.served.conftest import NO_RATE_LIMIT, _no_traceback
from tests.served.hub_process import ServedHub

POOL = "4"
CONCURRENT = 32
ROUNDS = 2


async def test_sixteen_concurrent_readme_queries_on_a_pool_of_four_all_answer_data(
    postgresql_url: str, tmp_path: Path
) -> None:
    """Sixteen clients at once, twice, against one process whose pool holds four connections: every answer is
    200 with the README's data and no error."""
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
    failed = [answer.text[:300] for answer in answers if answer.status_code != 200 or "errors" in answer.json()]
    assert failed == [], f"{len(failed)} of {len(answers)} failed, the first: {failed[0]}"
    first = answers[0].json()["data"]
    assert first["cycles"] and first["employees"]["edges"], "the README's query finds its data"
    assert all(answer.json() == answers[0].json() for answer in answers)
