"""The standard-protocol connectors against the demo training LRS and payroll OData service, in process.

Each app is served through ``httpx.ASGITransport`` behind the real ``SystemClient`` (basic auth,
error mapping); the tests pin deterministic data and one paginated sequence per batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from connectors.base import Period, Unauthorised
from connectors.config import BasicAuth, Kind, ODataConfig, ResiliencePolicy, SystemConfig, XapiConfig
from connectors.http import SystemClient
from connectors.payroll import ODataCompensationSource
from connectors.training import XapiTrainingSource
from hub.demo.systems import payroll, training
from hub.demo.systems.statements import Statement

TODAY = dt.date(2026, 11, 16)
SEED = 7
EMPLOYEES = 40
CREDENTIALS = ("demo-user", "demo-secret")
NUMBERS = [f"E{i:06d}" for i in range(1, EMPLOYEES + 1)]


class Counted:
    """The requests that reached one demo app."""

    def __init__(self) -> None:
        self.urls: list[httpx.URL] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.urls.append(request.url)


@contextlib.asynccontextmanager
async def client_for(
    app: Starlette, base_url: str, config: SystemConfig
) -> AsyncIterator[tuple[SystemClient, Counted]]:
    counted = Counted()
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=base_url, event_hooks={"request": [counted]}) as http,
        SystemClient(config, client=http) as port,
    ):
        yield port, counted


def _config(name: str, base_url: str, details: XapiConfig | ODataConfig, password: str) -> SystemConfig:
    kind: Kind = "xapi" if isinstance(details, XapiConfig) else "odata"
    auth = BasicAuth(CREDENTIALS[0], password)
    return SystemConfig(name, kind, base_url, auth, ResiliencePolicy(retries=0), details)


@contextlib.asynccontextmanager
async def lrs(
    seed: int = SEED, page_size: int = 10, password: str = CREDENTIALS[1]
) -> AsyncIterator[tuple[XapiTrainingSource, Counted]]:
    app = training.create_app(seed, EMPLOYEES, CREDENTIALS, today=TODAY, page_size=page_size)
    details = XapiConfig(verb=training.COMPLETED, account_home_page=training.HOME_PAGE)
    base_url = "http://training.test/xapi"
    async with client_for(app, base_url, _config("training", base_url, details, password)) as (port, counted):
        yield XapiTrainingSource("training", port, details), counted


@contextlib.asynccontextmanager
async def payroll_service(
    seed: int = SEED, page_size: int = 5, ids_per_request: int = 8, password: str = CREDENTIALS[1]
) -> AsyncIterator[tuple[ODataCompensationSource, Counted]]:
    app = payroll.create_app(seed, EMPLOYEES, CREDENTIALS, today=TODAY, page_size=page_size)
    details = ODataConfig(entity_set="EmpCompensation", ids_per_request=ids_per_request)
    base_url = "http://payroll.test/odata/v2"
    async with client_for(app, base_url, _config("payroll", base_url, details, password)) as (port, counted):
        yield ODataCompensationSource("payroll", port, details), counted


def completed_statements(number: str, seed: int = SEED) -> list[Statement]:
    """What the LRS holds as one employee's completed, not voided, courses."""
    statements = training.statements_for(seed, number, TODAY)
    voided = {s["object"]["id"] for s in statements if s["verb"]["id"] == training.VOIDED}
    return [s for s in statements if s["verb"]["id"] == training.COMPLETED and s["id"] not in voided]


# ---------------------------------------------------------------------------------------------- training


async def test_training_batch_is_one_paginated_sequence_of_deterministic_records() -> None:
    """Every employee's completed courses, in ceil(matching / page size) requests, none of them per employee."""
    async with lrs(page_size=10) as (source, counted):
        batch = await source.fetch_training(NUMBERS)
    expected = {number: {s["id"] for s in completed_statements(number)} for number in NUMBERS}
    assert {number: {r.id for r in records} for number, records in batch.records.items()} == expected
    # The LRS also answers the statement voiding E000001's mistaken completion (it targets a completed
    # statement); the connector skips it.
    matching = sum(map(len, expected.values())) + 1
    assert len(counted.urls) == math.ceil(matching / 10)
    assert all("agent" not in url.params for url in counted.urls)
    assert sum(map(len, expected.values())) > 50  # the demo has real data to page through


