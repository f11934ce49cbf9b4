"""Fuzz of what an analyst without the names grant can ask the served hub: no answer maps to a person.

Hypothesis builds queries an analyst may send (lists, lookups by the ids the analyst was given, filters,
statistics, nested results and provenance, denied fields among them) and sends them over HTTP to
`perfhub serve`. Whatever comes back, data and errors alike, must contain no employee number, no name,
no stored (plain SHA-256) provenance checksum, no base64 ``employee:N`` / ``result:N`` / ``event:N``
cursor, and no employee or result id that is a row key. Bounded (``FUZZ_EXAMPLES``, default 60 per
database) so that the suite stays fast.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db.models import Cycle, Department, Employee, IndicatorScore, MetricValue, Post
from tests.served.conftest import served_to_read
from tests.served.hub_process import ServedHub

__all__ = ["served_to_read"]  # the served hub fixture, shared with tests/served/

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PERSON_TYPES = {"Employee", "AppraisalResult"}
CURSOR_KINDS = ("employee", "result", "event")


@dataclass(frozen=True)
class Secrets:
    """What must never reach the analyst, read from the hub's database by the test's own SQL."""

    numbers: frozenset[str]
    names: frozenset[str]
    checksums: frozenset[str]
    cycles: tuple[int, ...]
    departments: tuple[int, ...]
    posts: tuple[int, ...]
    families: tuple[str, ...]


async def _read_secrets(url: str) -> Secrets:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            people = (await connection.execute(select(Employee.employee_no, Employee.name))).all()
            stored: set[str | None] = set((await connection.execute(select(MetricValue.checksum))).scalars())
            stored |= set((await connection.execute(select(IndicatorScore.provenance_checksum))).scalars())
            cycles = tuple((await connection.execute(select(Cycle.id))).scalars())
            departments = tuple((await connection.execute(select(Department.id))).scalars())
            posts = tuple((await connection.execute(select(Post.id))).scalars())
            families = tuple(sorted(set((await connection.execute(select(Post.family))).scalars())))
    finally:
        await engine.dispose()
    return Secrets(
        frozenset(row.employee_no for row in people),
        frozenset(row.name for row in people),
        frozenset(value for value in stored if value),
        cycles,
        departments,
        posts,
        families,
    )


@dataclass
class Analyst:
    hub: ServedHub
    http: httpx.Client
    secrets: Secrets
    ids: list[str]
    """The employee ids the analyst's own list gave."""
    cursors: list[str]


@pytest.fixture(scope="module")
def analyst(served_to_read: ServedHub) -> Iterator[Analyst]:
    secrets = asyncio.run(_read_secrets(served_to_read.database_url))
    headers = {"Authorization": f"Bearer {served_to_read.token('analyst')}"}
    with httpx.Client(base_url=served_to_read.base_url, headers=headers, timeout=30) as http:
        listing = {"query": "{ employees(first: 500) { edges { cursor node { id } } } }"}
        page = http.post("/graphql", json=listing).json()
        edges = page["data"]["employees"]["edges"]
        assert len(edges) == len(secrets.numbers)
        yield Analyst(served_to_read, http, secrets, [e["node"]["id"] for e in edges], [e["cursor"] for e in edges])


# --- The queries an analyst may send --------------------------------------------------------------------


def selection(fields: dict[str, str]) -> st.SearchStrategy[str]:
    """A non-empty subset of ``fields`` (name -> sub-selection) as a selection set."""
    names = sorted(fields)
    return st.lists(st.sampled_from(names), min_size=1, unique=True).map(
        lambda chosen: "{ __typename " + " ".join(name + fields[name] for name in sorted(chosen)) + " }"
    )


