"""RestMetricSource: requests built from the config, every pagination style, and the mapping checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.base import BadResponse, MetricSource, Period
from connectors.config import IdsParam, Pagination, RestConfig, RestMetric
from connectors.http import SystemClient
from connectors.rest import RestMetricSource
from tests.connectors.conftest import NOW, FakeClock, FakeSleep, metric, system

PERIOD = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
ROWS = [{"employee_no": f"E{n}", "value": n} for n in range(1, 8)]


class Server:
    """A metrics endpoint over ROWS; ``paginate`` decides how a request becomes a body and headers."""

    def __init__(self, paginate: Callable[[httpx.Request], httpx.Response]) -> None:
        self.paginate = paginate
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.paginate(request)

    def param(self, name: str) -> list[str | None]:
        return [request.url.params.get(name) for request in self.requests]


def make_source(
    server: Server, spec: RestMetric, sleep: FakeSleep, clock: FakeClock
) -> tuple[RestMetricSource, SystemClient]:
    config = system(metrics={spec.name: spec})
    port = SystemClient(config, transport=httpx.MockTransport(server), sleep=sleep, clock=clock)
    assert isinstance(config.details, RestConfig)
    return RestMetricSource("finance", port, config.details, now=lambda: NOW), port


def rows_page(offset: int, size: int) -> list[dict[str, Any]]:
    return ROWS[offset : offset + size]


async def fetch(
    server: Server, spec: RestMetric, sleep: FakeSleep, clock: FakeClock, employees: list[str]
) -> dict[str, float]:
    source, port = make_source(server, spec, sleep, clock)
    async with port:
        batch = await source.fetch_metric(spec.name, employees, PERIOD)
    assert batch.provenance.system == "finance"
    assert batch.provenance.fetched_at == NOW
    return dict(batch.values)


ALL = [f"E{n}" for n in range(1, 8)]
EXPECTED = {f"E{n}": float(n) for n in range(1, 8)}


def test_the_source_is_a_metric_source(sleep: FakeSleep, clock: FakeClock) -> None:
    """It satisfies the protocol the hub programs against and lists its metrics."""
    source, _ = make_source(Server(lambda r: httpx.Response(200)), metric(), sleep, clock)
    assert isinstance(source, MetricSource)
    assert source.metrics() == frozenset({"voucher_error_rate"})


async def test_one_request_carries_ids_period_and_fixed_params(sleep: FakeSleep, clock: FakeClock) -> None:
    """csv ids, ISO period bounds and fixed params; employees not asked about are dropped."""
    server = Server(lambda r: httpx.Response(200, json={"data": ROWS}))
    spec = metric(params={"metric": "voucher_error_rate"})
    values = await fetch(server, spec, sleep, clock, ["E2", "E5", "E2", "E99"])
    assert values == {"E2": 2.0, "E5": 5.0}
    assert len(server.requests) == 1
    assert dict(server.requests[0].url.params) == {
        "metric": "voucher_error_rate",
        "employees": "E2,E5,E99",
        "from": "2026-01-01",
        "to": "2026-06-30",
    }


async def test_repeat_style_ids_repeat_the_parameter(sleep: FakeSleep, clock: FakeClock) -> None:
    """ids style repeat: ?employee_id=E1&employee_id=E2."""
    server = Server(lambda r: httpx.Response(200, json={"data": []}))
    await fetch(server, metric(ids=IdsParam("employee_id", "repeat")), sleep, clock, ["E1", "E2"])
    assert server.requests[0].url.params.get_list("employee_id") == ["E1", "E2"]


async def test_no_employees_means_no_request(sleep: FakeSleep, clock: FakeClock) -> None:
    """An empty batch is answered without bothering the system."""
    server = Server(lambda r: httpx.Response(200, json={"data": ROWS}))
    assert await fetch(server, metric(), sleep, clock, []) == {}
    assert server.requests == []


def page_numbers(request: httpx.Request, *, meta: bool) -> httpx.Response:
    number, size = int(request.url.params["page"]), int(request.url.params["per_page"])
    body: dict[str, Any] = {"data": rows_page((number - 1) * size, size)}
    if meta:
        body["meta"] = {"page": number, "pages": -(-len(ROWS) // size)}
    return httpx.Response(200, json=body)


async def test_page_style_follows_has_more(sleep: FakeSleep, clock: FakeClock) -> None:
    """has_more (a JMESPath boolean) decides whether to ask for the next page number."""
    server = Server(lambda r: page_numbers(r, meta=True))
    page = Pagination(style="page", param="page", size_param="per_page", size=3)
    spec = metric(page=page, has_more="meta.page < meta.pages")
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert server.param("page") == ["1", "2", "3"]
    assert server.param("per_page") == ["3", "3", "3"]


async def test_page_style_without_has_more_stops_on_a_partial_last_page(sleep: FakeSleep, clock: FakeClock) -> None:
    """Seven rows in pages of three: the third page is short, so there is no fourth request."""
    server = Server(lambda r: page_numbers(r, meta=False))
    spec = metric(page=Pagination(style="page", param="page", size_param="per_page", size=3))
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert len(server.requests) == 3


async def test_page_style_stops_on_an_empty_page_after_a_full_one(sleep: FakeSleep, clock: FakeClock) -> None:
    """Seven rows in pages of seven: the second, empty page ends it."""
    server = Server(lambda r: page_numbers(r, meta=False))
    spec = metric(page=Pagination(style="page", param="page", size_param="per_page", size=7, start=1))
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert len(server.requests) == 2


async def test_offset_style_advances_by_the_rows_received(sleep: FakeSleep, clock: FakeClock) -> None:
    """offset = 0, 3, 6; the last page is partial."""

    def by_offset(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json={"data": rows_page(offset, limit)})

    server = Server(by_offset)
    spec = metric(page=Pagination(style="offset", param="offset", size_param="limit", size=3))
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert server.param("offset") == ["0", "3", "6"]


async def test_cursor_style_follows_the_next_cursor_until_null(sleep: FakeSleep, clock: FakeClock) -> None:
    """The first request has no cursor; each next one sends the cursor the last body gave."""

    def by_cursor(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("cursor", "0"))
        following = str(offset + 3) if offset + 3 < len(ROWS) else None
        items = [{"staff": {"number": row["employee_no"]}, "rate": str(row["value"])} for row in rows_page(offset, 3)]
        return httpx.Response(200, json={"items": items, "next_cursor": following})

    server = Server(by_cursor)
    spec = metric(
        ids=IdsParam("employee_id", "repeat"),
        map="items[].{employee: staff.number, value: rate}",
        page=Pagination(style="cursor", param="cursor", next="next_cursor"),
    )
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert server.param("cursor") == [None, "3", "6"]
    assert all(request.url.params.get_list("employee_id") == ALL for request in server.requests)


async def test_a_cursor_that_repeats_is_a_bad_response(sleep: FakeSleep, clock: FakeClock) -> None:
    """A server stuck on one cursor is caught on the second sight of it, not after max_pages."""
    server = Server(lambda r: httpx.Response(200, json={"data": [], "next": "abc"}))
    spec = metric(page=Pagination(style="cursor", param="cursor", next="next"))
    with pytest.raises(BadResponse, match="same cursor"):
        await fetch(server, spec, sleep, clock, ALL)
    assert len(server.requests) == 2


@pytest.mark.parametrize("absolute", [False, True])
async def test_link_style_follows_rel_next(absolute: bool, sleep: FakeSleep, clock: FakeClock) -> None:
    """RFC 8288 Link headers, relative or absolute; the next URL carries its own parameters."""

    def by_link(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("after", "0"))
        headers = {}
        if offset + 3 < len(ROWS):
            target = f"/api/stats?after={offset + 3}&employees=E1,E2,E3,E4,E5,E6,E7"
            target = f"https://finance.test{target}" if absolute else target
            headers["Link"] = f'<{target}>; rel="next", </api/stats>; rel="first"'
        return httpx.Response(200, json=rows_page(offset, 3), headers=headers)

    server = Server(by_link)
    spec = metric(path="/api/stats", map="[].{employee: employee_no, value: value}", page=Pagination(style="link"))
    assert await fetch(server, spec, sleep, clock, ALL) == EXPECTED
    assert server.param("after") == [None, "3", "6"]
    assert [request.url.path for request in server.requests] == ["/api/stats"] * 3


async def test_a_server_that_never_stops_is_cut_off_at_max_pages(sleep: FakeSleep, clock: FakeClock) -> None:
    """has_more forever: exactly max_pages requests, then BadResponse naming the metric."""
    server = Server(lambda r: httpx.Response(200, json={"data": ROWS, "more": True}))
    page = Pagination(style="page", param="page", size_param="per_page", size=7, max_pages=5)
    with pytest.raises(BadResponse, match="voucher_error_rate"):
        await fetch(server, metric(page=page, has_more="more"), sleep, clock, ALL)
    assert len(server.requests) == 5


@pytest.mark.parametrize(
    ("value", "shown"),
    [("n/a", '"n/a"'), (None, "null"), (True, "true"), ({"amount": 3}, '{"amount": 3}'), ("NaN", '"NaN"')],
)
async def test_a_row_that_is_not_a_number_costs_that_employee_alone(
    value: object, shown: str, sleep: FakeSleep, clock: FakeClock
) -> None:
    """Text, null, booleans or objects where a number was promised never reach a score, and never take
    the other employees' values of the answer with them: the employee is rejected, with what was sent."""
    body = {"data": [{"employee_no": "E1", "value": value}, {"employee_no": "E2", "value": 2}]}
    server = Server(lambda r: httpx.Response(200, json=body))
    source, port = make_source(server, metric(), sleep, clock)
    async with port:
        batch = await source.fetch_metric("voucher_error_rate", ["E1", "E2", "E3"], PERIOD)
    assert batch.values == {"E2": 2.0}
    assert batch.rejected == {"E1": f"the value is {shown}, not a number"}
    assert len(server.requests) == 1


