"""Over the network: an analyst and a manager ask the served hub for the insights of a known data set."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee
from tests.insights.known import write_known
from tests.insights.test_attrition import SIGNALS, answered, expected
from tests.insights.test_profile import PROFILE
from tests.schema.conftest import _below as below
from tests.served import conftest as served_fixtures
from tests.served.hub_process import ServedHub

served = served_fixtures.served


def post(hub: ServedHub, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    response = httpx.post(hub.url, json={"query": query, "variables": variables}, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_analyst_and_a_manager_get_what_they_should(
    served: ServedHub, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The analyst: the profile under the minimum group size, attrition signals refused with or without the
    names grant. The manager: the flags of their reporting line, with the training system asked."""
    known = await write_known(sessionmaker)
    cycle = str(known.cycles["Y3"])
    for grants in ([], ["names"]):
        headers = {"Authorization": f"Bearer {served.token('analyst', grants=grants)}"}
        profile = post(served, PROFILE, headers, c=cycle)
        assert "errors" not in profile, profile
        answer = profile["data"]["highPerformerProfile"]
        assert answer["minimumGroupSize"] == 5 and answer["topGrade"] == "S"
        # Twenty top grades and a hundred others in the known set: large enough for an analyst with names.
        if grants:
            assert answer["total"]["top"]["count"] == 20 and answer["total"]["rest"]["count"] == 100, answer["total"]
        refused = post(served, SIGNALS, headers, c=cycle)
        assert refused["data"] == {"attritionSignals": None}
        assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    async with sessionmaker() as session:
        people = (await session.execute(select(Employee.id, Employee.employee_no, Employee.manager_id))).all()
    root = next(p for p in people if p.manager_id is None)
    want = expected(known)
    head = next(p for p in people if p.manager_id == root.id and below(people, p.id) & set(want))
    line = below(people, head.id)
    body = post(served, SIGNALS, served.headers("manager", employee_number=head.employee_no), c=cycle)
    assert "errors" not in body, body
    signals = body["data"]["attritionSignals"]
    assert signals["trainingChecked"] is True
    got = answered(signals["people"])
    assert set(got) <= line
    # The demo's training system keeps courses of recent years only: the result rules decide here.
    by_results = {
        employee: {rule: figures for rule, figures in flags.items() if rule != "TRAINING_STOPPED"}
        for employee, flags in got.items()
    }
    assert {employee: flags for employee, flags in by_results.items() if flags} == {
        employee: flags for employee, flags in want.items() if employee in line
    }
