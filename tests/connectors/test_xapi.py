"""XapiTrainingSource through SystemClient against a scripted LRS (httpx.MockTransport): paging, mapping, garbage,
and the ways real LRSs differ (page size, self-pointing `more`, verb filtering, voiding, mbox learners)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypedDict

import httpx
import pytest

from connectors.base import (
    BadResponse,
    ConfigurationError,
    Period,
    RecordBatch,
    TrainingRecord,
    TrainingSource,
    Unauthorised,
)
from connectors.config import NoAuth, ResiliencePolicy, SystemConfig, VerbFilter, XapiConfig, parse_systems
from connectors.http import SystemClient
from connectors.training import XapiTrainingSource

HOME = "https://hr.example.com"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
FETCHED_AT = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)
SETTINGS = XapiConfig(verb=COMPLETED, account_home_page=HOME)


class ScriptedServer:
    """Answers requests with the given bodies in order and remembers the requests."""

    def __init__(self, *bodies: Any) -> None:
        self.bodies = list(bodies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = self.bodies.pop(0)
        if isinstance(body, bytes):
            return httpx.Response(200, content=body)
        return httpx.Response(200, json=body)


@contextlib.asynccontextmanager
async def lrs(
    handler: Callable[[httpx.Request], httpx.Response], settings: XapiConfig = SETTINGS, **options: Any
) -> AsyncIterator[XapiTrainingSource]:
    policy = ResiliencePolicy(retries=0)
    config = SystemConfig("training", "xapi", "https://lrs.test/xapi", NoAuth(), policy, settings)
    async with SystemClient(config, transport=httpx.MockTransport(handler)) as port:
        yield XapiTrainingSource("training", port, settings, clock=lambda: FETCHED_AT, **options)


async def training_of(server: Callable[[httpx.Request], httpx.Response]) -> RecordBatch[TrainingRecord]:
    """What the LRS behind ``server`` gives for E1 and E2, over the whole history."""
    async with lrs(server) as source:
        return await source.fetch_training(["E1", "E2"])


def statement(
    statement_id: str,
    number: str,
    *,
    verb: str = COMPLETED,
    home: str = HOME,
    timestamp: str | None = "2026-03-02T10:00:00+08:00",
    name: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    built: dict[str, Any] = {
        "id": statement_id,
        "actor": {"objectType": "Agent", "account": {"homePage": home, "name": number}},
        "verb": {"id": verb},
        "object": {
            "objectType": "Activity",
            "id": "https://lms.test/courses/fire-safety",
            "definition": {"name": name if name is not None else {"en-US": "Fire Safety"}},
        },
        "result": result if result is not None else {"duration": "PT2H30M", "score": {"scaled": 0.85}},
    }
    if timestamp is not None:
        built["timestamp"] = timestamp
    return built


def page(*statements: dict[str, Any], more: str = "") -> dict[str, Any]:
    return {"statements": list(statements), "more": more}


async def test_follows_more_across_partial_pages_and_stops_at_an_empty_one() -> None:
    """'more' is relative to the LRS host (full path), so it must not be glued onto the base URL's path; an
    empty page ends the sequence even when it still names a next page (some LRSs mint links past the end)."""
    server = ScriptedServer(
        page(statement("s1", "E1"), more="/xapi/statements?cursor=a"),
        page(statement("s2", "E2"), statement("s3", "E1"), more="/xapi/statements?cursor=b"),
        page(more="/xapi/statements?cursor=c"),
        page(statement("never", "E1")),
    )
    batch = await training_of(server)
    assert [str(r.url) for r in server.requests[1:]] == [
        "https://lrs.test/xapi/statements?cursor=a",
        "https://lrs.test/xapi/statements?cursor=b",
    ]
    assert len(server.requests) == 3
    assert [r.id for r in batch.records["E1"]] == ["s1", "s3"]
    assert [r.id for r in batch.records["E2"]] == ["s2"]


async def test_follows_an_absolute_more_link_on_the_same_host() -> None:
    """An LRS may answer an absolute IRL; it is followed as it is."""
    server = ScriptedServer(
        page(statement("s1", "E1"), more="https://lrs.test/other/path?token=x"), page(statement("s2", "E1"))
    )
    batch = await training_of(server)
    assert str(server.requests[1].url) == "https://lrs.test/other/path?token=x"
    assert len(batch.records["E1"]) == 2


async def test_sends_the_version_header_on_every_page() -> None:
    """An LRS rejects requests without X-Experience-API-Version."""
    server = ScriptedServer(page(statement("s1", "E1"), more="/xapi/statements?cursor=a"), page())
    async with lrs(server) as source:
        await source.fetch_training(["E1", "E2"])
    assert [r.headers["X-Experience-API-Version"] for r in server.requests] == ["1.0.3", "1.0.3"]


async def test_a_batch_queries_by_verb_and_period_without_an_agent() -> None:
    """Many employees: one query for the verb, bounded by the period; the account filter is ours."""
    server = ScriptedServer(page())
    async with lrs(server) as source:
        await source.fetch_training(["E1", "E2"], Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30)))
    (request,) = server.requests
    assert request.url.path == "/xapi/statements"
    assert dict(request.url.params) == {
        "verb": COMPLETED,
        "limit": "0",  # the server's largest page: `more` links are followed one after another
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-07-01T00:00:00Z",
    }


async def test_a_single_employee_is_asked_for_by_agent() -> None:
    """One employee: the LRS filters by the agent (as JSON) instead of sending everyone's statements."""
    server = ScriptedServer(page(statement("s1", "E1")))
    async with lrs(server) as source:
        batch = await source.fetch_training(["E1", "E1"])
    (request,) = server.requests
    assert json.loads(request.url.params["agent"]) == {
        "objectType": "Agent",
        "account": {"homePage": HOME, "name": "E1"},
    }
    assert request.url.params["verb"] == COMPLETED
    assert "since" not in request.url.params
    assert [r.id for r in batch.records["E1"]] == ["s1"]