def queries(analyst: Analyst) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    secrets = analyst.secrets
    cycle = st.sampled_from(secrets.cycles).map(str)
    provenance = " { system metric fetchedAt stale checksum }"
    score = selection({"rawValue": "", "normalizedScore": "", "weightedScore": "", "provenance": provenance})
    result_fields = {
        "id": "",
        "totalScore": "",
        "grade": "",
        "rankInPost": "",
        "percentileInPost": "",
        "rankInDepartment": "",
        "percentileInDepartment": "",
        "calibrated": "",
        "calibrationReason": "",
        "computedTotal": "",
        "adjustments": " { kind totalBefore totalAfter reason actor at }",
        "employee": " { __typename id employeeNo name }",
        "cycle": " { id name state }",
        "post": " { id code name family }",
    }
    result = st.tuples(selection(result_fields), score).map(lambda pair: pair[0][:-1] + f"indicatorScores {pair[1]} }}")
    employee_fields = {
        "id": "",
        "employeeNo": "",
        "name": "",
        "department": " { id code name parent { id code } }",
        "post": " { id code name family }",
        "manager": " { __typename id employeeNo name manager { id } }",
        "trainingRecords": " { course }",
        "compensationRecords": " { baseSalary }",
    }
    employee = st.tuples(selection(employee_fields), result, cycle).map(
        lambda parts: parts[0][:-1] + f'results {parts[1]} result(cycleId: "{parts[2]}") {parts[1]} }}'
    )
    grouping_filter = st.fixed_dictionaries(
        {},
        optional={
            "departmentId": st.sampled_from(secrets.departments).map(str),
            "postId": st.sampled_from(secrets.posts).map(str),
            "postFamily": st.sampled_from(secrets.families),
        },
    )
    result_filter = st.tuples(
        grouping_filter,
        st.fixed_dictionaries(
            {},
            # Score thresholds are refused to this analyst (they single people out): drawn, they would only
            # turn examples into refusals.
            optional={"grade": st.sampled_from(["S", "A", "B", "C", "D"])},
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})
    first = st.integers(0, 120)
    after = st.one_of(st.none(), st.sampled_from(analyst.cursors))
    an_id = st.one_of(st.sampled_from(analyst.ids), st.sampled_from(["1", "2", "120", "AAAAAAAAAAAAAAAAAAAAAA"]))
    return st.one_of(
        st.tuples(employee, first, after, grouping_filter).map(
            lambda p: (
                "query($first: Int, $after: String, $f: EmployeeFilter) { employees(first: $first, after: $after, "
                f"filter: $f) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {p[0]} }} }} }}",
                {"first": p[1], "after": p[2], "f": p[3] or None},
            )
        ),
        st.tuples(employee, an_id).map(lambda p: (f"query($id: ID!) {{ employee(id: $id) {p[0]} }}", {"id": p[1]})),
        st.tuples(result, cycle, first, result_filter).map(
            lambda p: (
                "query($c: ID!, $first: Int, $f: ResultFilter) { results(cycleId: $c, first: $first, filter: $f) "
                f"{{ totalCount pageInfo {{ endCursor }} edges {{ cursor node {p[0]} }} }} }}",
                {"c": p[1], "first": p[2], "f": p[3] or None},
            )
        ),
        st.tuples(
            cycle,
            st.lists(st.sampled_from(["DEPARTMENT", "POST", "POST_FAMILY", "GRADE", "CYCLE"]), unique=True),
            result_filter,
        ).map(
            lambda p: (
                "query($c: ID!, $g: [GroupDimension!]!, $f: ResultFilter) { scoreStatistics(cycleId: $c, "
                "groupBy: $g, filter: $f) { key count mean stddev min max p50 p90 } }",
                {"c": p[0], "g": p[1], "f": p[2] or None},
            )
        ),
        st.just(("{ resultEvents(first: 20) { eventId cursor result { id } } }", {})),
        st.just(("{ departments { id code name parent { id } children { id } posts { id code } } }", {})),
        st.tuples(cycle, st.sampled_from(secrets.posts).map(str)).map(
            lambda p: (
                "query($c: ID!, $p: ID!) { schemeDiagnostics(cycleId: $c, postId: $p) { count mean stddev flags } }",
                {"c": p[0], "p": p[1]},
            )
        ),
    )


# --- What no answer may contain --------------------------------------------------------------------------

HEX64 = re.compile(r"[0-9a-f]{64}")
EMPLOYEE_NUMBER = re.compile(r"E\d{6}")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def person_ids(value: Any) -> Iterator[str]:
    """The ids of Employee and AppraisalResult objects in an answer."""
    if isinstance(value, dict):
        if value.get("__typename") in PERSON_TYPES and isinstance(value.get("id"), str):
            yield value["id"]
        for item in value.values():
            yield from person_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from person_ids(item)


def a_key_cursor(text: str) -> bool:
    """Is this base64 of ``employee:N``, ``result:N`` or ``event:N`` (the hub's published cursor format)?"""
    if len(text) > 200:
        return False
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    kind, _, number = decoded.partition(":")
    return kind in CURSOR_KINDS and number.isdigit()


def leaks(body: dict[str, Any], secrets: Secrets) -> list[str]:
    found: list[str] = []
    for text in strings(body):
        found += [match for match in EMPLOYEE_NUMBER.findall(text) if match in secrets.numbers]
        found += [match for match in HEX64.findall(text) if match in secrets.checksums]
        found += [name for name in secrets.names if name in text]
        if a_key_cursor(text):
            found.append(text)
    found += [value for value in person_ids(body.get("data")) if value.isdigit()]
    return found


@FUZZ
@given(data=st.data())
def test_no_answer_to_the_analyst_maps_to_a_person(analyst: Analyst, data: st.DataObject) -> None:
    query, variables = data.draw(queries(analyst))
    response = analyst.http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code < 500, response.text
    body = response.json()
    assert body.get("data") is not None or body.get("errors"), body
    event("answered with data" if body.get("data") else "refused")
    found = leaks(body, analyst.secrets)
    assert not found, (query, variables, found, response.text[:2000])


def test_the_checks_see_what_hr_sees(served_to_read: ServedHub, analyst: Analyst) -> None:
    """The same checks flag an hr_admin's answer: they can fail, and on the formats the hub publishes."""
    headers = {"Authorization": f"Bearer {served_to_read.token('hr_admin')}"}
    query = """{ employees(first: 3) { edges { cursor node { __typename id employeeNo name
      results { __typename id indicatorScores { provenance { checksum } } } } } } }"""
    body = httpx.post(served_to_read.url, json={"query": query}, headers=headers, timeout=30).json()
    found = leaks(body, analyst.secrets)
    assert any(EMPLOYEE_NUMBER.fullmatch(item) for item in found)
    assert any(a_key_cursor(item) for item in found)
    assert any(HEX64.fullmatch(item) for item in found)
    assert any(item.isdigit() for item in found)
    assert any(item in analyst.secrets.names for item in found)
