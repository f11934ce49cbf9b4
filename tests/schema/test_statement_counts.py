"""No N+1: the big portal queries cost the same number of SQL statements for 10 rows as for 100."""

from __future__ import annotations

from typing import Any

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

# The big portal query. Each loader is reached along one path only: a loader reached along
# two paths of different depth may batch once or twice depending on which database answer comes
# back first, which would make the count depend on timing rather than on the number of rows.
PORTAL = """
query Portal($first: Int!, $cycleId: ID!) {
  employees(first: $first) {
    totalCount
    edges { node {
      id name employeeNo
      department { name }
      post {
        name family
        currentScheme { version items { weight indicatorVersion { version indicator { name } } } }
      }
      result(cycleId: $cycleId) {
        totalScore grade rankInPost indicatorScores { normalizedScore weightedScore }
      }
    } }
  }
}
"""

RESULTS_PAGE = """
query Results($first: Int!, $cycleId: ID!) {
  results(cycleId: $cycleId, first: $first) {
    totalCount
    edges { node {
      totalScore grade cycle { name }
      employee { name department { name } }
      post { code }
      indicatorScores {
        rawValue normalizedScore provenance { system metric } indicatorVersion { indicator { name } }
      }
    } }
  }
}
"""


async def _count(app_client: GraphQLClient, query: str, first: int, cycle_id: int) -> tuple[int, dict[str, Any]]:
    app_client.sql.reset()
    data = await app_client.data(query, {"first": first, "cycleId": str(cycle_id)})
    return app_client.sql.count, data


async def _for_10_and_100(app_client: GraphQLClient, query: str, cycle_id: int) -> tuple[int, int, dict[str, Any]]:
    """The statements ``query`` costs for a page of 10 and one of 100, and the page of 100."""
    small, _ = await _count(app_client, query, 10, cycle_id)
    large, data = await _count(app_client, query, 100, cycle_id)
    return small, large, data


async def test_portal_query_statement_count_does_not_grow_with_rows(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """employees(first: N) with department, post, scheme and result: same statements for N=10 and N=100."""
    small, large, large_data = await _for_10_and_100(app_client, PORTAL, seeded.past_cycle_id)
    assert len(large_data["employees"]["edges"]) == 100
    scored = [e for e in large_data["employees"]["edges"] if e["node"]["result"] is not None]
    assert len(scored) > 90, "the past cycle is scored, so the query really loads results and scores"
    assert all(e["node"]["result"]["indicatorScores"] for e in scored)
    assert small == large
    assert large <= 16


async def test_results_page_statement_count_does_not_grow_with_rows(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """results(first: N) with employee, department, post and indicator scores: constant statements."""
    small, large, data = await _for_10_and_100(app_client, RESULTS_PAGE, seeded.past_cycle_id)
    assert len(data["results"]["edges"]) == 100
    assert small == large