async def test_maps_a_statement_onto_a_training_record() -> None:
    """Course from the en-US name, day of the learner's own timestamp, hours from the duration, scaled score."""
    server = ScriptedServer(page(statement("s1", "E1", timestamp="2026-03-02T00:30:00+08:00")))
    batch = await training_of(server)
    (record,) = batch.records["E1"]
    assert record.course == "Fire Safety"
    assert record.completed_on == dt.date(2026, 3, 2)
    assert record.hours == 2.5
    assert record.score == 85.0
    assert record.source == "training"
    assert record.employee_number == "E1"
    assert batch.records["E2"] == []
    assert batch.provenance.system == "training"
    assert batch.provenance.fetched_at == FETCHED_AT


@pytest.mark.parametrize(
    ("name", "course"),
    [
        ({"zh-CN": "消防安全", "en-US": "Fire Safety"}, "Fire Safety"),
        ({"zh-CN": "消防安全"}, "消防安全"),
        ({}, "https://lms.test/courses/fire-safety"),
    ],
)
async def test_course_name_prefers_en_us_then_any_language_then_the_activity_id(
    name: dict[str, str], course: str
) -> None:
    """A language map need not contain en-US; an activity need not have a name at all."""
    server = ScriptedServer(page(statement("s1", "E1", name=name)))
    batch = await training_of(server)
    assert batch.records["E1"][0].course == course


@pytest.mark.parametrize(
    ("duration", "hours"),
    [
        ("PT2H30M", 2.5),
        ("PT45M", 0.75),
        ("P1DT2H", 26.0),
        ("PT1H30M36S", 1.51),
        ("PT0.5H", 0.5),
        ("P1W", 168.0),
        ("P1M", None),
        (None, None),
    ],
)
async def test_hours_come_from_the_iso_8601_duration(duration: str | None, hours: float | None) -> None:
    """Months and years have no fixed length, so they give no hours rather than a guess."""
    result = {} if duration is None else {"duration": duration}
    server = ScriptedServer(page(statement("s1", "E1", result=result)))
    batch = await training_of(server)
    assert batch.records["E1"][0].hours == hours


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ({"scaled": 0.9}, 90.0),
        ({"scaled": 0.5, "raw": 7, "min": 0, "max": 10}, 50.0),
        ({"raw": 40, "min": 0, "max": 50}, 80.0),
        ({"raw": 73}, 73.0),
        ({}, None),
    ],
)
async def test_score_is_scaled_times_100_or_the_raw_score(score: dict[str, float], expected: float | None) -> None:
    """scaled wins; a raw score with bounds is put on 0-100; a bare raw score is taken as it is."""
    server = ScriptedServer(page(statement("s1", "E1", result={"score": score})))
    batch = await training_of(server)
    assert batch.records["E1"][0].score == expected


