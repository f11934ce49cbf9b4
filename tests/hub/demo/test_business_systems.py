"""The demo business systems over real loopback HTTP: wire formats, auth, paging, values and faults."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jmespath
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from hub.demo.indicators import METRICS
from hub.demo.systems import SYSTEMS, DemoSystems, Garbage, finance, serve_demo_systems
from hub.demo.systems.faults import is_later_page
from hub.demo.systems.runner import dumps_toml
from hub.demo.values import demo_metric_value

# One event loop for the module, so that one demo serves every test (the pure tests are async
# only to share that mark).
pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = 11
EMPLOYEES = 60
START, END = dt.date(2026, 7, 1), dt.date(2026, 9, 30)
NUMBERS = [f"E{i:06d}" for i in range(1, EMPLOYEES + 1)]
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}


def expected(metric: str, numbers: list[str] = NUMBERS) -> dict[str, float]:
    """What the seed stored for ``numbers``: the employees with a record and their values."""
    values = {n: demo_metric_value(SEED, n, metric, START) for n in numbers}
    return {n: v for n, v in values.items() if v is not None}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo() -> AsyncIterator[DemoSystems]:
    async with serve_demo_systems(SEED, EMPLOYEES) as systems:
        yield systems


@pytest.fixture(autouse=True)
def no_faults(demo: DemoSystems) -> Iterator[None]:
    yield
    for faults in demo.faults.values():
        faults.reset()


@pytest_asyncio.fixture(loop_scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must not sit between the test and loopback.
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        yield http


def finance_auth(demo: DemoSystems) -> dict[str, str]:
    return {"Authorization": f"Bearer {demo.secrets['PERFHUB_FINANCE_TOKEN']}"}


async def tickets_token(demo: DemoSystems, client: httpx.AsyncClient) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": demo.secrets["PERFHUB_TICKETS_CLIENT_ID"],
        "client_secret": demo.secrets["PERFHUB_TICKETS_CLIENT_SECRET"],
        "scope": "stats.read",
    }
    response = await client.post(f"{demo.urls['tickets']}/oauth/token", data=form)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return {"Authorization": f"Bearer {body['access_token']}"}


async def test_finance_pages_through_every_value_and_leaves_out_missing_records(
    demo: DemoSystems, client: httpx.AsyncClient
) -> None:
    """Page numbers cover exactly the employees with a record, with the seed's values."""
    metric = "voucher_error_rate"
    asked = [*NUMBERS, "E999999", "X1"]  # unknown numbers are left out, like missing records
    got: dict[str, float] = {}
    page, pages = 1, None
    while pages is None or page <= pages:
        params: dict[str, Any] = {**PERIOD, "employees": ",".join(asked), "page": page, "per_page": 7}
        response = await client.get(
            f"{demo.urls['finance']}/api/v1/metrics/{metric}", params=params, headers=finance_auth(demo)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["meta"]["page"] == page
        got.update({row["employee_no"]: row["value"] for row in body["data"]})
        pages, page = body["meta"]["pages"], page + 1
    assert got == expected(metric)
    assert len(got) < EMPLOYEES  # this seed has employees without a record: they are not in any page
    assert pages == -(-len(got) // 7)


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("voucher_error_rate", PERIOD, {}, 401),
        ("voucher_error_rate", PERIOD, {"Authorization": "Bearer wrong"}, 401),
        ("patrol_completion_rate", PERIOD, None, 404),  # another system's metric
        ("voucher_error_rate", {"from": "2026-07-01"}, None, 400),
        ("voucher_error_rate", {"from": "2026-13-01", "to": "2026-09-30"}, None, 400),
        ("voucher_error_rate", {"from": "2026-09-30", "to": "2026-07-01"}, None, 400),
        ("voucher_error_rate", {**PERIOD, "per_page": "many"}, None, 400),
    ],
)
async def test_finance_refuses_bad_requests(
    demo: DemoSystems,
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    headers: dict[str, str] | None,
    status: int,
) -> None:
    """Bad or missing auth is 401, an unknown metric 404, bad dates or numbers 400, all as JSON."""
    url = f"{demo.urls['finance']}/api/v1/metrics/{path}"
    response = await client.get(url, params=params, headers=finance_auth(demo) if headers is None else headers)
    assert response.status_code == status
    assert "error" in response.json()


