"""The served hub answers its health checks and a query, as the installed command run by a user."""

from __future__ import annotations

import httpx

from tests.served.hub_process import ServedHub


def test_the_served_hub_is_ready_and_answers_a_bearer_query(served: ServedHub) -> None:
    assert httpx.get(f"{served.base_url}/healthz").json() == {"status": "ok"}
    answer = httpx.post(
        served.url, json={"query": "{ employees(first: 1) { totalCount } }"}, headers=served.headers("hr_admin")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"employees": {"totalCount": 120}}}
    assert "No supported WebSocket library" not in served.log()