async def test_keeps_only_the_verb_the_account_home_page_and_the_employees_asked_for() -> None:
    """Other verbs, other identity providers, agents without an account and other employees are skipped."""
    mbox = statement("mbox", "E1")
    mbox["actor"] = {"objectType": "Agent", "mbox": "mailto:e1@example.com"}
    server = ScriptedServer(
        page(
            statement("keep", "E1"),
            statement("attempted", "E1", verb=ATTEMPTED),
            statement("elsewhere", "E1", home="https://other.example.com"),
            statement("stranger", "E9"),
            mbox,
        )
    )
    batch = await training_of(server)
    assert {number: [r.id for r in records] for number, records in batch.records.items()} == {
        "E1": ["keep"],
        "E2": [],
    }


async def test_skips_voiding_statements_and_drops_what_they_void() -> None:
    """A conformant LRS hides voided statements; a careless one may not, so their targets are dropped too."""
    voiding = {
        "id": "v1",
        "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": "admin"}},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": "mistake"},
    }
    server = ScriptedServer(page(voiding, statement("mistake", "E1"), statement("real", "E1")))
    batch = await training_of(server)
    assert [r.id for r in batch.records["E1"]] == ["real"]


async def test_a_statement_repeated_on_two_pages_counts_once() -> None:
    """Statements stored while paging can shift a page boundary; the id decides."""
    server = ScriptedServer(page(statement("s1", "E1"), more="/xapi/statements?c=1"), page(statement("s1", "E1")))
    batch = await training_of(server)
    assert [r.id for r in batch.records["E1"]] == ["s1"]


async def test_a_period_drops_completions_outside_it() -> None:
    """since/until bound the stored time only: a late-stored old completion is not in the period."""
    server = ScriptedServer(
        page(
            statement("old", "E1", timestamp="2025-12-31T23:00:00+08:00"),
            statement("in", "E1", timestamp="2026-01-01T08:00:00+08:00"),
            statement("undated", "E1", timestamp=None),
        )
    )
    async with lrs(server) as source:
        batch = await source.fetch_training(["E1", "E2"], Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31)))
    assert [r.id for r in batch.records["E1"]] == ["undated", "in"]
    assert batch.records["E1"][0].completed_on is None


async def test_records_are_ordered_by_completion_day() -> None:
    """Stored order (newest first) is not the order a reader wants."""
    server = ScriptedServer(
        page(
            statement("b", "E1", timestamp="2026-05-01T10:00:00Z"),
            statement("a", "E1", timestamp="2026-02-01T10:00:00Z"),
        )
    )
    batch = await training_of(server)
    assert [r.id for r in batch.records["E1"]] == ["a", "b"]


def _with(key: str, value: Any) -> dict[str, Any]:
    broken = statement("s1", "E1")
    broken[key] = value
    return page(broken)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>maintenance</html>", id="not-json"),
        pytest.param([], id="not-an-object"),
        pytest.param({"more": ""}, id="no-statements"),
        pytest.param({"statements": {"0": {}}, "more": ""}, id="statements-not-a-list"),
        pytest.param({"statements": [1], "more": ""}, id="statement-not-an-object"),
        pytest.param({"statements": [], "more": 5}, id="more-not-a-string"),
        pytest.param(_with("timestamp", "yesterday"), id="bad-timestamp"),
        pytest.param(_with("timestamp", 1700000000), id="numeric-timestamp"),
        pytest.param(_with("id", None), id="no-id"),
        pytest.param(_with("object", "fire-safety"), id="object-not-an-object"),
        pytest.param(_with("result", {"duration": "2 hours"}), id="bad-duration"),
        pytest.param(_with("result", {"score": {"scaled": "high"}}), id="score-not-a-number"),
        pytest.param(_with("result", {"score": {"scaled": True}}), id="score-a-boolean"),
    ],
)
async def test_malformed_answers_raise_bad_response_naming_the_system(body: Any) -> None:
    """Garbage is an error of the system, not an empty list of courses."""
    server = ScriptedServer(body)
    async with lrs(server) as source:
        with pytest.raises(BadResponse) as raised:
            await source.fetch_training(["E1", "E2"])
    assert raised.value.system == "training"


