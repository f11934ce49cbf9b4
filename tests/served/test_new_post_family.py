"""A post family the demo does not have, DRAFT -> PUBLISHED through the API alone (issue 13, point 11).

An HR team brings its own organisation to an empty hub (``PERFHUB_DEMO=false``): IT support, with a
ticket metric from its own ticket system (a REST API this test serves on loopback, described in a
systems file: the declarative REST connector needs no code) and a change-success rate that no system
serves, imported by CSV. Everything goes through GraphQL over HTTP as an HR or portal client sends it,
each rating with the rater's own token; the totals are checked against the rule formulas written out
below, to the cent, the grades against the bands, and each employee reads their own published result.

The worked example the README points at ("Bringing your own organisation").
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import blank_database
from tests.loopback import served
from tests.schema.test_appraisal_workflow import RATE, SAVED_VERSION, TRANSITION
from tests.served.hub_process import ServedHub

# ---------------------------------------------------------------------------------------- the inputs

LEAD = "IT100"
AGENTS = ("IT101", "IT102", "IT103", "IT104", "IT105", "IT106")
PEER_OF = {agent: AGENTS[(index + 1) % len(AGENTS)] for index, agent in enumerate(AGENTS)}
"""Each agent is rated by the next one (and the last by the first)."""

# The lead's post has no scheme: the lead rates the agents and is not appraised in this cycle.
ORGANISATION = f"""\
employee_no,name,email,hired_on,department_code,department_name,post_code,post_name,post_family,manager_employee_no
{LEAD},Ada Lovelace,ada@it.example,2023-02-01,IT,Information technology,ITS-LEAD,IT support lead,IT_SUPPORT,
IT101,Alan Turing,alan@it.example,2024-03-04,IT,,ITS-AGENT,IT support agent,IT_SUPPORT,{LEAD}
IT102,Grace Hopper,grace@it.example,2024-05-13,IT,,ITS-AGENT,,,{LEAD}
IT103,Linus Torvalds,linus@it.example,2025-01-06,IT,,ITS-AGENT,,,{LEAD}
IT104,Margaret Hamilton,margaret@it.example,2025-02-03,IT,,ITS-AGENT,,,{LEAD}
IT105,Dennis Ritchie,dennis@it.example,2025-04-01,IT,,ITS-AGENT,,,{LEAD}
IT106,Barbara Liskov,barbara@it.example,2025-06-02,IT,,ITS-AGENT,,,{LEAD}
"""

PERIOD = (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
EFFECTIVE = "2026-01-01"

ATTITUDE, SHARING, RESPONSE, CHANGES = (
    "ITS_SERVICE_ATTITUDE",
    "ITS_KNOWLEDGE_SHARING",
    "ITS_FIRST_RESPONSE",
    "ITS_CHANGES",
)
WEIGHTS = {ATTITUDE: 20, SHARING: 15, RESPONSE: 40, CHANGES: 25}
RATER_WEIGHTS = {"SELF": 10, "MANAGER": 60, "PEER": 30}
RESPONSE_FLOOR, RESPONSE_TARGET = 60, 10  # minutes: 0 points at an hour, 100 at ten minutes or less
CHANGES_FLOOR, CHANGES_TARGET = 70, 100  # percent of changes without an incident

RATINGS: dict[str, dict[str, tuple[int, int, int]]] = {
    # ratee: indicator -> (self, manager, peer), each an anchor point of the 1-5 scale
    "IT101": {ATTITUDE: (5, 4, 4), SHARING: (4, 4, 5)},
    "IT102": {ATTITUDE: (4, 3, 3), SHARING: (3, 3, 4)},
    "IT103": {ATTITUDE: (5, 5, 4), SHARING: (5, 4, 5)},
    "IT104": {ATTITUDE: (3, 2, 3), SHARING: (3, 2, 3)},
    "IT105": {ATTITUDE: (4, 4, 5), SHARING: (4, 3, 3)},
    "IT106": {ATTITUDE: (2, 3, 2), SHARING: (3, 2, 3)},
}
FIRST_RESPONSE_MINUTES = {"IT101": 14.0, "IT102": 31.5, "IT103": 8.0, "IT104": 52.0, "IT105": 19.5, "IT106": 44.0}
"""What the ticket system reports for the period (IT103 beats the target: the rule caps at 100)."""
CHANGE_SUCCESS = {"IT101": 96.0, "IT102": 91.5, "IT103": 100.0, "IT104": 68.0, "IT105": 93.0, "IT106": 84.5}
"""What the change board's spreadsheet says (IT104 is below the floor: 0 points)."""