async def test_security_follows_cursors_to_every_value(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """Repeated employee_id parameters, an API key header and opaque cursors that end in null."""
    metric = "incident_response_minutes"
    headers = {"X-API-Key": demo.secrets["PERFHUB_SECURITY_KEY"]}
    params: dict[str, Any] = {"employee_id": NUMBERS[:25], "start": START.isoformat(), "end": END.isoformat()}
    got: dict[str, float] = {}
    cursor: str | None = ""
    requests = 0
    while cursor is not None:
        page = {**params, "limit": 10, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{demo.urls['security']}/v2/{metric}", params=page, headers=headers)
        assert response.status_code == 200
        body = response.json()
        got.update({item["staff"]["number"]: item["rate"] for item in body["items"]})
        cursor, requests = body["next_cursor"], requests + 1
    assert got == expected(metric, NUMBERS[:25])
    assert requests == -(-len(got) // 10)


async def test_security_refuses_bad_keys_cursors_metrics_and_dates(
    demo: DemoSystems, client: httpx.AsyncClient
) -> None:
    """401 for a wrong key, 400 for a forged cursor or a bad date, 404 for an unknown metric."""
    base, key = demo.urls["security"], {"X-API-Key": demo.secrets["PERFHUB_SECURITY_KEY"]}
    period = {"start": START.isoformat(), "end": END.isoformat()}
    assert (await client.get(f"{base}/v2/patrol_completion_rate", params=period)).status_code == 401
    wrong = {"X-API-Key": "nope"}
    assert (await client.get(f"{base}/v2/patrol_completion_rate", params=period, headers=wrong)).status_code == 401
    forged = {**period, "cursor": "not-a-cursor"}
    assert (await client.get(f"{base}/v2/patrol_completion_rate", params=forged, headers=key)).status_code == 400
    assert (await client.get(f"{base}/v2/voucher_error_rate", params=period, headers=key)).status_code == 404
    bad = {"start": "yesterday", "end": END.isoformat()}
    assert (await client.get(f"{base}/v2/patrol_completion_rate", params=bad, headers=key)).status_code == 400


async def test_tickets_follows_link_headers_to_every_value(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """An OAuth2 client-credentials token, then offset pages chained by Link: <...>; rel="next"."""
    metric = "work_order_satisfaction"
    headers = await tickets_token(demo, client)
    params = {"metric": metric, "assignees": ",".join(NUMBERS), "since": START.isoformat(), "until": END.isoformat()}
    url: str | None = str(httpx.URL(f"{demo.urls['tickets']}/rest/stats", params={**params, "limit": 20}))
    got: dict[str, float] = {}
    while url is not None:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200
        rows = response.json()
        assert all(row["metric"] == metric for row in rows)
        got.update({row["assignee"]: row["value"] for row in rows})
        url = response.links.get("next", {}).get("url")
    assert got == expected(metric)


async def test_tickets_token_endpoint_checks_the_client(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """Wrong secrets are invalid_client (401), other grants and scopes 400; Basic auth also works."""
    url = f"{demo.urls['tickets']}/oauth/token"
    client_id, secret = demo.secrets["PERFHUB_TICKETS_CLIENT_ID"], demo.secrets["PERFHUB_TICKETS_CLIENT_SECRET"]
    wrong = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "guess"}
    response = await client.post(url, data=wrong)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    password = {"grant_type": "password", "client_id": client_id, "client_secret": secret}
    assert (await client.post(url, data=password)).json()["error"] == "unsupported_grant_type"
    scope = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "admin"}
    assert (await client.post(url, data=scope)).json()["error"] == "invalid_scope"
    basic = await client.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert basic.status_code == 200 and basic.json()["access_token"]


async def test_tickets_stats_need_a_token_a_known_metric_and_dates(
    demo: DemoSystems, client: httpx.AsyncClient
) -> None:
    """No or a made-up token is 401; a missing period 400; an unknown metric 404."""
    url = f"{demo.urls['tickets']}/rest/stats"
    params = {"metric": "document_turnaround_days", "since": START.isoformat(), "until": END.isoformat()}
    assert (await client.get(url, params=params)).status_code == 401
    assert (await client.get(url, params=params, headers={"Authorization": "Bearer made-up"})).status_code == 401
    headers = await tickets_token(demo, client)
    assert (await client.get(url, params={**params, "until": "soon"}, headers=headers)).status_code == 400
    assert (await client.get(url, params={**params, "metric": "payroll"}, headers=headers)).status_code == 404
    assert (await client.get(url, params=params, headers=headers)).status_code == 200


async def test_the_systems_file_describes_the_wire(
    demo: DemoSystems, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """write_config round-trips through tomllib, names every metric, and each entry fetches its values."""
    path = tmp_path / "systems.toml"
    demo.write_config(path)
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    # Read before the comparison below, which narrows ``config`` to the TypedDict of demo.config().
    systems: dict[str, Any] = config["systems"]
    assert config == demo.config()
    assert set(systems) == set(SYSTEMS)
    assert {m for s in systems.values() for m in s.get("metrics", {})} == set(METRICS)
    assert systems["training"]["kind"] == "xapi" and systems["training"]["base_url"].endswith("/xapi")
    assert systems["training"]["account_home_page"] == "https://hr.perfhub.example"
    assert (systems["payroll"]["kind"], systems["payroll"]["entity_set"]) == ("odata", "EmpCompensation")
    assert systems["payroll"]["base_url"].endswith("/odata/v2") and systems["payroll"]["ids_per_request"] == 100
    tickets_headers = await tickets_token(demo, client)
    for metric, profile in METRICS.items():
        system = systems[profile.system]
        source = system["metrics"][metric]
        auth = system["auth"]
        assert all(env in demo.secrets for key, env in auth.items() if key.endswith("_env"))
        if auth["type"] == "bearer":
            headers = {"Authorization": f"Bearer {demo.secrets[auth['token_env']]}"}
        elif auth["type"] == "api_key":
            headers = {auth["header"]: demo.secrets[auth["key_env"]]}
        else:
            assert auth["type"] == "oauth2" and auth["token_url"] == "/oauth/token"
            headers = tickets_headers
        ids = NUMBERS[:5]
        id_value: str | list[str] = ",".join(ids) if source["ids"]["style"] == "csv" else ids
        params = {
            **source.get("params", {}),
            source["ids"]["param"]: id_value,
            source["period"]["start"]: START.isoformat(),
            source["period"]["end"]: END.isoformat(),
        }
        response = await client.get(system["base_url"] + source["path"], params=params, headers=headers)
        assert response.status_code == 200, (metric, response.text)
        rows = jmespath.search(source["map"], response.json())
        assert {row["employee"]: row["value"] for row in rows} == expected(metric, ids)


async def test_secrets_are_fresh_and_ports_differ_between_two_demos(
    demo: DemoSystems, client: httpx.AsyncClient
) -> None:
    """Two demos on one machine never collide: each binds its own free ports and draws its own secrets."""
    async with serve_demo_systems(SEED, EMPLOYEES) as other:
        ports = {httpx.URL(url).port for url in [*demo.urls.values(), *other.urls.values()]}
        assert len(ports) == 2 * len(SYSTEMS)
        assert not set(demo.secrets.values()) & set(other.secrets.values())
        url = f"{other.urls['finance']}/api/v1/metrics/voucher_error_rate"
        assert (await client.get(url, params=PERIOD, headers=finance_auth(demo))).status_code == 401
        assert (await client.get(url, params=PERIOD, headers=finance_auth(other))).status_code == 200
    with pytest.raises(httpx.ConnectError):  # stopped on exit, its ports closed
        await client.get(url, params=PERIOD, headers=finance_auth(other))


async def test_a_system_that_fails_to_start_stops_the_others_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing startup is an ordinary error, not uvicorn's process exit, and nothing is left running."""

    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise OSError("no ledger database")
        yield

    monkeypatch.setattr(finance, "create_app", lambda *_: Starlette(lifespan=broken))
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "disabled", True)  # uvicorn logs the failure
    with pytest.raises(RuntimeError, match="finance"):
        async with serve_demo_systems(SEED, EMPLOYEES):
            pytest.fail("the demo started without its finance system")


async def finance_get(demo: DemoSystems, client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    url = f"{demo.urls['finance']}/api/v1/metrics/reimbursement_cycle_days"
    return await client.get(
        url, params={**PERIOD, "employees": "E000001,E000002", **params}, headers=finance_auth(demo)
    )


async def put_faults(demo: DemoSystems, client: httpx.AsyncClient, system: str, **switches: Any) -> httpx.Response:
    return await client.put(f"{demo.urls[system]}/_faults", json=switches)


async def test_fail_next_answers_503_that_many_times(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """fail_next=2 over HTTP: two 503s, then the system answers again."""
    assert (await put_faults(demo, client, "finance", fail_next=2)).json()["fail_next"] == 2
    statuses = [(await finance_get(demo, client)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_rate_limit_next_answers_429_with_retry_after(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """rate_limit_next=1: one 429 carrying Retry-After: 1, then 200."""
    await put_faults(demo, client, "finance", rate_limit_next=1)
    limited = await finance_get(demo, client)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert (await finance_get(demo, client)).status_code == 200


async def test_error_rate_fails_an_exact_evenly_spread_share(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """error_rate=0.5 fails every other request: counter-based, so the same every run."""
    await put_faults(demo, client, "finance", error_rate=0.5)
    statuses = [(await finance_get(demo, client)).status_code for _ in range(6)]
    assert statuses.count(503) == 3 and statuses.count(200) == 3
    assert statuses[0::2] == [statuses[0]] * 3  # alternating


async def test_garbage_garbles_successful_bodies_only(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """Garbage: 200 with HTML, or 200 with JSON of the wrong shape; errors stay as they are."""
    await put_faults(demo, client, "finance", garbage="not_json")
    garbled = await finance_get(demo, client)
    assert garbled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    demo.faults["finance"].garbage = Garbage.WRONG_SHAPE
    wrong = await finance_get(demo, client)
    assert wrong.status_code == 200 and "data" not in wrong.json()
    assert (await finance_get(demo, client, to="never")).status_code == 400


async def test_down_answers_503_to_everything_until_switched_back(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """down=true makes every endpoint 503, the token endpoint and the LRS included."""
    for system in ("tickets", "training"):
        await put_faults(demo, client, system, down=True)
    token = await client.post(f"{demo.urls['tickets']}/oauth/token", data={"grant_type": "client_credentials"})
    assert token.status_code == 503
    assert (await client.get(f"{demo.urls['training']}/xapi/statements")).status_code == 503
    assert (await put_faults(demo, client, "tickets", down=False)).status_code == 200
    assert (await client.post(f"{demo.urls['tickets']}/oauth/token", data={})).status_code != 503


async def test_latency_and_slow_pages_are_switched_over_http(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """Latency settings read back from /_faults and requests still succeed under them."""
    state = (await put_faults(demo, client, "security", latency_ms=20, slow_pages_ms=30)).json()
    assert (state["latency_ms"], state["slow_pages_ms"]) == (20, 30)
    assert (await client.get(f"{demo.urls['security']}/_faults")).json() == state
    key = {"X-API-Key": demo.secrets["PERFHUB_SECURITY_KEY"]}
    params: dict[str, Any] = {"start": START.isoformat(), "end": END.isoformat(), "limit": 5}
    first = await client.get(f"{demo.urls['security']}/v2/patrol_completion_rate", params=params, headers=key)
    assert first.status_code == 200
    later = {**params, "cursor": first.json()["next_cursor"]}
    assert (
        await client.get(f"{demo.urls['security']}/v2/patrol_completion_rate", params=later, headers=key)
    ).is_success


async def test_later_pages_are_recognised_in_every_paging_style() -> None:
    """Slow pages apply after the first page: page>1, an offset, a cursor, $skip or more."""

    def scope(query: str) -> dict[str, Any]:
        return {"type": "http", "query_string": query.encode()}

    assert not any(is_later_page(scope(q)) for q in ("", "page=1", "offset=0", "cursor=", "$skip=0"))
    assert all(is_later_page(scope(q)) for q in ("page=2", "offset=40", "cursor=abc", "%24skip=10", "more=x"))


async def test_fault_control_refuses_unknown_or_bad_switches(demo: DemoSystems, client: httpx.AsyncClient) -> None:
    """A bad PUT is 400 and changes nothing; DELETE turns every fault off; requests are counted."""
    before = (await client.get(f"{demo.urls['payroll']}/_faults")).json()
    for bad in ({"fail_next": -1}, {"error_rate": 2}, {"garbage": "junk"}, {"explode": True}, {"down": "yes"}):
        assert (await client.put(f"{demo.urls['payroll']}/_faults", json=bad)).status_code == 400
    assert (await client.put(f"{demo.urls['payroll']}/_faults", content=b"[1]")).status_code == 400
    assert (await client.get(f"{demo.urls['payroll']}/_faults")).json() == before
    demo.faults["finance"].fail_next = 5
    assert (await finance_get(demo, client)).status_code == 503
    cleared = (await client.delete(f"{demo.urls['finance']}/_faults")).json()
    assert (cleared["fail_next"], cleared["requests"]) == (0, 0)
    await finance_get(demo, client)
    assert demo.faults["finance"].requests == 1


async def test_toml_strings_and_keys_survive_a_round_trip() -> None:
    """The hand-written emitter escapes what TOML forbids raw: quotes, backslashes, control chars, DEL."""
    document = {
        "a table": {"key.with dots": 'quote " back \\ tab \t nl \n del \x7f bell \x07 中文 😀', "n": 3, "x": 0.5},
        "nested": {"inner": {"flag": True, "list": [1, "two"], "inline": {"k": "v"}}},
    }
    assert tomllib.loads(dumps_toml(document)) == document