async def test_stops_following_more_after_the_page_cap() -> None:
    """An LRS that always says there is more cannot keep a request busy forever."""
    server = ScriptedServer(*(page(statement(f"s{i}", "E1"), more=f"/xapi/statements?cursor={i}") for i in range(10)))
    async with lrs(server, max_pages=3) as source:
        with pytest.raises(BadResponse, match="after 3 pages"):
            await source.fetch_training(["E1", "E2"])
    assert len(server.requests) == 3


async def test_a_more_link_back_to_a_page_already_read_ends_the_sequence() -> None:
    """Following it would only repeat that page's answer (and loop up to the cap): what was read is the answer."""
    server = ScriptedServer(
        page(statement("s1", "E1"), more="/xapi/statements?cursor=a"),
        page(statement("s2", "E1"), more="/xapi/statements?cursor=a"),
        page(statement("never", "E1")),
    )
    batch = await training_of(server)
    assert len(server.requests) == 2
    assert [r.id for r in batch.records["E1"]] == ["s1", "s2"]


async def test_an_empty_page_whose_more_is_the_query_itself_ends_the_sequence() -> None:
    """Some LRSs answer limit=0 with an empty page pointing at itself, written their own way: not an error."""
    itself = f"/xapi/statements?verb={COMPLETED}&limit=0"  # unencoded, in its own order
    server = ScriptedServer(page(more=itself), page(statement("never", "E1")))
    batch = await training_of(server)
    assert server.requests[0].url.raw_path.decode() != itself  # the same page, not the same text
    assert len(server.requests) == 1
    assert batch.records == {"E1": [], "E2": []}


async def test_the_configured_page_size_is_the_limit_asked_for() -> None:
    """page_size replaces limit=0 (the LRS's largest page) on every query, agent queries included."""
    server = ScriptedServer(page(), page())
    async with lrs(server, dataclasses.replace(SETTINGS, page_size=100)) as source:
        await source.fetch_training(["E1", "E2"])
        await source.fetch_training(["E1"])
    assert [r.url.params["limit"] for r in server.requests] == ["100", "100"]


async def test_a_local_verb_filter_sends_no_verb_and_drops_other_verbs() -> None:
    """For LRSs that ignore or mishandle `verb`: we filter, and a voiding statement still voids."""
    voiding = statement("v1", "admin", verb=VOIDED)
    voiding["object"] = {"objectType": "StatementRef", "id": "mistake"}
    server = ScriptedServer(
        page(
            statement("keep", "E1"), statement("attempted", "E1", verb=ATTEMPTED), voiding, statement("mistake", "E1")
        ),
        page(statement("alone", "E1"), statement("tried", "E1", verb=ATTEMPTED)),
    )
    async with lrs(server, dataclasses.replace(SETTINGS, verb_filter="local")) as source:
        batch = await source.fetch_training(["E1", "E2"])
        alone = await source.fetch_training(["E1"])
    assert ["verb" in r.url.params for r in server.requests] == [False, False]
    assert "agent" in server.requests[1].url.params
    assert [r.id for r in batch.records["E1"]] == ["keep"]
    assert [r.id for r in alone.records["E1"]] == ["alone"]


async def test_statements_an_lrs_flags_as_voided_are_dropped() -> None:
    """`"voided": true` is no xAPI property, but an LRS exposing its storage flag means the statement is withdrawn."""
    flagged, unflagged = statement("flagged", "E1"), statement("unflagged", "E1")
    flagged["voided"], unflagged["voided"] = True, False
    server = ScriptedServer(page(flagged, unflagged, statement("plain", "E1")))
    batch = await training_of(server)
    assert [r.id for r in batch.records["E1"]] == ["plain", "unflagged"]


