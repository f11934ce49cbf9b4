"""The BI export as a BI tool meets it: the served hub's files read back with pyarrow and DuckDB hold what the
API answers the same token, no more, and a request without a valid token is refused."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub.auth import Grant, Role, issue_token
from tests.served.hub_process import ServedHub
from tests.served.people import find_people

RESULTS = """
query($cycle: ID!, $after: String) {
  results(cycleId: $cycle, first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id totalScore grade computedTotal computedGrade calibrated
      rankInPost percentileInPost rankInDepartment percentileInDepartment
      employee { id employeeNo name }
      post { code family }
      indicatorScores { rawValue normalizedScore weight effectiveWeight weightedScore
                        indicatorVersion { version indicator { code unit } } }
    } }
  }
}
"""


def api_results(hub: ServedHub, token: str, cycle: str) -> dict[str, dict[str, Any]]:
    """Every result of the cycle the API lists for the token, by id (denied fields null, as the API answers)."""
    found: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        answer = httpx.post(
            hub.url,
            json={"query": RESULTS, "variables": {"cycle": cycle, "after": after}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()
        page = answer["data"]["results"]
        found.update({edge["node"]["id"]: edge["node"] for edge in page["edges"]})
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def export(hub: ServedHub, token: str | None, path: str, **params: str) -> httpx.Response:
    """An export streamed as a client saving it would."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{hub.base_url}{path}", params=params, headers=headers, timeout=60) as response:
        response.read()
    return response


def parquet_rows(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content))
    return {row["result_id"]: row for row in table.to_pylist()}


def _same_result(exported: dict[str, Any], api: dict[str, Any]) -> None:
    """An exported result row says exactly what the API says of the result."""
    employee = api["employee"]
    post = api["post"] or {}
    assert (exported["employee_id"], exported["employee_no"], exported["employee_name"]) == (
        employee["id"],
        employee["employeeNo"],
        employee["name"],
    )
    assert (exported["post_code"], exported["post_family"]) == (post.get("code"), post.get("family"))
    for column, field in [
        ("total_score", "totalScore"),
        ("grade", "grade"),
        ("computed_total", "computedTotal"),
        ("computed_grade", "computedGrade"),
        ("calibrated", "calibrated"),
        ("rank_in_post", "rankInPost"),
        ("percentile_in_post", "percentileInPost"),
        ("rank_in_department", "rankInDepartment"),
        ("percentile_in_department", "percentileInDepartment"),
    ]:
        assert exported[column] == api[field], (column, exported, api)


def test_the_parquet_export_read_back_with_pyarrow_and_duckdb_holds_the_apis_results(
    served_to_read: ServedHub, tmp_path: Path
) -> None:
    """hr_admin's Parquet export has one row per result the API lists, each with the API's values (scores as the
    API rounds them); DuckDB reads the same file to the same totals; the units are in the field metadata."""
    hub = served_to_read
    token = hub.token("hr_admin")
    cycle = find_people(hub).published_cycle
    api = api_results(hub, token, cycle)
    response = export(hub, token, "/export/results.parquet", cycleId=cycle)
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    rows = parquet_rows(response)
    assert set(rows) == set(api) and len(api) > 100
    for result_id, row in rows.items():
        _same_result(row, api[result_id])
    schema = pq.read_schema(io.BytesIO(response.content))
    metadata = schema.field("total_score").metadata or {}
    assert metadata[b"unit"] == b"points 0-100"
    assert schema.field("total_score").type == pa.float64()

    saved = tmp_path / "results.parquet"
    saved.write_bytes(response.content)
    by_duckdb = (
        duckdb.connect().execute(f"SELECT result_id, total_score, grade FROM read_parquet('{saved}')").fetchall()
    )
    assert {result_id: (total, grade) for result_id, total, grade in by_duckdb} == {
        result_id: (node["totalScore"], node["grade"]) for result_id, node in api.items()
    }


def test_the_csv_export_names_units_in_its_header_and_duckdb_reads_it(
    served_to_read: ServedHub, tmp_path: Path
) -> None:
    """The CSV's header row names each column with its unit; DuckDB reads the file to the API's totals."""
    hub = served_to_read
    token = hub.token("hr_admin")
    cycle = find_people(hub).published_cycle
    response = export(hub, token, "/export/results.csv", cycleId=cycle, grade="A")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    header = response.text.splitlines()[0]
    assert '"total_score (points 0-100)"' in header and '"percentile_in_post (percentile rank 0-100)"' in header
    saved = tmp_path / "results.csv"
    saved.write_bytes(response.content)
    read = (
        duckdb.connect()
        .execute(f"SELECT result_id, \"total_score (points 0-100)\", grade FROM read_csv('{saved}')")
        .fetchall()
    )
    api = api_results(hub, token, cycle)
    assert {str(result_id): total for result_id, total, _ in read} == {
        result_id: node["totalScore"] for result_id, node in api.items() if node["grade"] == "A"
    }
    assert {grade for _, _, grade in read} == {"A"}


