"""Webhook endpoints through GraphQL: hr_admin registers, lists, rotates, disables, enables and replays; the
secret is shown once; bad input is typed; every call is audited; nobody else may."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from tests.conftest import GraphQLClient, make_settings, serving
from tests.hub.webhooks.receiver import receiving

CREATE = """
mutation($url: String!, $types: [String!]!, $cycleId: ID, $family: String) {
  webhookEndpointCreate(input: {url: $url, eventTypes: $types, cycleId: $cycleId, postFamily: $family}) {
    __typename
    ... on WebhookEndpointWithSecret { secret endpoint { id url eventTypes cycleId postFamily enabled pending } }
    ... on MutationError { code field message }
  }
}
"""
ROTATE = """
mutation($id: ID!, $grace: Int!) {
  webhookSecretRotate(endpointId: $id, graceSeconds: $grace) {
    __typename ... on WebhookSecretRotated { secret previousSecretValidUntil } ... on MutationError { code field }
  }
}
"""
TOGGLE = """
mutation($id: ID!) {
  off: webhookEndpointDisable(endpointId: $id) { ... on WebhookEndpointChanged { endpoint { enabled disabledReason } } }
  on: webhookEndpointEnable(endpointId: $id) { ... on WebhookEndpointChanged { endpoint { enabled disabledReason } } }
}
"""
REPLAY = """
mutation($id: ID!, $from: String) {
  webhookReplay(endpointId: $id, fromCursor: $from) {
    __typename ... on WebhookReplayQueued { queued endpoint { pending } } ... on MutationError { code field }
  }
}
"""
LIST = "{ webhookEndpoints { id url enabled pending delivered dead } }"
LOG = "query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount edges { node { eventId attempt } } } }"
PAGE = """
query($id: ID!, $after: String) {
  webhookDeliveries(endpointId: $id, first: 1, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { eventId eventCursor attempt statusCode error latencyMs at outcome nextAttemptAt } }
  }
}
"""
AUDIT = "{ auditLog(first: 20) { edges { node { operation outcome ids } } } }"


async def create(client: GraphQLClient, url: str = "https://payroll.example/hooks", **more: Any) -> dict[str, Any]:
    variables = {"url": url, "types": ["result.published", "result.revised"], **more}
    answer: dict[str, Any] = (await client.data(CREATE, variables))["webhookEndpointCreate"]
    return answer


async def test_an_endpoint_is_registered_with_a_secret_shown_once(app_client: GraphQLClient) -> None:
    made = await create(app_client, family=None)
    assert made["__typename"] == "WebhookEndpointWithSecret"
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    endpoint = made["endpoint"]
    assert endpoint["eventTypes"] == ["result.published", "result.revised"]
    assert (endpoint["enabled"], endpoint["pending"]) == (True, 0)  # only events published from now on

    listed = (await app_client.data(LIST))["webhookEndpoints"]
    assert [row["id"] for row in listed] == [endpoint["id"]]
    assert secret not in str(listed)
    other = await create(app_client)
    assert other["secret"] != secret


@pytest.mark.parametrize(
    ("url", "types", "code", "field"),
    [
        ("ftp://payroll.example/hooks", ["result.published"], "BAD_WEBHOOK_URL", "url"),
        ("/hooks", ["result.published"], "BAD_WEBHOOK_URL", "url"),
        ("https://user:pw@payroll.example/", ["result.published"], "BAD_WEBHOOK_URL", "url"),
        ("https://payroll.example:99999/", ["result.published"], "BAD_WEBHOOK_URL", "url"),
        ("https://payroll.example/", ["result.deleted"], "UNKNOWN_EVENT_TYPE", "eventTypes"),
        ("https://payroll.example/", [], "UNKNOWN_EVENT_TYPE", "eventTypes"),
    ],
)
async def test_bad_input_is_a_typed_error_and_nothing_is_stored(
    app_client: GraphQLClient, url: str, types: list[str], code: str, field: str
) -> None:
    answer = (await app_client.data(CREATE, {"url": url, "types": types}))["webhookEndpointCreate"]
    assert (answer["__typename"], answer["code"], answer["field"]) == ("InvalidInputError", code, field)
    assert (await app_client.data(LIST))["webhookEndpoints"] == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254/latest/meta-data/", "not public"),
        ("https://0x7f000001:8766/healthz", "not public"),
        ("https://localhost:22/", "not public"),
        ("http://93.184.215.14/hooks", "https"),
    ],
)
async def test_a_target_the_hub_must_not_post_to_is_a_typed_error(database_url: str, url: str, message: str) -> None:
    """With private addresses not allowed (the default; the other tests allow them for their loopback receivers)."""
    settings = make_settings(database_url=database_url, webhook_allow_private_addresses=False)
    async with serving(settings) as client:
        answer = await create(client, url=url)
        assert (answer["code"], answer["field"]) == ("BAD_WEBHOOK_URL", "url") and message in answer["message"]
        assert (await client.data(LIST))["webhookEndpoints"] == []


async def test_filters_name_what_exists(app_client: GraphQLClient) -> None:
    missing_cycle = await create(app_client, cycleId="999999")
    assert (missing_cycle["code"], missing_cycle["field"]) == ("NOT_FOUND", "cycleId")
    no_family = await create(app_client, family="NO-SUCH-FAMILY")
    assert (no_family["code"], no_family["field"]) == ("INVALID_INPUT", "postFamily")


async def test_rotate_disable_enable_replay_and_the_audit(app_client: GraphQLClient) -> None:
    endpoint_id = (await create(app_client))["endpoint"]["id"]
    rotated = (await app_client.data(ROTATE, {"id": endpoint_id, "grace": 600}))["webhookSecretRotate"]
    assert rotated["secret"].startswith("whsec_") and rotated["previousSecretValidUntil"] is not None
    no_grace = (await app_client.data(ROTATE, {"id": endpoint_id, "grace": 0}))["webhookSecretRotate"]
    assert no_grace["previousSecretValidUntil"] is None
    too_long = (await app_client.data(ROTATE, {"id": endpoint_id, "grace": 10**7}))["webhookSecretRotate"]
    assert (too_long["code"], too_long["field"]) == ("INVALID_INPUT", "graceSeconds")

    toggled = await app_client.data(TOGGLE, {"id": endpoint_id})
    assert toggled["off"]["endpoint"]["enabled"] is False and toggled["off"]["endpoint"]["disabledReason"]
    assert toggled["on"]["endpoint"] == {"enabled": True, "disabledReason": None}

    replayed = (await app_client.data(REPLAY, {"id": endpoint_id, "from": None}))["webhookReplay"]
    assert replayed["queued"] > 0 and replayed["endpoint"]["pending"] == replayed["queued"]  # the published cycle
    bad_cursor = (await app_client.data(REPLAY, {"id": endpoint_id, "from": "bm90LWEtY3Vyc29y"}))["webhookReplay"]
    assert (bad_cursor["code"], bad_cursor["field"]) == ("INVALID_INPUT", "fromCursor")
    log = (await app_client.data(LOG, {"id": endpoint_id}))["webhookDeliveries"]
    assert log == {"totalCount": 0, "edges": []}  # no worker ran: nothing was attempted yet

    entries = [edge["node"] for edge in (await app_client.data(AUDIT))["auditLog"]["edges"]]
    ours = [(entry["operation"], entry["outcome"]) for entry in entries if f"webhook:{endpoint_id}" in entry["ids"]]
    assert ("webhookEndpointCreate", "ok") in ours and ("webhookReplay", "ok") in ours
    assert sum(operation == "webhookSecretRotate" for operation, _ in ours) == 2


async def test_an_unknown_endpoint_is_not_found(app_client: GraphQLClient) -> None:
    for unknown in ("999999", "nope"):
        answer = (await app_client.data(ROTATE, {"id": unknown, "grace": 0}))["webhookSecretRotate"]
        assert (answer["__typename"], answer["code"], answer["field"]) == ("NotFoundError", "NOT_FOUND", "endpointId")
    assert (await app_client.data(LOG, {"id": "999999"}))["webhookDeliveries"] is None


@pytest.mark.parametrize("role", ["manager", "employee", "analyst", "payroll", "training"])
async def test_nobody_but_hr_admin_may(app_client: GraphQLClient, role: str) -> None:
    endpoint_id = (await create(app_client))["endpoint"]["id"]
    other = app_client.as_principal(role, "E0002" if role in ("manager", "employee") else None)
    body = await other.execute(CREATE, {"url": "https://evil.example/", "types": ["result.published"]})
    assert body["data"] == {"webhookEndpointCreate": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for query, variables in ((LIST, None), (LOG, {"id": endpoint_id}), (REPLAY, {"id": endpoint_id})):
        body = await other.execute(query, variables)
        assert set(body["data"].values()) == {None}
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = (await app_client.data(LIST))["webhookEndpoints"]
    assert len(listed) == 1
    entries = [edge["node"] for edge in (await app_client.data(AUDIT))["auditLog"]["edges"]]
    assert ("webhookEndpointCreate", "denied") in {(entry["operation"], entry["outcome"]) for entry in entries}


async def test_the_served_app_runs_the_worker_when_webhooks_are_on(database_url: str) -> None:
    """perfhub serve's lifespan starts the worker (PERFHUB_WEBHOOKS, on by default; the test settings turn it
    off): an endpoint registered and replayed through the API receives its events without anything else."""
    settings = make_settings(
        database_url=database_url, webhooks=True, webhook_poll_seconds=0.05, webhook_retry_seconds=(0.01,)
    )
    async with receiving() as receiver, serving(settings) as client:
        endpoint_id = (await create(client, url=receiver.url))["endpoint"]["id"]
        last = (await client.data("{ resultEvents(first: 500) { cursor } }"))["resultEvents"][-3]["cursor"]
        assert (await client.data(REPLAY, {"id": endpoint_id, "from": last}))["webhookReplay"]["queued"] == 2
        # Until both attempts are recorded, not just received: the worker logs an attempt after its answer.
        for _ in range(400):
            if (
                len(receiver.hits) == 2
                and (await client.data(LOG, {"id": endpoint_id}))["webhookDeliveries"]["totalCount"] == 2
            ):
                break
            await asyncio.sleep(0.02)
        assert len(receiver.hits) == 2
        pages = [(await client.data(PAGE, {"id": endpoint_id, "after": None}))["webhookDeliveries"]]
        after = pages[0]["pageInfo"]["endCursor"]
        pages.append((await client.data(PAGE, {"id": endpoint_id, "after": after}))["webhookDeliveries"])
    assert [page["totalCount"] for page in pages] == [2, 2]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, False]
    attempts = [edge["node"] for page in pages for edge in page["edges"]]
    assert [attempt["eventId"] for attempt in attempts] == [hit.webhook_id for hit in reversed(receiver.hits)]
    assert all(
        (attempt["attempt"], attempt["statusCode"], attempt["outcome"]) == (1, 204, "DELIVERED") for attempt in attempts
    )
    assert all(attempt["latencyMs"] >= 0 and attempt["nextAttemptAt"] is None for attempt in attempts)