async def test_training_records_carry_the_catalogue_values() -> None:
    """Course titles, days, hours and scores are the ones the LRS stores."""
    async with lrs() as (source, _counted):
        batch = await source.fetch_training(NUMBERS)
    titles = {course.name for course in training.COURSES}
    records = [record for records in batch.records.values() for record in records]
    assert {record.course for record in records} <= titles
    days = [record.completed_on for record in records]
    assert all(day is not None and TODAY - dt.timedelta(days=730) <= day <= TODAY for day in days)
    assert all(record.hours is not None and 0.25 <= record.hours <= 10 for record in records)
    assert all(record.score is not None and 55 <= record.score <= 100 for record in records)
    assert {record.source for record in records} == {"training"}


async def test_training_data_depends_on_the_seed_only() -> None:
    """Two LRSs with one seed agree; another seed tells another story."""
    async with lrs() as (first, _a), lrs() as (second, _b), lrs(seed=SEED + 1) as (other, _c):
        one, two, three = [await s.fetch_training(NUMBERS) for s in (first, second, other)]
    assert one.records == two.records
    assert one.records != three.records


async def test_one_employee_is_one_agent_query() -> None:
    """A batch of one asks the LRS for that agent only."""
    number = next(n for n in NUMBERS if len(completed_statements(n)) >= 2)
    async with lrs() as (source, counted):
        batch = await source.fetch_training([number])
    (url,) = counted.urls
    assert '"name":"' + number + '"' in url.params["agent"]
    assert {r.id for r in batch.records[number]} == {s["id"] for s in completed_statements(number)}


async def test_the_voided_completion_never_surfaces() -> None:
    """E000001's mistaken completion is stored, voided, and absent from every answer."""
    statements = training.statements_for(SEED, "E000001", TODAY)
    (voiding,) = [s for s in statements if s["verb"]["id"] == training.VOIDED]
    async with lrs() as (source, _counted):
        alone = await source.fetch_training(["E000001"])
        together = await source.fetch_training(NUMBERS)
    voided = voiding["object"]["id"]
    assert voided in {s["id"] for s in statements}
    assert voided not in {r.id for r in alone.records["E000001"]}
    assert voided not in {r.id for r in together.records["E000001"]}


async def test_training_in_a_period() -> None:
    """since/until narrow the sequence; the records are exactly the completions of the period."""
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    async with lrs() as (source, counted):
        batch = await source.fetch_training(NUMBERS, period)
    assert {url.params["since"] for url in counted.urls} == {"2026-01-01T00:00:00Z"}
    for number in NUMBERS:
        in_period = {
            s["id"]
            for s in completed_statements(number)
            if period.start <= dt.datetime.fromisoformat(s["timestamp"]).date() <= period.end
        }
        assert {r.id for r in batch.records[number]} == in_period
    assert sum(map(len, batch.records.values())) > 0


