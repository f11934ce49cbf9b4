"""Webhook endpoints (hr_admin): register, rotate the secret, disable, enable, replay."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub.operations.commands import Caller
from hub.webhooks import registry
from hub.webhooks.addresses import TargetPolicy
from hub.webhooks.registry import (
    EndpointRecord,
    WebhookEndpointCreateInput,
    WebhookEndpointDisable,
    WebhookEndpointEnable,
    WebhookReplay,
    WebhookSecretRotate,
)
from resolvers import webhooks as webhook_queries
from resolvers.context import Context
from schema.errors import payload
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.webhooks import WebhookEndpoint

SECRET = (
    "The signing secret (whsec_ + base64, the Standard Webhooks format), shown this once: the hub never shows it "
    "again. Give it to the receiver, which verifies webhook-signature with it."
)


@strawberry.type
class WebhookEndpointWithSecret:
    endpoint: EndpointRecord = strawberry.field(graphql_type=WebhookEndpoint)
    secret: str = strawberry.field(description=SECRET)


@strawberry.type
class WebhookEndpointChanged:
    endpoint: EndpointRecord = strawberry.field(graphql_type=WebhookEndpoint)


@strawberry.type
class WebhookReplayQueued:
    endpoint: EndpointRecord = strawberry.field(graphql_type=WebhookEndpoint)
    queued: int = strawberry.field(description="How many events were queued again for the endpoint, in cursor order.")


@strawberry.type
class WebhookSecretRotated:
    endpoint: EndpointRecord = strawberry.field(graphql_type=WebhookEndpoint)
    secret: str = strawberry.field(description=SECRET)
    previous_secret_valid_until: dt.datetime | None = strawberry.field(
        description="Until then every event is signed with both secrets; null when graceSeconds was 0."
    )


WebhookEndpointCreatePayload = payload("WebhookEndpointCreatePayload", WebhookEndpointWithSecret)
WebhookSecretRotatePayload = payload("WebhookSecretRotatePayload", WebhookSecretRotated)
WebhookEndpointPayload = payload("WebhookEndpointPayload", WebhookEndpointChanged)
WebhookReplayPayload = payload("WebhookReplayPayload", WebhookReplayQueued)


@mutation(HR_ONLY, WebhookEndpointCreatePayload)
async def webhook_endpoint_create(
    context: Context, command: WebhookEndpointCreateInput, caller: Caller
) -> WebhookEndpointWithSecret:
    """Registers an endpoint that receives the result events published from now on, each POSTed as a CloudEvents
    1.0 JSON body signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). The answer
    holds the secret, the only time it is shown."""
    made = await registry.create_endpoint(context.sessionmaker, command, caller, TargetPolicy.of(context.settings))
    return WebhookEndpointWithSecret(
        endpoint=await webhook_queries.endpoint(context, made.endpoint.id), secret=made.secret
    )


@mutation(HR_ONLY, WebhookSecretRotatePayload, arguments=True)
async def webhook_secret_rotate(context: Context, command: WebhookSecretRotate, caller: Caller) -> WebhookSecretRotated:
    """Gives the endpoint a new secret, shown this once; for the grace period the old secret signs too (two
    signatures in webhook-signature), so the receiver can switch without rejecting an event."""
    rotated = await registry.rotate_secret(context.sessionmaker, command, caller)
    endpoint = await webhook_queries.endpoint(context, rotated.endpoint.id)
    return WebhookSecretRotated(
        endpoint=endpoint, secret=rotated.secret, previous_secret_valid_until=endpoint.previous_secret_valid_until
    )


async def _changed(context: Context, changed: EndpointRecord) -> WebhookEndpointChanged:
    return WebhookEndpointChanged(endpoint=await webhook_queries.endpoint(context, changed.id))


@mutation(HR_ONLY, WebhookEndpointPayload, arguments=True)
async def webhook_endpoint_disable(
    context: Context, command: WebhookEndpointDisable, caller: Caller
) -> WebhookEndpointChanged:
    """Stops deliveries to the endpoint; its events wait and follow, in order, once it is enabled again."""
    return await _changed(context, await registry.disable_endpoint(context.sessionmaker, command, caller))


@mutation(HR_ONLY, WebhookEndpointPayload, arguments=True)
async def webhook_endpoint_enable(
    context: Context, command: WebhookEndpointEnable, caller: Caller
) -> WebhookEndpointChanged:
    """Resumes deliveries where they stopped, also after the receiver answered 410 Gone."""
    return await _changed(context, await registry.enable_endpoint(context.sessionmaker, command, caller))


@mutation(HR_ONLY, WebhookReplayPayload, arguments=True)
async def webhook_replay(context: Context, command: WebhookReplay, caller: Caller) -> WebhookReplayQueued:
    """Queues the endpoint's events after a cursor again (dead letters too), each with the whole retry schedule;
    they go out in cursor order, with the same event ids, so the receiver can de-duplicate."""
    queued = await registry.replay(context.sessionmaker, command, caller)
    return WebhookReplayQueued(endpoint=await webhook_queries.endpoint(context, command.endpoint_id), queued=queued)