CALIBRATED, CALIBRATED_TOTAL = "IT105", 80.0
CALIBRATION_REASON = "ran the service desk alone for the three weeks of the migration"

# ---------------------------------------------------------------------------------------- by hand


def rated(values: tuple[int, int, int]) -> Fraction:
    """(10 * self + 60 * manager + 30 * peer) / 100 on the 1-5 scale, then (r - 1) / 4 * 100."""
    combined = Fraction(sum(w * v for w, v in zip(RATER_WEIGHTS.values(), values, strict=True)), 100)
    return (combined - 1) / 4 * 100


def linear(value: float, floor: int, target: int) -> Fraction:
    """0 at the floor, 100 at the target, straight between, clamped outside (either direction)."""
    share = (Fraction(value) - floor) / (target - floor)
    return min(max(share, Fraction(0)), Fraction(1)) * 100


def hand_scores(agent: str) -> dict[str, Fraction]:
    return {
        ATTITUDE: rated(RATINGS[agent][ATTITUDE]),
        SHARING: rated(RATINGS[agent][SHARING]),
        RESPONSE: linear(FIRST_RESPONSE_MINUTES[agent], RESPONSE_FLOOR, RESPONSE_TARGET),
        CHANGES: linear(CHANGE_SUCCESS[agent], CHANGES_FLOOR, CHANGES_TARGET),
    }


def hand_total(agent: str) -> Fraction:
    return sum((WEIGHTS[code] * score / 100 for code, score in hand_scores(agent).items()), Fraction(0))


def cents(value: Fraction | float) -> float:
    """As the API shows a score: half-up to two decimals. The inputs above give no total on a half cent
    exactly, where the engine's floating-point sum could land on either side of it."""
    exact = Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else Decimal(value)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def grade(total: float) -> str:
    """The default bands (PERFHUB_GRADE_BANDS): S from 90, A from 80, B from 70, C from 60, else D."""
    return next((name for name, floor in (("S", 90), ("A", 80), ("B", 70), ("C", 60)) if total >= floor), "D")


def test_the_hand_figures_are_what_this_test_says() -> None:
    """The arithmetic the served test checks against, written out once more for one agent (IT101):
    attitude (10*5 + 60*4 + 30*4) / 100 = 4.1 -> 77.5; sharing (40 + 240 + 150) / 100 = 4.3 -> 82.5;
    first response 14 min: (60 - 14) / 50 = 92; changes 96 %: (96 - 70) / 30 = 86.667;
    total 0.20 * 77.5 + 0.15 * 82.5 + 0.40 * 92 + 0.25 * 86.667 = 15.5 + 12.375 + 36.8 + 21.667 = 86.342 -> A."""
    assert hand_scores("IT101") == {ATTITUDE: 77.5, SHARING: 82.5, RESPONSE: 92, CHANGES: Fraction(260, 3)}
    assert (cents(hand_total("IT101")), grade(cents(hand_total("IT101")))) == (86.34, "A")
    assert linear(FIRST_RESPONSE_MINUTES["IT103"], RESPONSE_FLOOR, RESPONSE_TARGET) == 100  # faster than target
    assert linear(CHANGE_SUCCESS["IT104"], CHANGES_FLOOR, CHANGES_TARGET) == 0  # below the floor
    assert all(hand_total(agent) * 100 % 1 != Fraction(1, 2) for agent in AGENTS), "a total on a half cent"
    # The calibration moves IT105 into another band than the engine's total gave.
    assert grade(cents(hand_total(CALIBRATED))) != grade(CALIBRATED_TOTAL)


# ---------------------------------------------------------------------------------------- the ticket system