async def test_a_number_on_another_row_wins_over_a_rejected_row(sleep: FakeSleep, clock: FakeClock) -> None:
    """An employee with a null row and a number on a later row has the number, and is not rejected."""
    body = {"data": [{"employee_no": "E1", "value": None}, {"employee_no": "E1", "value": 4}]}
    server = Server(lambda r: httpx.Response(200, json=body))
    source, port = make_source(server, metric(), sleep, clock)
    async with port:
        batch = await source.fetch_metric("voucher_error_rate", ["E1"], PERIOD)
    assert batch.values == {"E1": 4.0} and batch.rejected == {}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"data": [{"value": 3}]}, "without an employee"),
        ({"rows": []}, "did not give a list"),
        ({"data": "everything is fine"}, "did not give a list"),
    ],
)
async def test_an_answer_in_the_wrong_shape_is_a_bad_response_naming_the_metric(
    body: dict[str, Any], problem: str, sleep: FakeSleep, clock: FakeClock
) -> None:
    """A body or row that belongs to nobody fails the whole answer: nothing in it can be attributed."""
    server = Server(lambda r: httpx.Response(200, json=body))
    with pytest.raises(BadResponse, match=problem) as caught:
        await fetch(server, metric(), sleep, clock, ["E1"])
    assert "voucher_error_rate" in str(caught.value)
    assert len(server.requests) == 1


