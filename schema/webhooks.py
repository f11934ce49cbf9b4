"""Webhooks as hr_admin sees them: endpoints (never their secrets) and the delivery log."""

from __future__ import annotations

import datetime as dt

import strawberry

from schema.pagination import PageInfo


@strawberry.type(
    description="An HTTP endpoint that receives result events as signed CloudEvents; its secret is never shown again."
)
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(
        description="The event types it receives (result.published, result.revised)."
    )
    cycle_id: strawberry.ID | None = strawberry.field(description="Only this cycle's events, when set.")
    post_family: str | None = strawberry.field(
        description="Only the events of results of posts of this family, when set."
    )
    enabled: bool = strawberry.field(
        description="False after webhookEndpointDisable, when the receiver answered 410 Gone, or when the URL's "
        "host resolved to an address the hub does not post to."
    )
    disabled_reason: str | None = strawberry.field(description="Why it is disabled, when it is.")
    previous_secret_valid_until: dt.datetime | None = strawberry.field(
        description="Until when the secret before the last rotation still signs too; null when none does."
    )
    created_at: dt.datetime
    created_by: str
    pending: int = strawberry.field(
        description="Deliveries waiting: the next one, retries, and those queued behind them."
    )
    delivered: int
    dead: int = strawberry.field(
        description="Dead letters: deliveries whose last try failed; webhookReplay sends them again."
    )


@strawberry.type(description="One POST of an event to an endpoint.")
class WebhookAttempt:
    event_id: str = strawberry.field(description="The event's id: the webhook-id header and the CloudEvent's id.")
    event_cursor: str = strawberry.field(description="The event's cursor; webhookReplay(fromCursor) starts after it.")
    attempt: int = strawberry.field(description="The attempt's number for this event (1, 2, ...), never reused.")
    status_code: int | None = strawberry.field(description="The receiver's HTTP status; null when it did not answer.")
    error: str | None = strawberry.field(
        description="What failed, when it did: HTTP <status> (the receiver's answer), timeout, unreachable (no "
        "connection), or refused: ... (the hub does not post to that address; the endpoint was disabled)."
    )
    latency_ms: int
    at: dt.datetime
    outcome: str = strawberry.field(
        description="DELIVERED (2xx), RETRYING (tried again at nextAttemptAt), DEAD (the last try failed) or "
        "DISABLED (410 Gone or a refused address: the endpoint was disabled)."
    )
    next_attempt_at: dt.datetime | None = strawberry.field(description="When it is tried again, for RETRYING.")


@strawberry.type
class WebhookAttemptEdge:
    cursor: str
    node: WebhookAttempt


@strawberry.type
class WebhookAttemptConnection:
    edges: list[WebhookAttemptEdge]
    page_info: PageInfo
    total_count: int
