"""ODataCompensationSource through SystemClient against a scripted OData v2 service: chunks, __next, dates, garbage."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from connectors.base import BadResponse, CompensationSource, Period, SystemUnavailable
from connectors.config import NoAuth, ODataConfig, ResiliencePolicy, SystemConfig
from connectors.http import SystemClient
from connectors.payroll import ODataCompensationSource
from connectors.payroll.odata import odata_string, parse_odata_date, user_filter
from tests.connectors.test_xapi import ScriptedServer

JAN_2023 = 1672531200000  # 2023-01-01T00:00:00Z in milliseconds
FETCHED_AT = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)

Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


@contextlib.asynccontextmanager
async def payroll(
    handler: Handler, ids_per_request: int = 40, **options: Any
) -> AsyncIterator[ODataCompensationSource]:
    settings = ODataConfig(entity_set="EmpCompensation", ids_per_request=ids_per_request)
    policy = ResiliencePolicy(retries=0)
    config = SystemConfig("payroll", "odata", "https://sf.test/odata/v2", NoAuth(), policy, settings)
    async with SystemClient(config, transport=httpx.MockTransport(handler)) as port:
        yield ODataCompensationSource("payroll", port, settings, clock=lambda: FETCHED_AT, **options)


def component(name: str, amount: str | int, frequency: str | None, currency: str = "CNY") -> dict[str, Any]:
    item: dict[str, Any] = {"payComponent": name, "paycompvalue": amount, "currencyCode": currency}
    if frequency is not None:
        item["frequency"] = frequency
    return item


def entity(
    user: str,
    start: str = f"/Date({JAN_2023})/",
    *,
    seq: str = "1",
    reason: str | None = "HIRNEW",
    components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    items = components if components is not None else [component("BASE", "8650.00", "MON")]
    return {
        "__metadata": {"type": "SFOData.EmpCompensation"},
        "userId": user,
        "startDate": start,
        "seqNumber": seq,
        "eventReason": reason,
        "empPayCompRecurringNav": {"results": items},
    }


def page(*entities: dict[str, Any], next_link: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"results": list(entities)}
    if next_link is not None:
        data["__next"] = next_link
    return {"d": data}


async def test_follows_next_until_it_is_absent() -> None:
    """Server-driven paging: the next link is followed as given, with no query of ours added."""
    next_link = "https://sf.test/odata/v2/EmpCompensation?$filter=x&$skiptoken=2"
    server = ScriptedServer(
        page(entity("E1"), next_link=next_link),
        page(next_link=next_link.replace("=2", "=3")),
        page(entity("E2")),
    )
    async with payroll(server) as source:
        batch = await source.fetch_compensation(["E1", "E2"])
    assert len(server.requests) == 3
    assert str(server.requests[1].url) == next_link
    assert [len(batch.records[n]) for n in ("E1", "E2")] == [1, 1]


async def test_a_relative_next_link_is_resolved_against_the_service() -> None:
    """Some services answer a relative link."""
    server = ScriptedServer(page(entity("E1"), next_link="EmpCompensation?$skiptoken=1"), page())
    async with payroll(server) as source:
        await source.fetch_compensation(["E1"])
    assert str(server.requests[1].url) == "https://sf.test/odata/v2/EmpCompensation?$skiptoken=1"


async def test_asks_for_the_entity_set_with_filter_select_expand_and_dates() -> None:
    """One request carries everything the mapping needs, and only that."""
    server = ScriptedServer(page())
    async with payroll(server) as source:
        await source.fetch_compensation(["E1", "E2"], Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31)))
    (request,) = server.requests
    assert request.url.path == "/odata/v2/EmpCompensation"
    params = dict(request.url.params)
    assert params.pop("$select").split(",") == [
        "userId",
        "startDate",
        "seqNumber",
        "eventReason",
        "empPayCompRecurringNav/payComponent",
        "empPayCompRecurringNav/paycompvalue",
        "empPayCompRecurringNav/currencyCode",
        "empPayCompRecurringNav/frequency",
    ]
    assert params == {
        "$format": "json",
        "$filter": "(userId eq 'E1' or userId eq 'E2')",
        "$expand": "empPayCompRecurringNav",
        "fromDate": "2026-01-01",
        "toDate": "2026-12-31",
    }


async def test_without_a_period_the_whole_history_is_asked_for() -> None:
    """Effective-dated entities answer only today's record unless given a range."""
    server = ScriptedServer(page())
    async with payroll(server) as source:
        await source.fetch_compensation(["E1"])
    params = server.requests[0].url.params
    assert (params["fromDate"], params["toDate"]) == ("1900-01-01", "9999-12-31")