ITSM_TOKEN = "itsm-test-token"
ITSM_PAGE = 4
SYSTEMS_FILE = """\
[systems.itsm]
kind = "rest"
base_url = "{base_url}"
auth = {{ type = "bearer", token_env = "ITSM_API_TOKEN" }}
retries = 0

[systems.itsm.metrics.first_response_minutes]
path = "/api/v2/reports/first-response"
ids = {{ param = "agent", style = "repeat" }}
period = {{ start = "from", end = "to" }}
page = {{ style = "cursor", param = "cursor", next = "next_cursor", size_param = "limit", size = {page} }}
map = "data[].{{employee: agent.login, value: minutes}}"
"""


def ticket_system(asked: list[Mapping[str, Any]]) -> Starlette:
    """An IT service-management tool's reporting API: agents by login, a cursor per page of ``limit``."""

    async def first_response(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {ITSM_TOKEN}":
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        query = request.query_params
        asked.append({"cursor": query.get("cursor"), "from": query["from"], "to": query["to"]})
        start, limit = int(query.get("cursor", "0")), int(query["limit"])
        page = query.getlist("agent")[start : start + limit]
        rows = [{"agent": {"login": a}, "minutes": FIRST_RESPONSE_MINUTES[a]} for a in page]
        more = start + limit < len(query.getlist("agent"))
        return JSONResponse({"data": rows, "next_cursor": str(start + limit) if more else None})

    return Starlette(routes=[Route("/api/v2/reports/first-response", first_response)])


# ---------------------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class Client:
    """GraphQL over HTTP to the served hub, as one person: a bearer token of their role and number."""

    hub: ServedHub
    http: httpx.AsyncClient
    role: str = "hr_admin"
    number: str | None = None

    def of(self, role: str, number: str) -> Client:
        return Client(self.hub, self.http, role, number)

    async def data(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            self.hub.url,
            json={"query": query, "variables": dict(variables or {})},
            headers=self.hub.headers(self.role, self.number),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def ok(self, query: str, variables: Mapping[str, Any], typename: str) -> dict[str, Any]:
        """The payload of a mutation that must succeed as ``typename``."""
        (payload,) = (await self.data(query, variables)).values()
        assert payload["__typename"] == typename, payload
        result: dict[str, Any] = payload
        return result


IMPORT = """
mutation($csv: String!) { organisationImport(csv: $csv) { __typename
  ... on OrganisationImported { departments { created } posts { created } employees { created } }
  ... on MutationError { code message } } }
"""
WHO = "{ employees(first: 50) { edges { node { id employeeNo } } } posts { id code family } }"
SCHEME = """
mutation($input: SchemeVersionPublishInput!) { schemeVersionPublish(input: $input) { __typename
  ... on SchemeVersionPublished { schemeVersion { id } } ... on MutationError { code message } } }
"""
CREATE = """
mutation($input: CycleCreateInput!) { cycleCreate(input: $input) { __typename
  ... on CycleChanged { cycle { id state } } ... on MutationError { code message } } }
"""
ASSIGN = """
mutation($input: RaterAssignInput!) { raterAssign(input: $input) { __typename ... on MutationError { code message } } }
"""
COLLECT = """
mutation($id: ID!) { cycleCollectMetrics(cycleId: $id) { __typename
  ... on MetricsCollected { stored missing { employeeNo indicator reason } } ... on MutationError { code message } } }
"""
METRICS = """
mutation($id: ID!, $csv: String!) { metricValuesImport(cycleId: $id, csv: $csv) { __typename
  ... on MetricValuesImported { imported } ... on MutationError { code message } } }
"""
SCORE = """
mutation($id: ID!) { cycleScore(cycleId: $id) { __typename
  ... on CycleScored { scored blocked { code } coverage { results withoutRatings withoutMeasures completeness } }
  ... on MutationError { code message } } }
"""
RESULTS = """
query($id: ID!) { results(cycleId: $id, first: 50) { totalCount edges { node {
  id totalScore grade employee { employeeNo }
  indicatorScores { rawValue normalizedScore indicatorVersion { indicator { code } } provenance { system metric } }
} } } }
"""
CALIBRATE = """
mutation($input: ResultCalibrateInput!) { resultCalibrate(input: $input) { __typename
  ... on ResultCalibrated { result { totalScore grade computedTotal computedGrade calibrated } }
  ... on MutationError { code message } } }
"""
MINE = """
query($id: ID!) { me { employeeNo result(cycleId: $id) {
  totalScore grade computedTotal calibrated calibrationReason rankInPost postGroupSize cycle { state }
} } }
"""


def rating_scale(*anchors: str) -> dict[str, Any]:
    return {"kind": "rating", "min": 1, "max": 5, "anchors": dict(zip("12345", anchors, strict=True))}


INDICATORS: tuple[dict[str, Any], ...] = (
    {
        "code": ATTITUDE,
        "name": "Service attitude",
        "category": "CORE",
        "direction": "HIGHER_IS_BETTER",
        "sourceSystem": "MANUAL",
        "rule": rating_scale(
            "Dismisses users or closes tickets unresolved.",
            "Polite when asked, but leaves users guessing about their ticket.",
            "Keeps users informed and closes the loop on every ticket.",
            "Anticipates what users need and explains fixes in their terms.",
            "Users ask for them by name; coaches colleagues in handling difficult calls.",
        ),
    },
    {
        "code": SHARING,
        "name": "Knowledge sharing",
        "category": "CORE",
        "direction": "HIGHER_IS_BETTER",
        "sourceSystem": "MANUAL",
        "rule": rating_scale(
            "Keeps fixes to themselves.",
            "Shares a fix when asked.",
            "Writes a knowledge-base article for every new fix.",
            "Keeps the knowledge base current and reviews colleagues' articles.",
            "Runs the team's knowledge base and trains new agents.",
        ),
    },
    {
        "code": RESPONSE,
        "name": "Mean first-response time",
        "category": "EXTENSION",
        "direction": "LOWER_IS_BETTER",
        "unit": "min",
        "rule": {"kind": "linear", "floor": RESPONSE_FLOOR, "target": RESPONSE_TARGET},
        "sourceSystem": "itsm",
        "sourceMetric": "first_response_minutes",
    },
    {
        "code": CHANGES,
        "name": "Change success rate",
        "category": "EXTENSION",
        "direction": "HIGHER_IS_BETTER",
        "unit": "%",
        "rule": {"kind": "linear", "floor": CHANGES_FLOOR, "target": CHANGES_TARGET},
        "sourceSystem": "change_board",
        "sourceMetric": "change_success_rate",
    },
)

# ---------------------------------------------------------------------------------------- the story


async def bring_the_organisation(hr: Client) -> tuple[dict[str, str], str]:
    """organisationImport; returns employee number -> id, and the agents' post id."""
    imported = await hr.ok(IMPORT, {"csv": ORGANISATION}, "OrganisationImported")
    assert imported["departments"] == {"created": 1}
    assert imported["posts"] == {"created": 2}
    assert imported["employees"] == {"created": 1 + len(AGENTS)}
    who = await hr.data(WHO)
    ids = {edge["node"]["employeeNo"]: edge["node"]["id"] for edge in who["employees"]["edges"]}
    assert set(ids) == {LEAD, *AGENTS}, "the hub holds the imported organisation and nobody else"
    (post,) = [post["id"] for post in who["posts"] if post["code"] == "ITS-AGENT"]
    return ids, post


async def define_the_scheme(hr: Client, post: str) -> dict[str, str]:
    """indicatorCreate four times, schemeVersionPublish once; returns indicator code -> version id."""
    versions: dict[str, str] = {}
    for indicator in INDICATORS:
        saved = await hr.ok(
            SAVED_VERSION, {"input": {**indicator, "effectiveFrom": EFFECTIVE}}, "IndicatorVersionSaved"
        )
        versions[indicator["code"]] = saved["indicatorVersion"]["id"]
    scheme = {
        "postId": post,
        "effectiveFrom": EFFECTIVE,
        "changeNote": "IT support's first scheme",
        "items": [{"indicatorVersionId": versions[code], "weight": weight} for code, weight in WEIGHTS.items()],
        "raterWeights": [{"role": role, "weight": weight} for role, weight in RATER_WEIGHTS.items()],
    }
    await hr.ok(SCHEME, {"input": scheme}, "SchemeVersionPublished")
    return versions


async def rate(hr: Client, cycle: str, ids: dict[str, str], versions: dict[str, str]) -> None:
    """Peers assigned by HR; every rating submitted by its rater, with their own token."""
    for ratee, peer in PEER_OF.items():
        assignment = {"cycleId": cycle, "rateeId": ids[ratee], "raterId": ids[peer], "role": "PEER"}
        await hr.ok(ASSIGN, {"input": assignment}, "RaterAssigned")
    submissions = []
    for ratee, by_indicator in RATINGS.items():
        raters = (("employee", ratee), ("manager", LEAD), ("employee", PEER_OF[ratee]))  # self, manager, peer
        for code, values in by_indicator.items():
            for (role, rater), value in zip(raters, values, strict=True):
                rating = {
                    "cycleId": cycle,
                    "rateeId": ids[ratee],
                    "raterId": ids[rater],
                    "indicatorVersionId": versions[code],
                    "value": value,
                }
                submissions.append(hr.of(role, rater).ok(RATE, {"input": rating}, "RatingSubmitted"))
    await asyncio.gather(*submissions)  # raters work at the same time


async def run_the_cycle(hr: Client, ids: dict[str, str], versions: dict[str, str], asked: list[Any]) -> str:
    """DRAFT -> OPEN -> (ratings, collect, import) -> SCORED; returns the cycle id."""
    start, end = PERIOD
    created = await hr.ok(
        CREATE, {"input": {"name": "2026 Q3", "periodStart": str(start), "periodEnd": str(end)}}, "CycleChanged"
    )
    cycle: str = created["cycle"]["id"]
    assert created["cycle"]["state"] == "DRAFT"
    await hr.ok(TRANSITION % "cycleOpen", {"id": cycle}, "CycleChanged")
    await rate(hr, cycle, ids, versions)

    collected = await hr.ok(COLLECT, {"id": cycle}, "MetricsCollected")
    assert collected["stored"] == len(AGENTS)
    # The change rate has no system to ask (it comes by CSV next): collection says so, per employee.
    assert sorted((m["employeeNo"], m["indicator"]) for m in collected["missing"]) == [(a, CHANGES) for a in AGENTS]
    assert all("no connector is configured for change_board" in m["reason"] for m in collected["missing"])
    # Two pages of at most four agents (the second by its cursor), for the cycle's period; the bearer token
    # came from the environment variable the systems file names (without it the system answers 401).
    assert [call["cursor"] for call in asked] == [None, str(ITSM_PAGE)]
    assert {(call["from"], call["to"]) for call in asked} == {(str(start), str(end))}

    rows = "".join(f"{agent},{CHANGES},{value}\n" for agent, value in CHANGE_SUCCESS.items())
    imported = await hr.ok(
        METRICS, {"id": cycle, "csv": f"employee_no,indicator,value\n{rows}"}, "MetricValuesImported"
    )
    assert imported["imported"] == len(AGENTS)

    scored = await hr.ok(SCORE, {"id": cycle}, "CycleScored")  # no allowIncomplete: everyone was rated
    assert (scored["scored"], scored["blocked"]) == (len(AGENTS), [])
    assert scored["coverage"] == [
        {"results": len(AGENTS), "withoutRatings": 0, "withoutMeasures": 0, "completeness": 100.0}
    ]
    return cycle


def check_scored(results: list[dict[str, Any]]) -> None:
    """Each total, indicator score and grade as computed by hand; the provenance of both measures."""
    assert sorted(result["employee"]["employeeNo"] for result in results) == list(AGENTS)
    for result in results:
        agent = result["employee"]["employeeNo"]
        scores = {s["indicatorVersion"]["indicator"]["code"]: s for s in result["indicatorScores"]}
        assert {code: scores[code]["normalizedScore"] for code in WEIGHTS} == {
            code: cents(score) for code, score in hand_scores(agent).items()
        }, agent
        assert scores[RESPONSE]["rawValue"] == FIRST_RESPONSE_MINUTES[agent]
        assert scores[RESPONSE]["provenance"] == {"system": "itsm", "metric": "first_response_minutes"}
        assert scores[CHANGES]["rawValue"] == CHANGE_SUCCESS[agent]
        assert scores[CHANGES]["provenance"] == {"system": "change_board", "metric": "change_success_rate"}
        assert (result["totalScore"], result["grade"]) == (cents(hand_total(agent)), grade(cents(hand_total(agent))))


async def calibrate_and_publish(hr: Client, cycle: str, results: list[dict[str, Any]]) -> None:
    (result,) = [r for r in results if r["employee"]["employeeNo"] == CALIBRATED]
    calibration = {"resultId": result["id"], "totalScore": CALIBRATED_TOTAL, "reason": CALIBRATION_REASON}
    calibrated = (await hr.ok(CALIBRATE, {"input": calibration}, "ResultCalibrated"))["result"]
    computed = cents(hand_total(CALIBRATED))
    assert calibrated == {
        "totalScore": CALIBRATED_TOTAL,
        "grade": grade(CALIBRATED_TOTAL),
        "computedTotal": computed,
        "computedGrade": grade(computed),
        "calibrated": True,
    }
    await hr.ok(TRANSITION % "cycleCloseCalibration", {"id": cycle}, "CycleChanged")
    await hr.ok(TRANSITION % "cyclePublish", {"id": cycle}, "CycleChanged")


async def check_published(hr: Client, cycle: str) -> None:
    """Each agent reads their own result: the hand total (the calibrated one for IT105), its grade, its rank."""
    finals = {agent: CALIBRATED_TOTAL if agent == CALIBRATED else cents(hand_total(agent)) for agent in AGENTS}
    ranking = sorted(AGENTS, key=lambda agent: -finals[agent])
    assert len(set(finals.values())) == len(AGENTS), "no ties: each rank is one agent's"
    for agent in AGENTS:
        me = (await hr.of("employee", agent).data(MINE, {"id": cycle}))["me"]
        assert me["employeeNo"] == agent
        assert me["result"] == {
            "totalScore": finals[agent],
            "grade": grade(finals[agent]),
            "computedTotal": cents(hand_total(agent)),
            "calibrated": agent == CALIBRATED,
            "calibrationReason": CALIBRATION_REASON if agent == CALIBRATED else None,
            "rankInPost": ranking.index(agent) + 1,
            "postGroupSize": len(AGENTS),
            "cycle": {"state": "PUBLISHED"},
        }, agent


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_an_it_support_family_from_draft_to_published_through_the_api(kind: str, tmp_path: Path) -> None:
    """Organisation, indicators, scheme, cycle, ratings, REST and CSV measures, scoring, calibration and
    publication through GraphQL alone, on an empty hub whose only business system is the test's own."""
    asked: list[Mapping[str, Any]] = []
    async with blank_database(kind, tmp_path) as url, served(ticket_system(asked)) as itsm:
        systems = tmp_path / "systems.toml"
        systems.write_text(SYSTEMS_FILE.format(base_url=itsm, page=ITSM_PAGE), encoding="utf-8")
        environment = {
            "PERFHUB_DEMO": "false",
            "PERFHUB_SYSTEMS_FILE": str(systems),
            "PERFHUB_RATE_LIMIT_PER_SECOND": "0",  # the raters all submit at once
            "ITSM_API_TOKEN": ITSM_TOKEN,
        }
        hub = ServedHub(url, tmp_path, environment)
        # Started off the event loop: the ticket system is served on it.
        await asyncio.to_thread(hub.start)
        try:
            async with httpx.AsyncClient(timeout=60) as http:
                hr = Client(hub, http)
                ids, post = await bring_the_organisation(hr)
                versions = await define_the_scheme(hr, post)
                cycle = await run_the_cycle(hr, ids, versions, asked)
                agent = hr.of("employee", AGENTS[0])
                assert (await agent.data(MINE, {"id": cycle}))["me"]["result"] is None, "not published yet"
                results = [edge["node"] for edge in (await hr.data(RESULTS, {"id": cycle}))["results"]["edges"]]
                check_scored(results)
                await calibrate_and_publish(hr, cycle, results)
                await check_published(hr, cycle)
        finally:
            await asyncio.to_thread(hub.stop)
    assert "Traceback" not in hub.log(), hub.log()[-4000:]