def by_mbox(statement_id: str, **actor: str) -> dict[str, Any]:
    built = statement(statement_id, "unused")
    built["actor"] = {"objectType": "Agent", **actor}
    return built


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


async def test_learners_are_matched_by_an_mbox_domain_without_regard_to_letter_case() -> None:
    """mailto:<employee no>@<domain>; other domains, other people and (with no homePage) accounts are ignored."""
    server = ScriptedServer(
        page(
            by_mbox("lower", mbox="mailto:e1@EXAMPLE.com"),
            by_mbox("exact", mbox="mailto:E2@example.com"),
            by_mbox("hashed", mbox_sha1sum=sha1("mailto:e2@example.com").upper()),
            by_mbox("elsewhere", mbox="mailto:E1@other.example"),
            by_mbox("stranger", mbox="mailto:E9@example.com"),
            statement("account", "E1"),
        )
    )
    async with lrs(server, XapiConfig(verb=COMPLETED, mbox_domain="Example.com")) as source:
        batch = await source.fetch_training(["E1", "E2"])
    assert {number: [r.id for r in records] for number, records in batch.records.items()} == {
        "E1": ["lower"],
        "E2": ["exact", "hashed"],
    }


async def test_learners_are_matched_by_an_mbox_template_or_its_sha1_alongside_accounts() -> None:
    """The template names the address; an LRS that keeps only the mbox_sha1sum is matched through it."""
    settings = dataclasses.replace(SETTINGS, mbox_template="mailto:{employee_no}@corp.example")
    server = ScriptedServer(
        page(
            by_mbox("mbox", mbox="mailto:E1@corp.example"),
            by_mbox("sha1", mbox_sha1sum=sha1("mailto:E2@corp.example")),
            by_mbox("other-template", mbox="mailto:E1@example.com"),
            statement("account", "E2"),
        )
    )
    async with lrs(server, settings) as source:
        batch = await source.fetch_training(["E1", "E2"])
    assert {number: [r.id for r in records] for number, records in batch.records.items()} == {
        "E1": ["mbox"],
        "E2": ["account", "sha1"],
    }


@pytest.mark.parametrize(
    ("settings", "agents"),
    [
        pytest.param(
            dataclasses.replace(SETTINGS, mbox_template="mailto:{employee_no}@corp.example"),
            [
                {"account": {"homePage": HOME, "name": "E1"}},
                {"mbox": "mailto:E1@corp.example"},
                {"mbox_sha1sum": sha1("mailto:E1@corp.example")},
                {"mbox": "mailto:e1@corp.example"},
                {"mbox_sha1sum": sha1("mailto:e1@corp.example")},
            ],
            id="account-and-template",
        ),
        pytest.param(
            XapiConfig(verb=COMPLETED, mbox_domain="example.com"),
            [
                {"mbox": "mailto:E1@example.com"},
                {"mbox_sha1sum": sha1("mailto:E1@example.com")},
                {"mbox": "mailto:e1@example.com"},
                {"mbox_sha1sum": sha1("mailto:e1@example.com")},
            ],
            id="domain-only",
        ),
    ],
)
async def test_one_employee_is_asked_for_in_each_form_the_configuration_names(
    settings: XapiConfig, agents: list[dict[str, Any]]
) -> None:
    """The LRS compares one identifier exactly: each form is its own query, and a statement found twice counts once."""
    found = by_mbox("s1", mbox="mailto:e1@corp.example" if settings.mbox_template else "mailto:e1@example.com")
    server = ScriptedServer(*(page(found) for _ in agents))
    async with lrs(server, settings) as source:
        batch = await source.fetch_training(["E1"])
    assert [json.loads(r.url.params["agent"]) for r in server.requests] == [
        {"objectType": "Agent", **agent} for agent in agents
    ]
    assert [r.id for r in batch.records["E1"]] == ["s1"]


