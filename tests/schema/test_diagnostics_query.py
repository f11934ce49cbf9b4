"""schemeDiagnostics over GraphQL: one entry per scheme item of the post's pinned scheme."""

from __future__ import annotations

from hub.demo.organisation import SeedSummary
from tests.conftest import GraphQLClient

QUERY = """
query($cycle: ID!, $post: ID!) {
  schemeDiagnostics(cycleId: $cycle, postId: $post) {
    indicatorVersion { indicator { code } }
    count mean stddev ceilingShare floorShare correlation missingRate flags
  }
}
"""


async def test_diagnostics_cover_every_item_of_the_pinned_scheme(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    """For the published past cycle, each indicator of a finance post's scheme gets its statistics."""
    cycle = str(seeded.past_cycle_id)
    results = await app_client.data(
        'query($c: ID!) { results(cycleId: $c, first: 1, filter: {postFamily: "FINANCE"}) '
        "{ edges { node { post { id } schemeVersion { items { indicatorVersion { indicator { code } } } } } } } }",
        {"c": cycle},
    )
    node = results["results"]["edges"][0]["node"]
    data = await app_client.data(QUERY, {"cycle": cycle, "post": node["post"]["id"]})
    codes = [entry["indicatorVersion"]["indicator"]["code"] for entry in data["schemeDiagnostics"]]
    assert codes == [item["indicatorVersion"]["indicator"]["code"] for item in node["schemeVersion"]["items"]]
    for entry in data["schemeDiagnostics"]:
        assert entry["count"] > 0
        assert 0 <= entry["ceilingShare"] <= 1 and 0 <= entry["floorShare"] <= 1 and 0 <= entry["missingRate"] <= 1
        assert isinstance(entry["flags"], list)