async def test_ids_are_split_into_chunks_fetched_concurrently() -> None:
    """ids_per_request ids per $filter; every chunk is in flight before any answers."""
    filters: list[str] = []
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        filters.append(request.url.params["$filter"])
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):  # let the other chunks' requests start, if they are going to
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=page())

    async with payroll(handler, ids_per_request=2) as source:
        batch = await source.fetch_compensation(["E1", "E2", "E3", "E2", "E4", "E5"])
    assert sorted(filters) == [
        "(userId eq 'E1' or userId eq 'E2')",
        "(userId eq 'E3' or userId eq 'E4')",
        "(userId eq 'E5')",
    ]
    assert peak == 3
    assert list(batch.records) == ["E1", "E2", "E3", "E4", "E5"]


async def test_a_failing_chunk_fails_the_batch_with_its_own_error() -> None:
    """The caller sees the connector error, not an exception group, and the other chunks are not left running."""

    def handler(request: httpx.Request) -> httpx.Response:
        if "E3" in request.url.params["$filter"]:
            return httpx.Response(503)
        return httpx.Response(200, json=page())

    async with payroll(handler, ids_per_request=2) as source:
        with pytest.raises(SystemUnavailable):
            await source.fetch_compensation(["E1", "E2", "E3", "E4"])


def test_single_quotes_in_ids_are_doubled() -> None:
    """An id cannot end the string literal early and smuggle in filter syntax."""
    assert odata_string("O'Brien") == "'O''Brien'"
    assert user_filter(["E1", "x' or userId ne '"]) == "(userId eq 'E1' or userId eq 'x'' or userId ne ''')"


async def test_quoted_ids_reach_the_service_escaped() -> None:
    """The escaping survives URL encoding."""
    server = ScriptedServer(page())
    async with payroll(server) as source:
        await source.fetch_compensation(["O'Brien"])
    assert server.requests[0].url.params["$filter"] == "(userId eq 'O''Brien')"


@pytest.mark.parametrize(
    ("value", "day"),
    [
        (f"/Date({JAN_2023})/", dt.date(2023, 1, 1)),
        (f"/Date({JAN_2023}+0000)/", dt.date(2023, 1, 1)),
        (f"/Date({JAN_2023 - 3_600_000}+0060)/", dt.date(2023, 1, 1)),
        (f"/Date({JAN_2023}-0060)/", dt.date(2022, 12, 31)),
        ("/Date(-86400000)/", dt.date(1969, 12, 31)),
        ("/Date(253402214400000)/", dt.date(9999, 12, 31)),
        ("2023-01-01T00:00:00", dt.date(2023, 1, 1)),
    ],
)
def test_parses_odata_v2_dates(value: str, day: dt.date) -> None:
    """Milliseconds since the epoch, with an optional offset in minutes; ISO 8601 from lenient services."""
    assert parse_odata_date(value) == day


def test_a_date_beyond_any_calendar_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_odata_date("/Date(999999999999999999)/")


async def test_maps_an_entity_onto_a_compensation_record() -> None:
    """Base salary from BASE, bonus from BONUS, decimals from strings, reason from eventReason."""
    components = [component("BASE", "8650.50", "MON"), component("BONUS", "24000.00", "ANN")]
    server = ScriptedServer(page(entity("E1", f"/Date({JAN_2023}+0000)/", seq="2", components=components)))
    async with payroll(server) as source:
        batch = await source.fetch_compensation(["E1"])
    (record,) = batch.records["E1"]
    assert record.id == "E1:2023-01-01:2"
    assert record.effective_date == dt.date(2023, 1, 1)
    assert (record.base_salary, record.bonus) == (8650.5, 24000.0)
    assert (record.currency, record.reason) == ("CNY", "HIRNEW")
    assert batch.provenance.system == "payroll"
    assert batch.provenance.fetched_at == FETCHED_AT


@pytest.mark.parametrize(
    ("components", "base", "bonus"),
    [
        ([component("BASE", "120000", "ANN"), component("BONUS", "2000", "MON")], 10000.0, 24000.0),
        ([component("BASE", "30000", "QTR")], 10000.0, None),
        ([component("BASE", "9000", None)], 9000.0, None),
        ([component("BASE", "4000", "BIW")], None, None),
        ([component("OVERTIME", "800", "MON")], None, None),
        ([component("BASE", 8650, "MON")], 8650.0, None),
    ],
)
async def test_amounts_are_monthly_base_and_yearly_bonus(
    components: list[dict[str, Any]], base: float | None, bonus: float | None
) -> None:
    """Frequencies are converted; one that cannot be converted gives no amount rather than a wrong one."""
    server = ScriptedServer(page(entity("E1", components=components)))
    async with payroll(server) as source:
        batch = await source.fetch_compensation(["E1"])
    (record,) = batch.records["E1"]
    assert (record.base_salary, record.bonus) == (base, bonus)