def test_the_indicator_scores_export_holds_each_results_indicator_scores(served_to_read: ServedHub) -> None:
    """One row per indicator score of each result, with the API's values, read back with pyarrow and DuckDB."""
    hub = served_to_read
    token = hub.token("hr_admin")
    cycle = find_people(hub).published_cycle
    api = api_results(hub, token, cycle)
    response = export(hub, token, "/export/indicator-scores.parquet", cycleId=cycle)
    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content))
    exported = {
        (row["result_id"], row["indicator_code"]): (row["raw_value"], row["normalized_score"], row["weighted_score"])
        for row in table.to_pylist()
    }
    expected = {
        (result_id, score["indicatorVersion"]["indicator"]["code"]): (
            score["rawValue"],
            score["normalizedScore"],
            score["weightedScore"],
        )
        for result_id, node in api.items()
        for score in node["indicatorScores"]
    }
    assert exported == expected and len(expected) > 500
    database = duckdb.connect()
    database.register("scores", table)  # DuckDB scans the Arrow table pyarrow read, as a notebook would
    assert database.execute("SELECT count(DISTINCT result_id) FROM scores").fetchall() == [(len(api),)]


@pytest.mark.parametrize("who", ["manager", "employee", "analyst", "analyst with names", "payroll"])
def test_an_export_holds_what_the_api_shows_the_same_token(served_to_read: ServedHub, who: str) -> None:
    """Per role, the export's rows are the results the API lists for the token, and each row's names, numbers,
    ids, post and ranks are what the API shows it: a manager's export holds their reach only, an analyst
    without the names grant gets pseudonyms and no names or numbers."""
    hub = served_to_read
    people = find_people(hub)
    role, number, grants = {
        "manager": (Role.MANAGER, people.manager_no, ()),
        "employee": (Role.EMPLOYEE, people.staff_no, ()),
        "analyst": (Role.ANALYST, None, ()),
        "analyst with names": (Role.ANALYST, None, (Grant.NAMES,)),
        "payroll": (Role.PAYROLL, None, ()),
    }[who]
    token = hub.token(role, number, grants)
    api = api_results(hub, token, people.published_cycle)
    rows = parquet_rows(export(hub, token, "/export/results.parquet", cycleId=people.published_cycle))
    assert set(rows) == set(api)
    for result_id, row in rows.items():
        _same_result(row, api[result_id])
    everyone = api_results(hub, hub.token("hr_admin"), people.published_cycle)
    if who == "manager":
        assert 1 < len(rows) < len(everyone)
    if who == "employee":
        assert [row["employee_no"] for row in rows.values()] == [people.staff_no]
    if who == "analyst":
        assert len(rows) == len(everyone)
        assert {(row["employee_no"], row["employee_name"]) for row in rows.values()} == {(None, None)}
        assert not set(rows) & set(everyone)  # pseudonyms, not row keys
        scores = pq.read_table(
            io.BytesIO(export(hub, token, "/export/indicator-scores.parquet", cycleId=people.published_cycle).content)
        )
        # Indicator scores only of results whose post the API shows (it withholds the rest's).
        shown = {result_id for result_id, node in api.items() if node["indicatorScores"] is not None}
        assert set(scores.column("result_id").to_pylist()) == shown


def test_an_analyst_without_names_cannot_narrow_an_export_by_score(served_to_read: ServedHub) -> None:
    """The API's refusals hold for the export: score thresholds are refused to a pseudonymous analyst (400)."""
    hub = served_to_read
    cycle = find_people(hub).published_cycle
    response = export(hub, hub.token("analyst"), "/export/results.csv", cycleId=cycle, minScore="80")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["parameter"] == "minScore", error


def test_an_unknown_post_family_is_refused_not_an_empty_file(served_to_read: ServedHub) -> None:
    """As resultEvents refuses a family no post has, so does the export: a misspelling is 400, not an empty CSV."""
    hub = served_to_read
    cycle = find_people(hub).published_cycle
    response = export(hub, hub.token("hr_admin"), "/export/results.csv", cycleId=cycle, postFamily="NOPE")
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]["parameter"]) == ("unknown post family NOPE", "postFamily")


def test_an_export_without_a_valid_token_is_401(served_to_read: ServedHub) -> None:
    """No token, an expired one, or one not signed by the hub: 401 with a Bearer challenge, and no rows."""
    hub = served_to_read
    cycle = find_people(hub).published_cycle
    expired = issue_token(hub.settings, role=Role.HR_ADMIN, ttl=60, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    for token in (None, expired, "not-a-token"):
        response = export(hub, token, "/export/results.parquet", cycleId=cycle)
        assert response.status_code == 401, (token, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    scim = export(hub, hub.token("scim"), "/export/results.csv", cycleId=cycle)
    assert scim.status_code == 403


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("/export/results.csv", {}, 400, "cycleId"),
        ("/export/results.csv", {"cycleId": "x"}, 400, "cycleId"),
        ("/export/results.csv", {"cycleId": "999999"}, 404, "cycleId"),
        ("/export/results.csv", {"cycleId": "1", "grade": "Z"}, 400, "grade"),
        ("/export/results.csv", {"cycleId": "1", "minScore": "lots"}, 400, "minScore"),
        ("/export/results.csv", {"cycleId": "1", "minScore": "nan"}, 400, "minScore"),
        ("/export/results.csv", {"cycleId": "1", "cycle": "1"}, 400, "cycle"),
        ("/export/results.xlsx", {"cycleId": "1"}, 404, None),
    ],
)
def test_a_bad_export_request_is_refused_naming_what_is_wrong(
    served_to_read: ServedHub, path: str, params: dict[str, str], status: int, parameter: str | None
) -> None:
    """A missing or malformed parameter is 400 naming it, an unknown cycle 404, an unknown export 404."""
    response = export(served_to_read, served_to_read.token("hr_admin"), path, **params)
    assert response.status_code == status, response.text
    error = response.json()["errors"][0]
    assert error["extensions"].get("parameter") == parameter
    assert error["message"]