async def test_numeric_strings_and_integer_employee_numbers_are_accepted(sleep: FakeSleep, clock: FakeClock) -> None:
    """Decimals often travel as strings, and some systems number employees with integers."""
    body = {"data": [{"employee_no": 17, "value": "12.5"}, {"employee_no": "E2", "value": 3}]}
    server = Server(lambda r: httpx.Response(200, json=body))
    assert await fetch(server, metric(), sleep, clock, ["17", "E2"]) == {"17": 12.5, "E2": 3.0}


async def test_malformed_json_is_a_bad_response(sleep: FakeSleep, clock: FakeClock) -> None:
    """A body that is not JSON at all."""
    server = Server(lambda r: httpx.Response(200, content=b"{not json"))
    with pytest.raises(BadResponse):
        await fetch(server, metric(), sleep, clock, ["E1"])


async def test_has_more_must_be_a_boolean(sleep: FakeSleep, clock: FakeClock) -> None:
    """A has_more that finds nothing would otherwise silently stop after page one."""
    server = Server(lambda r: httpx.Response(200, json={"data": ROWS}))
    page = Pagination(style="page", param="page", size_param="per_page", size=7)
    with pytest.raises(BadResponse, match="has_more"):
        await fetch(server, metric(page=page, has_more="meta.more"), sleep, clock, ALL)


async def test_provenance_says_retried_when_a_page_needed_a_second_attempt(sleep: FakeSleep, clock: FakeClock) -> None:
    """One 503 on the second page is enough for retried=True on the whole batch."""
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(503)
        return page_numbers(request, meta=False)

    server = Server(flaky)
    spec = metric(page=Pagination(style="page", param="page", size_param="per_page", size=3))
    source, port = make_source(server, spec, sleep, clock)
    async with port:
        batch = await source.fetch_metric(spec.name, ALL, PERIOD)
    assert batch.values == EXPECTED
    assert batch.provenance.retried
    assert server.param("page") == ["1", "2", "2", "3"]


async def test_an_unknown_metric_is_a_programming_error(sleep: FakeSleep, clock: FakeClock) -> None:
    """The registry only routes metrics a source declared; anything else is a bug, not a system failure."""
    source, _ = make_source(Server(lambda r: httpx.Response(200)), metric(), sleep, clock)
    with pytest.raises(ValueError, match="does not measure"):
        await source.fetch_metric("unknown", ["E1"], PERIOD)