async def test_the_lrs_wants_credentials_and_the_version_header() -> None:
    """401 without basic auth, 400 without X-Experience-API-Version."""
    app = training.create_app(SEED, EMPLOYEES, CREDENTIALS, today=TODAY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://training.test") as http:
        anonymous = await http.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
        unversioned = await http.get("/xapi/statements", auth=CREDENTIALS)
        bad_agent = await http.get(
            "/xapi/statements",
            params={"agent": "E000001"},
            auth=CREDENTIALS,
            headers={"X-Experience-API-Version": "1.0.3"},
        )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert unversioned.status_code == 400
    assert bad_agent.status_code == 400
    async with lrs(password="wrong") as (source, _counted):
        with pytest.raises(Unauthorised):
            await source.fetch_training(NUMBERS)


# ---------------------------------------------------------------------------------------------- payroll


async def test_payroll_batch_is_chunked_and_paged_with_deterministic_records() -> None:
    """ids_per_request ids per $filter, each chunk one __next sequence; the records are the demo's history."""
    async with payroll_service(page_size=5, ids_per_request=8) as (source, counted):
        batch = await source.fetch_compensation(NUMBERS)
    histories = {number: payroll.compensation_for(SEED, number, TODAY) for number in NUMBERS}
    chunks = [NUMBERS[i : i + 8] for i in range(0, EMPLOYEES, 8)]
    pages = sum(max(1, math.ceil(sum(len(histories[n]) for n in chunk) / 5)) for chunk in chunks)
    assert len(counted.urls) == pages
    assert len({url.params["$filter"] for url in counted.urls}) == len(chunks)
    for number, events in histories.items():
        assert [(r.effective_date, r.base_salary, r.bonus, r.currency, r.reason) for r in batch.records[number]] == [
            (e.start, float(e.base), None if e.bonus is None else float(e.bonus), "CNY", e.reason) for e in events
        ]


async def test_payroll_history_is_plausible() -> None:
    """1-3 events from a hire, rising monthly pay of a public institution, CNY, a bonus for some."""
    async with payroll_service() as (source, _counted):
        batch = await source.fetch_compensation(NUMBERS)
    for records in batch.records.values():
        assert 1 <= len(records) <= 3
        assert records[0].reason == payroll.HIRE
        salaries = [r.base_salary or 0.0 for r in records]
        assert all(5000 <= s <= 15000 for s in salaries)
        assert salaries == sorted(salaries)
        assert records[-1].effective_date <= TODAY
    bonuses = [r.bonus for records in batch.records.values() for r in records]
    assert any(b is None for b in bonuses) and any(b is not None for b in bonuses)


async def test_payroll_data_depends_on_the_seed_only() -> None:
    """Two services with one seed agree; another seed tells another story."""
    async with (
        payroll_service() as (first, _a),
        payroll_service() as (second, _b),
        payroll_service(seed=SEED + 1) as (
            other,
            _c,
        ),
    ):
        one, two, three = [await s.fetch_compensation(NUMBERS) for s in (first, second, other)]
    assert one.records == two.records
    assert one.records != three.records


async def test_payroll_in_a_period_answers_the_records_in_force_during_it() -> None:
    """fromDate/toDate select every record whose validity overlaps the period, as effective dating does."""
    period = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    async with payroll_service() as (source, _counted):
        batch = await source.fetch_compensation(NUMBERS, period)
    for number in NUMBERS:
        events = payroll.compensation_for(SEED, number, TODAY)
        overlapping = [e.start for e in events if e.start <= period.end and e.end >= period.start]
        assert [r.effective_date for r in batch.records[number]] == overlapping


async def test_the_payroll_service_speaks_odata_errors() -> None:
    """401 without credentials; a $filter outside its grammar is a 400 with an OData error body."""
    app = payroll.create_app(SEED, EMPLOYEES, CREDENTIALS, today=TODAY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payroll.test") as http:
        anonymous = await http.get("/odata/v2/EmpCompensation")
        unsupported = await http.get(
            "/odata/v2/EmpCompensation", params={"$filter": "startDate gt datetime'2020-01-01'"}, auth=CREDENTIALS
        )
        today = await http.get(
            "/odata/v2/EmpCompensation",
            params={"$filter": "userId eq 'E000001'", "$format": "json"},
            auth=CREDENTIALS,
        )
    assert anonymous.status_code == 401
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["message"]["lang"] == "en-US"
    # Without a date range an effective-dated entity answers the record in force today, unexpanded.
    (current,) = today.json()["d"]["results"]
    assert current["startDate"] == payroll.odata_date(payroll.compensation_for(SEED, "E000001", TODAY)[-1].start)
    assert "empPayCompRecurringNav" not in current
    async with payroll_service(password="wrong") as (source, _counted):
        with pytest.raises(Unauthorised):
            await source.fetch_compensation(NUMBERS)


def test_the_filter_grammar() -> None:
    """userId eq '...' terms joined by or, parenthesised or not, with doubled quotes inside literals."""
    assert payroll.parse_user_filter("(userId eq 'E1' or userId eq 'O''Brien')") == {"E1", "O'Brien"}
    assert payroll.parse_user_filter("userId eq 'E1' or (userId eq 'E2')") == {"E1", "E2"}
    for text in ("userId eq 'E1' and userId eq 'E2'", "(userId eq 'E1'", "userId ne 'E1'", "userId eq E1", ""):
        with pytest.raises(payroll.ODataError):
            payroll.parse_user_filter(text)
