"""GraphQL over HTTP to the letter: graphql-http's audit suite (every MUST, SHOULD and MAY) against the served hub.

The audits run in Node.js (tests/served/js/audit.mjs) with a fetch that adds the hr_admin bearer token to
each request, as an authenticated client of the hub would send it.
"""

from __future__ import annotations

from tests.served.hub_process import ServedHub
from tests.served.node import NodeJS

AUDITS = 61
"""How many server audits graphql-http 1.23 has (package-lock.json pins it): a new version may add some."""


def test_the_served_hub_passes_every_graphql_over_http_audit(served: ServedHub, node: NodeJS) -> None:
    results = node.run_json("audit.mjs", served.url, env={"PERFHUB_TOKEN": served.token("hr_admin")})
    failures = [
        f"{result['status']}: {result['name']} ({result['reason']})" for result in results if result["status"] != "ok"
    ]
    print(f"graphql-http audits: {len(results) - len(failures)} of {len(results)} passed")
    assert not failures, f"{len(failures)} of {len(results)} audits failed:\n" + "\n".join(failures)
    assert len(results) == AUDITS, [result["name"] for result in results]
