"""The demo closes the loop (issue 14, point 6), against ``perfhub serve`` as users run it.

HR publishes the demo's current cycle through the API. The demo's payroll system, subscribed to
``resultPublished`` since the hub started, writes a bonus line per result of an employee with a bonus component,
pro-rated by the cycle's share of a year (the demo's cycle is a quarter); its training system receives each
``training.need`` event by signed webhook, asks ``trainingNeeds`` and enrols the employee in a related course
not yet completed. Both are checked through their own APIs (``/bonus-lines``, ``/enrolments``), against what
perfhub itself answers, and the hub's log holds one line per event each handled. Then HR corrects a
published result (``resultCorrect``): the payroll system, which also takes ``result.revised``, reverses the
standing bonus line and writes one at the corrected grade; a second correction that keeps the grade changes no
line; each correction is one line in the log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.demo.systems.consumers import BONUS_FACTORS
from tests.served.conftest import NO_RATE_LIMIT, _no_traceback
from tests.served.hub_process import ServedHub

DEADLINE_SECONDS = 120.0
TRANSITION = "mutation($id: ID!) { %s(cycleId: $id) { __typename } }"
NEEDS = """query($cycle: ID!, $after: String) {
  trainingNeeds(cycleId: $cycle, first: 100, after: $after) {
    cursor employee { employeeNo } needs { indicatorCode courses trainingTaken }
  }
}"""
RESULTS = """query($cycle: ID!, $after: String) {
  results(cycleId: $cycle, first: 500, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { id grade employee { employeeNo } } }
  }
}"""


@pytest.fixture
def looped(database_url: str, tmp_path: Path) -> Iterator[ServedHub]:
    # The default webhook poll: a faster one made the worker's reads more likely to be cancelled mid-statement at
    # shutdown, which SQLAlchemy logs with a traceback on SQLite (the worker's, not the consumers').
    env = {**NO_RATE_LIMIT, "PERFHUB_DEMO_CONSUMERS": "true"}
    with ServedHub(database_url, tmp_path, env) as hub:
        yield hub
    _no_traceback(hub)


async def gql(http: httpx.AsyncClient, hub: ServedHub, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(hub.url, json={"query": query, "variables": variables}, headers=hub.headers("hr_admin"))
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def system_url(hub: ServedHub, system: str) -> str:
    found = re.search(rf"^  {system}: (http://\S+)$", hub.log(), re.MULTILINE)
    assert found, hub.log()
    return found.group(1)


async def until(hub: ServedHub, check: Any, what: str) -> Any:
    """Polls ``check`` (an async callable returning a value or None) until it answers, within the deadline."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_SECONDS
    while (value := await check()) is None:
        assert asyncio.get_running_loop().time() < deadline, f"no {what} in time:\n{hub.log()[-6000:]}"
        await asyncio.sleep(0.5)
    return value


