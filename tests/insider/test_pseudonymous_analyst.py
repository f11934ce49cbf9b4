"""A curious analyst without the names grant, trying to put names back on what the hub shows them.

Each test is one of issue 11's attacks, run as the analyst would run it (in process over HTTP, on
SQLite and PostgreSQL); each would have succeeded before the analyst's view was pseudonymised. The fuzz
of the whole analyst view, against the served hub, is in test_pseudonymous_fuzz.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import create_app
from hub.auth import AuthConfigurationError
from hub.config import Settings
from hub.db.models import AppraisalResult, Department, Employee, IndicatorScore, Post
from hub.demo.organisation import SeedSummary
from hub.pseudonyms import Pseudonyms, pseudonym_key, pseudonyms_for
from tests.conftest import GraphQLClient, make_settings, serving
from tests.hub.test_auth import jwk, jwks_settings, rsa_key, write_jwks

MINIMUM = 5  # PERFHUB_MIN_GROUP_SIZE's default, which these tests run with

IDS = """query($after: String) { employees(first: 50, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"""


@pytest.fixture
async def analyst(app_client: GraphQLClient) -> GraphQLClient:
    return app_client.as_principal("analyst")


async def every_employee_id(client: GraphQLClient) -> tuple[list[str], list[str], int]:
    """Pages through the whole list: (ids in list order, cursors, totalCount)."""
    ids: list[str] = []
    cursors: list[str] = []
    after: str | None = None
    while True:
        page = (await client.data(IDS, {"after": after}))["employees"]
        ids += [edge["node"]["id"] for edge in page["edges"]]
        cursors += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, cursors, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


def decodes_to_a_key(value: str) -> bool:
    """Does this id or cursor give a row key away, as plain digits or as base64 of ``kind:N``?"""
    if value.isdigit():
        return True
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return ":" in text and text.partition(":")[2].isdigit()


async def test_ids_and_cursors_are_keyed_pseudonyms_that_round_trip(
    app_client: GraphQLClient, analyst: GraphQLClient, settings: Settings, seeded: SeedSummary
) -> None:
    ids, cursors, total = await every_employee_id(analyst)
    # Every employee exactly once across the pages, though the order is not the keys'.
    assert total == seeded.employees == len(ids) == len(set(ids))
    assert not any(decodes_to_a_key(value) for value in [*ids, *cursors])
    decoded = [pseudonyms_for(settings).decode("employee", value) for value in ids]
    assert None not in decoded
    keys = [key for key in decoded if key is not None]
    assert keys != sorted(keys), "the list order must not follow the row keys (and so the employee numbers)"
    # What HR sees (row keys, base64 'employee:N' cursors) is what the analyst no longer sees.
    hr_ids, hr_cursors, _ = await every_employee_id(app_client)
    assert all(decodes_to_a_key(value) for value in [*hr_ids, *hr_cursors])
    assert not set(ids) & set(hr_ids)
    # The analyst's id is accepted back, and names the same employee.
    answer = await analyst.data("query($id: ID!) { employee(id: $id) { id } }", {"id": ids[7]})
    assert answer["employee"]["id"] == ids[7]


async def test_another_key_gives_unrelated_ids(settings: Settings) -> None:
    first = Pseudonyms(b"a" * 32)
    second = Pseudonyms(b"b" * 32)
    keys = list(range(1, 121))
    assert not set(first.encode_many("employee", keys)) & set(second.encode_many("employee", keys))
    assert [first.decode("employee", token) for token in first.encode_many("employee", keys)] == keys
    assert all(second.decode("employee", token) is None for token in first.encode_many("employee", keys))
    assert first.decode("result", first.encode("employee", 5)) is None  # kinds do not mix
    # And a deployment's own key: PERFHUB_ID_KEY, else derived from its token secret.
    assert pseudonym_key(make_settings(id_key="k" * 32)) != pseudonym_key(settings)


async def test_ids_differ_between_deployments(database_url: str) -> None:
    seen: list[list[str]] = []
    for key in ("one-deployment-key-0123456789abcdef", "another-deployment-key-0123456789ab"):
        async with serving(make_settings(database_url=database_url, id_key=key)) as hr:
            ids, _, _ = await every_employee_id(hr.as_principal("analyst"))
            seen.append(sorted(ids))
    assert len(seen[0]) == len(seen[1]) > 0
    assert not set(seen[0]) & set(seen[1])


@pytest.mark.parametrize(
    "forged",
    [
        "1",  # a row key in the clear: the analyst must not look people up by key
        base64.urlsafe_b64encode(b"employee:1").decode(),
        "AAAAAAAAAAAAAAAAAAAAAA",  # the shape of a pseudonym, not one of ours
        "x" * 150,  # longer than any pseudonym (past 200 characters the input checks refuse it first)
    ],
)
async def test_forged_ids_and_cursors_are_a_clear_error(analyst: GraphQLClient, forged: str) -> None:
    body = await analyst.execute("query($id: ID!) { employee(id: $id) { id } }", {"id": forged})
    assert body["data"] == {"employee": None}
    assert [error["extensions"] for error in body["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "id"}]
    body = await analyst.execute(IDS, {"after": forged})
    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [{"code": "BAD_USER_INPUT", "argument": "after"}]


def brute_force(system: str, metric: str, start: str, end: str, value: float, checksum: str) -> str | None:
    """The employee number whose published checksum (hub.demo.values / hub.operations.collect) is this one,
    trying every number from E000001 to E999999 as the issue's insider did."""
    record = {"employee_no": "@NUMBER@", "metric": metric, "period": f"{start}/{end}", "system": system, "value": value}
    head, _, tail = json.dumps(record, sort_keys=True, separators=(",", ":")).partition("@NUMBER@")
    prefix = hashlib.sha256(head.encode())
    for number in range(1, 1_000_000):
        attempt = prefix.copy()
        attempt.update(f"E{number:06d}{tail}".encode())
        if attempt.hexdigest() == checksum:
            return f"E{number:06d}"
    return None


CHECKSUMS = """query($c: ID!) { results(cycleId: $c, first: 3) { edges { node {
  cycle { periodStart periodEnd }
  indicatorScores { rawValue provenance { system metric checksum } } } } } }"""


async def test_a_checksum_brute_force_over_every_employee_number_re_identifies_no_one(
    app_client: GraphQLClient,
    analyst: GraphQLClient,
    seeded: SeedSummary,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    def samples(data: dict[str, Any]) -> list[tuple[str, str, str, str, float, str]]:
        found = []
        for edge in data["results"]["edges"]:
            cycle = edge["node"]["cycle"]
            for score in edge["node"]["indicatorScores"]:
                provenance = score["provenance"]
                if provenance and provenance["checksum"] and score["rawValue"] is not None:
                    found.append(
                        (
                            provenance["system"],
                            provenance["metric"],
                            cycle["periodStart"],
                            cycle["periodEnd"],
                            score["rawValue"],
                            provenance["checksum"],
                        )
                    )
        return found

    cycle = {"c": str(seeded.past_cycle_id)}
    # The attack works on the plain checksums HR sees: the first one gives its employee number away.
    hr_sample = samples(await app_client.data(CHECKSUMS, cycle))[0]
    assert brute_force(*hr_sample) is not None
    analyst_samples = samples(await analyst.data(CHECKSUMS, cycle))
    assert len(analyst_samples) >= 3
    for sample in analyst_samples[:2]:
        assert brute_force(*sample) is None
    # The analyst's checksums are HMACs of the stored ones under the deployment's key: still equal for
    # equal data, and of no use without the key.
    async with sessionmaker() as session:
        checksums = (await session.scalars(select(IndicatorScore.provenance_checksum))).all()
    stored = {checksum for checksum in checksums if checksum is not None}
    keyed = {pseudonyms_for(settings).checksum(value) for value in stored}
    assert {sample[5] for sample in analyst_samples} <= keyed
    assert not {sample[5] for sample in analyst_samples} & stored


async def test_no_manager_links_and_no_result_stream(analyst: GraphQLClient, app_client: GraphQLClient) -> None:
    body = await analyst.execute("{ employees(first: 500) { edges { node { id manager { id } } } } }")
    nodes = [edge["node"] for edge in body["data"]["employees"]["edges"]]
    assert len(nodes) == 120 and all(node["manager"] is None for node in nodes)
    denied = [error for error in body["errors"] if error["path"][-1] == "manager"]
    assert len(denied) == 120 and {error["extensions"]["code"] for error in denied} == {"FORBIDDEN"}
    named = app_client.as_principal("analyst", grants=["names"])
    drawn = await named.data("{ employees(first: 500) { edges { node { manager { id } } } } }")
    assert sum(edge["node"]["manager"] is not None for edge in drawn["employees"]["edges"]) == 119
    body = await analyst.execute("{ resultEvents(first: 5) { eventId cursor } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _cells(sessionmaker: async_sessionmaker[AsyncSession], cycle: int) -> dict[tuple[str, str], int]:
    """Results per (department code, post code) in a cycle, counted by the test's own SQL."""
    statement = (
        select(Department.code, Post.code, func.count())
        .select_from(AppraisalResult)
        .join(Department, Department.id == AppraisalResult.department_id)
        .join(Post, Post.id == AppraisalResult.post_id)
        .where(AppraisalResult.cycle_id == cycle)
        .group_by(Department.code, Post.code)
    )
    async with sessionmaker() as session:
        return {(row[0], row[1]): row[2] for row in await session.execute(statement)}


STATISTICS = """query($c: ID!, $g: [GroupDimension!]!, $f: ResultFilter) {
  scoreStatistics(cycleId: $c, groupBy: $g, filter: $f) { key count mean withheld } }"""


async def statistics(client: GraphQLClient, cycle: int, group_by: list[str], **filter_: Any) -> list[dict[str, Any]]:
    """The released groups: a withheld one is listed with its size and reason only (and no mean)."""
    data = await client.data(STATISTICS, {"c": str(cycle), "g": group_by, "f": filter_ or None})
    groups: list[dict[str, Any]] = data["scoreStatistics"]
    assert all(group["mean"] is None for group in groups if group["withheld"] is not None)
    return [{**group, "withheld": None} for group in groups if group["withheld"] is None]


def remainders(parents: list[dict[str, Any]], children: list[dict[str, Any]], position: int) -> list[int]:
    """For each released parent, its count minus the counts of its released children: what differencing
    isolates. ``position`` is where the parent's key sits in the child's key."""
    return [
        parent["count"] - sum(child["count"] for child in children if child["key"][position] == parent["key"][0])
        for parent in parents
    ]


async def test_sibling_subtraction_isolates_no_group_below_the_minimum(
    analyst: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.past_cycle_id
    cells = await _cells(sessionmaker, cycle)
    departments: dict[str, int] = {}
    for (department, _), count in cells.items():
        departments[department] = departments.get(department, 0) + count
    # The demo has what the issue's insider found: a one-person department (the head's) among large ones.
    assert min(departments.values()) == 1
    total = await statistics(analyst, cycle, ["CYCLE"])
    # The people of cells below the minimum are left out of every figure (the head among them).
    assert [group["count"] for group in total] == [sum(count for count in cells.values() if count >= MINIMUM)]
    by_department = await statistics(analyst, cycle, ["DEPARTMENT"])
    assert by_department and all(group["count"] >= MINIMUM for group in by_department)
    # The total minus the released departments is a group of at least the minimum, never the head alone.
    assert all(
        rest == 0 or rest >= MINIMUM for rest in remainders(total, [{**g, "key": ["x"]} for g in by_department], 0)
    )
    # The same one level down: each post family minus its released (family, department) cells.
    families = await statistics(analyst, cycle, ["POST_FAMILY"])
    cells_released = await statistics(analyst, cycle, ["POST_FAMILY", "DEPARTMENT"])
    assert families and all(group["count"] >= MINIMUM for group in [*families, *cells_released])
    assert all(rest == 0 or rest >= MINIMUM for rest in remainders(families, cells_released, 0))
    departments_released = await statistics(analyst, cycle, ["DEPARTMENT"])
    assert all(rest == 0 or rest >= MINIMUM for rest in remainders(departments_released, cells_released, 1))
    # A filter by family is a slice of the same table, so it cannot be subtracted from it either.
    for family in families:
        sliced = await statistics(analyst, cycle, ["DEPARTMENT"], postFamily=family["key"][0])
        expected = [{"key": [c["key"][1]], **{k: c[k] for k in ("count", "mean", "withheld")}} for c in cells_released]
        assert all(group in expected for group in sliced)
    # A department subtree filter could be subtracted from its parent's: refused below hr_admin.
    body = await analyst.execute(STATISTICS, {"c": str(cycle), "g": ["POST"], "f": {"departmentId": "2"}})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}


async def test_max_score_bisection_is_refused(analyst: GraphQLClient, seeded: SeedSummary) -> None:
    """The issue's attack narrowed maxScore until a small group's count dropped: score thresholds are refused to
    a pseudonymous analyst (test_pseudonymous_differencing.py has the rest of the threshold attacks)."""
    for group_by in (["DEPARTMENT", "POST"], ["DEPARTMENT"]):
        body = await analyst.execute(STATISTICS, {"c": str(seeded.past_cycle_id), "g": group_by, "f": {"maxScore": 50}})
        assert body["data"] == {"scoreStatistics": None}
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}


PEOPLE = """query($after: String) { employees(first: 500, after: $after) { edges { node {
  id department { code } post { code } } } } }"""


async def test_small_groups_lose_their_grouping_fields_and_filters(
    analyst: GraphQLClient,
    app_client: GraphQLClient,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: SeedSummary,
) -> None:
    async with sessionmaker() as session:
        people = (await session.execute(select(Employee.id, Employee.department_id, Employee.post_id))).all()
    sizes: dict[tuple[int, int], int] = {}
    for person in people:
        sizes[(person.department_id, person.post_id)] = sizes.get((person.department_id, person.post_id), 0) + 1
    singled_out = {p.id for p in people if sizes[(p.department_id, p.post_id)] < MINIMUM}
    assert 0 < len(singled_out) < len(people)
    body = await analyst.execute(PEOPLE)
    pseudonyms = pseudonyms_for(settings)
    for edge in body["data"]["employees"]["edges"]:
        node = edge["node"]
        key = pseudonyms.decode("employee", node["id"])
        withheld = key in singled_out
        assert (node["department"] is None) is withheld and (node["post"] is None) is withheld
    denied = [error for error in body["errors"] if error["path"][-1] in ("department", "post")]
    assert len(denied) == 2 * len(singled_out)
    assert {error["extensions"]["code"] for error in denied} == {"FORBIDDEN"}
    # HR sees every department and post.
    hr = await app_client.data(PEOPLE)
    assert all(edge["node"]["department"] and edge["node"]["post"] for edge in hr["employees"]["edges"])
    # A filter that picks out a small group is refused; the lists stand for large ones.
    async with sessionmaker() as session:
        parents = set((await session.scalars(select(Department.parent_id))).all())
    # Few share their (leaf) department and post: a department filter means the subtree.
    lonely = next(p for p in people if sizes[(p.department_id, p.post_id)] < MINIMUM and p.department_id not in parents)
    post_size = sum(1 for p in people if p.post_id == lonely.post_id)
    for query, variables in (
        ("query($f: EmployeeFilter) { employees(filter: $f) { totalCount } }", {}),
        (
            "query($f: ResultFilter, $c: ID!) { results(cycleId: $c, filter: $f) { totalCount } }",
            {"c": str(seeded.past_cycle_id)},
        ),
    ):
        small_post = await analyst.execute(query, {**variables, "f": {"postId": str(lonely.post_id)}})
        if post_size < MINIMUM:
            assert small_post["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}
        both = {"postId": str(lonely.post_id), "departmentId": str(lonely.department_id)}
        body = await analyst.execute(query, {**variables, "f": both})
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}
        assert "errors" not in await app_client.execute(query, {**variables, "f": both})  # HR may
    # A result of a small group keeps its score but not its post, ranks and percentiles.
    results = await analyst.execute(
        """query($c: ID!) { results(cycleId: $c, first: 500) { edges { node {
          totalScore post { code } rankInPost percentileInPost rankInDepartment percentileInDepartment } } } }""",
        {"c": str(seeded.past_cycle_id)},
    )
    nodes = [edge["node"] for edge in results["data"]["results"]["edges"]]
    hidden = [node for node in nodes if node["post"] is None]
    assert hidden and all(node["totalScore"] is not None for node in hidden)
    assert all(node[field] is None for node in hidden for field in ("rankInPost", "rankInDepartment"))
    # A shown row keeps its ranks where no row of the rank group is withheld (tests/insider/test_pseudonymous_ranks.py).
    assert any(node["rankInPost"] is not None for node in nodes if node["post"] is not None)


async def test_a_withheld_post_is_not_named_by_the_scheme_or_the_indicators(
    analyst: GraphQLClient, app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """The insider review's attack: a result whose post is withheld named it through schemeVersion.post (and
    its indicator scores named the scheme). Where post is withheld, so are both; elsewhere they stay."""
    query = """query($c: ID!) { results(cycleId: $c, first: 500) { edges { node {
      post { code } schemeVersion { post { code } } indicatorScores { indicatorVersion { id } }
      completeness { percent } } } } }"""
    body = await analyst.execute(query, {"c": str(seeded.past_cycle_id)})
    nodes = [edge["node"] for edge in body["data"]["results"]["edges"]]
    hidden = [node for node in nodes if node["post"] is None]
    shown = [node for node in nodes if node["post"] is not None]
    assert hidden and shown
    assert all(node["schemeVersion"] is None and node["indicatorScores"] is None for node in hidden)
    assert all(node["schemeVersion"]["post"] == node["post"] and node["indicatorScores"] for node in shown)
    # A result's completeness (the share of its scheme's weight that had a value) tells the scheme too.
    assert all(node["completeness"] is None for node in hidden)
    assert all(node["completeness"]["percent"] > 0 for node in shown)
    denied = [error["path"][-1] for error in body["errors"]]
    assert denied.count("schemeVersion") == denied.count("indicatorScores") == denied.count("post") == len(hidden)
    assert denied.count("completeness") == len(hidden)
    hr = await app_client.data(query, {"c": str(seeded.past_cycle_id)})
    assert all(edge["node"]["schemeVersion"] for edge in hr["results"]["edges"])


def test_a_deployment_without_a_pseudonym_key_does_not_start(tmp_path: Path) -> None:
    """Tokens verified by a JWKS leave no secret to derive the key from: PERFHUB_ID_KEY, or no start."""
    path = write_jwks(tmp_path / "jwks.json", jwk(rsa_key().public_key(), "idp-1", "RS256"))
    with pytest.raises(AuthConfigurationError, match="PERFHUB_ID_KEY"):
        create_app(jwks_settings(jwks_file=path))
    with pytest.raises(AuthConfigurationError, match="at least 32 bytes"):
        create_app(jwks_settings(jwks_file=path, id_key="short"))
    create_app(jwks_settings(jwks_file=path, id_key="an-id-key-of-this-deployment-0123456789"))


async def test_diagnostics_of_a_post_scored_for_few_people_are_withheld(
    analyst: GraphQLClient,
    app_client: GraphQLClient,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        counts = (
            await session.execute(
                select(AppraisalResult.post_id, func.count())
                .where(AppraisalResult.cycle_id == seeded.past_cycle_id)
                .group_by(AppraisalResult.post_id)
            )
        ).all()
    few = next(post for post, count in counts if count < MINIMUM)
    many = next(post for post, count in counts if count >= MINIMUM)
    query = "query($c: ID!, $p: ID!) { schemeDiagnostics(cycleId: $c, postId: $p) { count mean } }"
    cycle = str(seeded.past_cycle_id)
    # The issue's one-person group: its means would be that person's indicator scores.
    body = await analyst.execute(query, {"c": cycle, "p": str(few)})
    assert body["data"] == {"schemeDiagnostics": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    hr = await app_client.data(query, {"c": cycle, "p": str(few)})
    assert hr["schemeDiagnostics"] and any(item["mean"] is not None for item in hr["schemeDiagnostics"])
    answered = (await analyst.data(query, {"c": cycle, "p": str(many)}))["schemeDiagnostics"]
    assert answered
    assert all((item["mean"] is None) is (item["count"] < MINIMUM) for item in answered)
