"""Reading the organisation through /graphql: employees, departments, posts, indicators, cycles."""

from __future__ import annotations

from hub.demo.organisation import SeedSummary
from tests.conftest import EMPLOYEES, GraphQLClient

PAGE = """
query Page($first: Int, $after: String, $filter: EmployeeFilter) {
  employees(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id employeeNo name department { id name } post { id code family } } }
  }
}
"""


async def test_employees_pages_through_everyone_exactly_once(app_client: GraphQLClient) -> None:
    """Following endCursor visits every employee once, in id order, and the last page says so."""
    seen: list[int] = []
    after = None
    while True:
        data = await app_client.data(PAGE, {"first": 50, "after": after})
        connection = data["employees"]
        assert connection["totalCount"] == EMPLOYEES
        seen.extend(int(edge["node"]["id"]) for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]
    assert len(seen) == EMPLOYEES
    assert seen == sorted(set(seen))


async def test_default_page_size_is_fifty(app_client: GraphQLClient) -> None:
    """`first` defaults to 50 as the contract says."""
    data = await app_client.data("{ employees { edges { node { id } } pageInfo { hasNextPage } } }")
    assert len(data["employees"]["edges"]) == 50
    assert data["employees"]["pageInfo"]["hasNextPage"] is True


async def test_filter_by_post_family_and_department_subtree(app_client: GraphQLClient) -> None:
    """A family filter keeps only that family; the root department's subtree holds everyone."""
    finance = await app_client.data(PAGE, {"first": 500, "filter": {"postFamily": "FINANCE"}})
    families = {edge["node"]["post"]["family"] for edge in finance["employees"]["edges"]}
    assert families == {"FINANCE"}
    assert 0 < finance["employees"]["totalCount"] < EMPLOYEES

    departments = await app_client.data("{ departments { id parent { id } } }")
    root = next(d for d in departments["departments"] if d["parent"] is None)
    everyone = await app_client.data(PAGE, {"first": 1, "filter": {"departmentId": root["id"]}})
    assert everyone["employees"]["totalCount"] == EMPLOYEES


async def test_filter_by_post_and_name(app_client: GraphQLClient) -> None:
    """postId and nameContains narrow the list to matching employees and count them."""
    first = await app_client.data(PAGE, {"first": 1})
    node = first["employees"]["edges"][0]["node"]
    by_post = await app_client.data(PAGE, {"first": 500, "filter": {"postId": node["post"]["id"]}})
    assert {edge["node"]["post"]["id"] for edge in by_post["employees"]["edges"]} == {node["post"]["id"]}
    by_name = await app_client.data(PAGE, {"first": 500, "filter": {"nameContains": node["name"]}})
    assert node["id"] in {edge["node"]["id"] for edge in by_name["employees"]["edges"]}
    assert all(node["name"] in edge["node"]["name"] for edge in by_name["employees"]["edges"])


async def test_unknown_or_malformed_ids_are_null(app_client: GraphQLClient) -> None:
    """An id that names nothing answers null, never an error."""
    data = await app_client.data(
        '{ a: employee(id: "999999") { id } b: employee(id: "not-an-id") { id } c: cycle(id: "-1") { id } }'
    )
    assert data == {"a": None, "b": None, "c": None}


async def test_employee_by_id_with_manager_chain(app_client: GraphQLClient) -> None:
    """An employee answers with department, post and manager, and the chain ends at the top."""
    query = "query($id: ID!) { employee(id: $id) { id employeeNo manager { id } } }"
    page = await app_client.data(PAGE, {"first": 500})
    some_id = page["employees"]["edges"][-1]["node"]["id"]
    hops = 0
    current: str | None = some_id
    while current is not None:
        data = await app_client.data(query, {"id": current})
        assert data["employee"]["id"] == current
        manager = data["employee"]["manager"]
        current = manager["id"] if manager else None
        hops += 1
        assert hops < 10, "the manager chain has a cycle"
    assert hops >= 2