async def test_publishing_a_cycle_enrols_the_needy_and_writes_bonus_lines(looped: ServedHub) -> None:
    hub = looped
    training, payroll = system_url(hub, "training"), system_url(hub, "payroll")
    async with httpx.AsyncClient(timeout=60) as http:
        cycles = (await gql(http, hub, "{ cycles { id state periodStart periodEnd } }", {}))["cycles"]
        opened = next(c for c in cycles if c["state"] == "OPEN")
        cycle = opened["id"]
        days = (dt.date.fromisoformat(opened["periodEnd"]) - dt.date.fromisoformat(opened["periodStart"])).days + 1
        assert days < 364  # a quarter: its lines pay a share of the annual bonus
        for step in ("cycleScore", "cycleCloseCalibration", "cyclePublish"):
            await gql(http, hub, TRANSITION % step, {"id": cycle})

        grades: dict[str, str] = {}
        result_ids: dict[str, str] = {}
        after = None
        while True:
            page = (await gql(http, hub, RESULTS, {"cycle": cycle, "after": after}))["results"]
            grades |= {edge["node"]["employee"]["employeeNo"]: edge["node"]["grade"] for edge in page["edges"]}
            result_ids |= {edge["node"]["employee"]["employeeNo"]: edge["node"]["id"] for edge in page["edges"]}
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        needy: dict[str, list[dict[str, Any]]] = {}
        after = None
        while True:
            items = (await gql(http, hub, NEEDS, {"cycle": cycle, "after": after}))["trainingNeeds"]
            needy |= {item["employee"]["employeeNo"]: item["needs"] for item in items}
            if len(items) < 100:
                break
            after = items[-1]["cursor"]
        assert grades and needy
        expected_enrolments = {
            (number, need["indicatorCode"], need["courses"][0])
            for number, needs in needy.items()
            for need in needs
            if need["courses"] and not need["trainingTaken"]
        }
        assert expected_enrolments

        async def bonus_lines() -> list[dict[str, Any]] | None:
            if hub.log().count("[result.published ") < len(grades):
                return None  # not every published result handled yet
            lines: list[dict[str, Any]] = (await http.get(f"{payroll}/bonus-lines")).json()["bonusLines"]
            return lines

        async def enrolments() -> list[dict[str, Any]] | None:
            made: list[dict[str, Any]] = (await http.get(f"{training}/enrolments")).json()["enrolments"]
            handled = hub.log().count("perfhub demo: training:")
            return made if handled >= len(needy) else None

        lines = await until(hub, bonus_lines, "every published result handled")
        made = await until(hub, enrolments, "every training.need handled")
        corrected = await correct_a_bonus(http, hub, payroll, lines, result_ids)

    # Payroll: one line per published result of an employee with a bonus component (none for the others), at
    # the result's grade: the annual bonus x the grade's factor x the quarter's share of a year.
    log = hub.log()
    without = set(re.findall(r"payroll: no bonus line for (\S+),", log))
    assert lines and without  # the demo's payroll gives some employees no bonus component
    assert sorted(line["employeeNo"] for line in lines) == sorted(set(grades) - without)
    share = (Decimal(days) / 365).quantize(Decimal("0.0001"))
    for line in lines:
        assert line["cycleId"] == cycle and line["grade"] == grades[line["employeeNo"]]
        factor = BONUS_FACTORS[line["grade"]]
        assert Decimal(line["factor"]) == factor
        assert (line["periodDays"], Decimal(line["periodShare"])) == (days, share) and share < Decimal("0.26")
        expected = (Decimal(line["annualBonus"]) * factor * share).quantize(Decimal("0.01"))
        assert Decimal(line["amount"]) == expected
        assert (line["corrects"], line["reverses"]) == (None, None)
    # Training: an enrolment in a related course exactly where a need's training was not taken yet.
    assert {(e["employeeNo"], e["indicator"], e["course"]) for e in made} == expected_enrolments
    assert all(e["cycleId"] == cycle for e in made)
    # One line in perfhub serve's output per event each consumer handled, and no event twice.
    log = hub.log()
    assert log.count("perfhub demo: payroll: bonus line") == len(lines)
    assert log.count("perfhub demo: payroll: no bonus line") == len(grades) - len(lines)
    assert log.count("perfhub demo: training:") == len(needy)
    event_ids = re.findall(r"\[(?:training\.need|result\.published|result\.revised) ([0-9a-f-]{36})\]", log)
    assert len(event_ids) == len(set(event_ids)) == len(grades) + len(needy) + 2
    assert log.count("perfhub demo: payroll: correction for") == 2
    assert f"payroll: correction for {corrected}" in log and "grade D unchanged" in log


CORRECT = """mutation($input: ResultCorrectInput!) {
  resultCorrect(input: $input) { __typename ... on ResultCorrected { result { grade } } ... on MutationError { code } }
}"""


async def correct_a_bonus(
    http: httpx.AsyncClient, hub: ServedHub, payroll: str, lines: list[dict[str, Any]], result_ids: dict[str, str]
) -> str:
    """Corrects a result with a bonus amount down to grade D, then again within D; checks the payroll's lines
    after each. The employee number corrected."""
    old = next(line for line in lines if line["grade"] != "D")
    number = old["employeeNo"]

    async def correct(total: float) -> None:
        variables = {"input": {"resultId": result_ids[number], "totalScore": total, "reason": "a source was wrong"}}
        answer = (await gql(http, hub, CORRECT, variables))["resultCorrect"]
        assert answer == {"__typename": "ResultCorrected", "result": {"grade": "D"}}, answer

    async def after_corrections(handled: int) -> list[dict[str, Any]] | None:
        """The employee's lines once the payroll said it handled ``handled`` corrections."""
        if hub.log().count("perfhub demo: payroll: correction for") < handled:
            return None
        shown: list[dict[str, Any]] = (await http.get(f"{payroll}/bonus-lines", params={"employee": number})).json()[
            "bonusLines"
        ]
        return shown

    await correct(30.0)
    booked = await until(hub, lambda: after_corrections(1), "the first correction handled")
    assert len(booked) == 3 and booked[0] == old, booked
    reversal, new = booked[1], booked[2]
    assert (reversal["kind"], reversal["reverses"], reversal["corrects"], Decimal(reversal["amount"])) == (
        "reversal",
        old["lineId"],
        None,
        -Decimal(old["amount"]),
    )
    assert (new["kind"], new["grade"], new["corrects"], new["reverses"], Decimal(new["amount"])) == (
        "bonus",
        "D",
        old["lineId"],
        None,
        Decimal(0),
    )
    assert reversal["eventId"] == new["eventId"] != old["eventId"]

    await correct(31.0)  # still D: the bonus follows the grade, so no line changes
    assert await until(hub, lambda: after_corrections(2), "the second correction handled") == booked
    return str(number)