async def test_an_unexpanded_navigation_gives_unknown_amounts() -> None:
    """A deferred navigation means the service did not say, not that the salary is zero."""
    deferred = entity("E1", reason=None)
    deferred["empPayCompRecurringNav"] = {"__deferred": {"uri": "https://sf.test/..."}}
    server = ScriptedServer(page(deferred))
    async with payroll(server) as source:
        batch = await source.fetch_compensation(["E1"])
    (record,) = batch.records["E1"]
    assert (record.base_salary, record.bonus, record.currency, record.reason) == (None, None, "XXX", None)


async def test_keeps_the_employees_asked_for_in_date_order_without_duplicates() -> None:
    """Every employee asked about has an entry; others are ignored; a repeated entity counts once."""
    server = ScriptedServer(
        page(
            entity("E1", f"/Date({JAN_2023 + 86_400_000 * 31})/", reason="PAYANNUAL"),
            entity("E1"),
            entity("E1"),
            entity("E9"),
        )
    )
    async with payroll(server) as source:
        batch = await source.fetch_compensation(["E1", "E2"])
    assert [r.id for r in batch.records["E1"]] == ["E1:2023-01-01:1", "E1:2023-02-01:1"]
    assert batch.records["E2"] == []
    assert "E9" not in batch.records


def _broken(**changes: Any) -> dict[str, Any]:
    broken = entity("E1")
    broken.update(changes)
    return page(broken)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>login</html>", id="not-json"),
        pytest.param({"error": {"code": "X"}}, id="no-d"),
        pytest.param({"d": {"results": {}}}, id="results-not-a-list"),
        pytest.param({"d": {"results": [], "__next": 7}}, id="next-not-a-string"),
        pytest.param({"d": {"results": ["E1"]}}, id="entity-not-an-object"),
        pytest.param(_broken(userId=None), id="no-user"),
        pytest.param(_broken(startDate="/Date(soon)/"), id="bad-date"),
        pytest.param(_broken(startDate=None), id="no-date"),
        pytest.param(_broken(seqNumber="first"), id="bad-seq"),
        pytest.param(_broken(empPayCompRecurringNav={"results": {}}), id="navigation-not-a-list"),
        pytest.param(_broken(empPayCompRecurringNav=[component("BASE", "8,650", "MON")]), id="bad-decimal"),
        pytest.param(_broken(empPayCompRecurringNav=[component("BASE", "NaN", "MON")]), id="nan"),
        pytest.param(_broken(empPayCompRecurringNav=[component("BASE", "1", "MON", currency="")]), id="no-currency"),
        pytest.param(_broken(empPayCompRecurringNav=[{"paycompvalue": "1"}]), id="no-pay-component"),
    ],
)
async def test_malformed_answers_raise_bad_response_naming_the_system(body: Any) -> None:
    """Garbage is an error of the system, not an empty history."""
    server = ScriptedServer(body)
    async with payroll(server) as source:
        with pytest.raises(BadResponse) as raised:
            await source.fetch_compensation(["E1"])
    assert raised.value.system == "payroll"


async def test_stops_following_next_after_the_page_cap() -> None:
    """A service that always has a next page cannot keep a request busy forever."""
    server = ScriptedServer(*(page(next_link=f"EmpCompensation?$skiptoken={i}") for i in range(10)))
    async with payroll(server, max_pages=4) as source:
        with pytest.raises(BadResponse, match="after 4 pages"):
            await source.fetch_compensation(["E1"])
    assert len(server.requests) == 4


async def test_a_next_link_to_another_host_is_refused() -> None:
    """Our credentials travel with the next request."""
    server = ScriptedServer(page(next_link="https://elsewhere.test/odata/v2/EmpCompensation?$skiptoken=1"))
    async with payroll(server) as source:
        with pytest.raises(BadResponse, match="leaves the service"):
            await source.fetch_compensation(["E1"])
    assert len(server.requests) == 1


async def test_an_empty_batch_asks_nothing() -> None:
    """No employees, no request."""
    server = ScriptedServer()
    async with payroll(server) as source:
        batch = await source.fetch_compensation([])
    assert (server.requests, batch.records) == ([], {})


async def test_is_a_compensation_source() -> None:
    """The hub finds compensation sources by protocol."""
    async with payroll(ScriptedServer()) as source:
        assert isinstance(source, CompensationSource)


def test_ids_per_request_must_be_positive() -> None:
    """Zero ids per request would never finish a batch."""
    with pytest.raises(ValueError, match="ids_per_request"):
        ODataCompensationSource("payroll", None, ODataConfig("EmpCompensation", ids_per_request=0))  # type: ignore[arg-type]