async def test_departments_tree_and_posts(app_client: GraphQLClient) -> None:
    """The department tree has one root with four sections holding the 12 posts of 4 families."""
    data = await app_client.data(
        "{ departments { id name parent { id } children { id } posts { code family department { id } } } }"
    )
    roots = [d for d in data["departments"] if d["parent"] is None]
    assert len(roots) == 1
    assert len(roots[0]["children"]) == 4
    posts = [post for department in data["departments"] for post in department["posts"]]
    assert len(posts) == 12
    assert {post["family"] for post in posts} == {"ADMIN", "FINANCE", "SECURITY", "GENERAL_AFFAIRS"}
    for department in data["departments"]:
        assert all(post["department"]["id"] == department["id"] for post in department["posts"])


async def test_indicators_by_category_with_versions(app_client: GraphQLClient) -> None:
    """Core indicators are MANUAL rating scales; extension ones name a business system and metric."""
    query = """
    query($category: IndicatorCategory) {
      indicators(category: $category) {
        code category direction
        currentVersion { version sourceSystem sourceMetric rule indicator { code } }
        versions { version effectiveFrom effectiveTo changeNote }
      }
    }
    """
    core = (await app_client.data(query, {"category": "CORE"}))["indicators"]
    assert len(core) == 3
    assert {i["currentVersion"]["sourceSystem"] for i in core} == {"MANUAL"}
    assert all(i["currentVersion"]["rule"]["kind"] == "rating" for i in core)
    extension = (await app_client.data(query, {"category": "EXTENSION"}))["indicators"]
    assert len(extension) >= 8
    for indicator in extension:
        version = indicator["currentVersion"]
        assert version["sourceSystem"] != "MANUAL" and version["sourceMetric"]
        assert version["indicator"]["code"] == indicator["code"]
    versioned = [i for i in extension if len(i["versions"]) > 1]
    assert versioned, "the demo has an indicator with a second version"
    first, second = versioned[0]["versions"][:2]
    assert first["effectiveTo"] is not None and first["effectiveTo"] < second["effectiveFrom"]
    assert second["changeNote"]


async def test_post_schemes_weigh_to_one_hundred(app_client: GraphQLClient) -> None:
    """Every post's current scheme weighs 30 core + 70 extension, and its rater weights sum to 100."""
    data = await app_client.data(
        """{ posts { code currentScheme { version post { code }
             items { weight indicatorVersion { indicator { category } } }
             raterWeights { role weight } } schemeVersions { version } } }"""
    )
    for post in data["posts"]:
        scheme = post["currentScheme"]
        assert scheme["post"]["code"] == post["code"]
        core = sum(i["weight"] for i in scheme["items"] if i["indicatorVersion"]["indicator"]["category"] == "CORE")
        total = sum(i["weight"] for i in scheme["items"])
        assert (core, total) == (30, 100)
        assert sum(r["weight"] for r in scheme["raterWeights"]) == 100
        assert scheme["version"] == max(v["version"] for v in post["schemeVersions"])


async def test_cycles_newest_first(app_client: GraphQLClient) -> None:
    """The demo has a past and a current cycle, newest first, each readable by id."""
    data = await app_client.data("{ cycles { id name periodStart periodEnd state } }")
    cycles = data["cycles"]
    assert len(cycles) == 2
    assert cycles[0]["periodStart"] > cycles[1]["periodEnd"]
    assert cycles[0]["state"] == "OPEN"
    one = await app_client.data("query($id: ID!) { cycle(id: $id) { name } }", {"id": cycles[1]["id"]})
    assert one["cycle"]["name"] == cycles[1]["name"]


async def test_ratings_received_hide_peer_raters(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    """A ratee's ratings name the manager but never a peer."""
    page = await app_client.data(
        """query($c: ID!) { employees(first: 100) { edges { node {
             ratingsReceived(cycleId: $c) { role value rater { id } indicatorVersion { indicator { code } } }
           } } } }""",
        {"c": str(seeded.past_cycle_id)},
    )
    ratings = [r for edge in page["employees"]["edges"] for r in edge["node"]["ratingsReceived"]]
    peers = [r for r in ratings if r["role"] == "PEER"]
    managers = [r for r in ratings if r["role"] == "MANAGER"]
    assert peers and managers
    assert all(r["rater"] is None for r in peers)
    assert all(r["rater"] is not None for r in managers)