def systems_file(**xapi: Any) -> dict[str, Any]:
    training = {"kind": "xapi", "base_url": "https://lrs.test", "auth": {"type": "none"}, "verb": COMPLETED}
    return {"systems": {"training": training | xapi}}


class XapiOptions(TypedDict):
    """The optional keys of an xAPI system, as both the systems file and ``XapiConfig`` name them."""

    page_size: int
    verb_filter: VerbFilter
    mbox_domain: str
    mbox_template: str


def test_the_systems_file_sets_the_xapi_options_and_their_defaults() -> None:
    """Without the new keys an LRS is read as before: the largest page, the LRS filtering the verb."""
    plain = parse_systems(systems_file(account_home_page=HOME), {}).systems["training"].details
    assert plain == XapiConfig(verb=COMPLETED, account_home_page=HOME, page_size=0, verb_filter="lrs")
    options: XapiOptions = {
        "page_size": 200,
        "verb_filter": "local",
        "mbox_domain": "example.com",
        "mbox_template": "mailto:{employee_no}@corp.example",
    }
    configured = parse_systems(systems_file(**options), {}).systems["training"].details
    assert configured == XapiConfig(verb=COMPLETED, **options)


@pytest.mark.parametrize(
    ("options", "where"),
    [
        pytest.param({"page_size": -1}, "page_size: must be 0", id="negative-page-size"),
        pytest.param({"page_size": "100"}, "page_size: must be an integer", id="page-size-text"),
        pytest.param({"page_size": 2.5}, "page_size: must be an integer", id="page-size-fraction"),
        pytest.param({"page_size": True}, "page_size: must be an integer", id="page-size-boolean"),
        pytest.param({"verb_filter": "remote"}, "verb_filter: must be one of", id="unknown-verb-filter"),
        pytest.param({"mbox_domain": "@example.com"}, "mbox_domain", id="domain-with-at"),
        pytest.param({"mbox_domain": "example .com"}, "mbox_domain", id="domain-with-space"),
        pytest.param({"mbox_template": "{employee_no}@corp.example"}, "mbox_template", id="template-not-mailto"),
        pytest.param({"mbox_template": "mailto:{employee}@corp.example"}, "mbox_template", id="template-misspelt"),
        pytest.param({"mbox_template": "mailto:{employee_no}.{d}@x.com"}, "mbox_template", id="template-other-field"),
        pytest.param({"mbox_template": "mailto:{employee_no}"}, "mbox_template", id="template-without-domain"),
        pytest.param({"account_home_page": None}, "account_home_page: is required unless mbox", id="nobody-named"),
    ],
)
def test_bad_xapi_options_are_refused_naming_the_system_and_key(options: dict[str, Any], where: str) -> None:
    """A typo would otherwise read the wrong pages or recognise nobody: every training record silently gone."""
    data = systems_file(**{"account_home_page": HOME} | options)
    data["systems"]["training"] = {k: v for k, v in data["systems"]["training"].items() if v is not None}
    with pytest.raises(ConfigurationError, match=f"systems\\.training\\.{where}"):
        parse_systems(data, {})


async def test_a_more_link_to_another_host_is_refused() -> None:
    """Our credentials travel with the next request; they must not go to a host the LRS names."""
    server = ScriptedServer(page(statement("s1", "E1"), more="https://elsewhere.test/xapi/statements?cursor=a"))
    async with lrs(server) as source:
        with pytest.raises(BadResponse, match="leaves the LRS"):
            await source.fetch_training(["E1", "E2"])
    assert len(server.requests) == 1


async def test_an_empty_batch_asks_nothing() -> None:
    """No employees, no request."""
    server = ScriptedServer()
    async with lrs(server) as source:
        batch = await source.fetch_training([])
    assert server.requests == []
    assert batch.records == {}


async def test_upstream_errors_pass_through_as_connector_errors() -> None:
    """The port's errors are the caller's to handle: nothing is swallowed."""

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    async with lrs(refuse) as source:
        with pytest.raises(Unauthorised):
            await source.fetch_training(["E1", "E2"])


async def test_is_a_training_source() -> None:
    """The hub finds training sources by protocol."""
    async with lrs(ScriptedServer()) as source:
        assert isinstance(source, TrainingSource)
