"""hr_admin's webhook endpoints: register, rotate the secret, disable and enable, replay from a cursor.

Each is an operation like the hub's others (``hub/operations``): one transaction, every check before the
first write, a typed error, the audit entry last. The secret is generated here and returned once, by
the operation that made it; the endpoint's record (``EndpointRecord``) never carries it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Cycle, Post, ResultEvent, WebhookDelivery, WebhookEndpoint
from hub.events.outbox import RESULT_PUBLISHED, RESULT_REVISED, TRAINING_NEED
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import BadWebhookUrl, InvalidInput, NotFound, UnknownEventType
from hub.webhooks.addresses import HttpsRequired, TargetPolicy, TargetRefused, Unresolvable
from hub.webhooks.queue import PENDING, add_deliveries, matching
from hub.webhooks.signing import new_secret, parse_event_cursor

EVENT_TYPES = (RESULT_PUBLISHED, RESULT_REVISED, TRAINING_NEED)
"""The event types an endpoint may subscribe to: those the outbox carries."""
MAX_URL_CHARS = 2000
MAX_GRACE_SECONDS = 7 * 24 * 3600
EndpointId = Annotated[int, IdOf("webhook endpoint")]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpointCreateInput:
    url: str = described(
        "Where events are POSTed: an absolute https URL whose host is a public address (http and private "
        "addresses only where the deployment allows them)."
    )
    event_types: tuple[str, ...] = described(
        "The event types to receive: result.published, result.revised, training.need."
    )
    cycle_id: Annotated[int, IdOf("cycle")] | None = described(
        "Only the events of this cycle; all cycles when omitted.", default=None
    )
    post_family: str | None = described(
        "Only the events of results of posts of this family (e.g. ENGINEERING); every family when omitted.",
        default=None,
    )


@dataclass(frozen=True, slots=True)
class WebhookSecretRotate:
    endpoint_id: EndpointId
    grace_seconds: int = described(
        "How long the old secret still signs (both signatures are sent), so the receiver can switch; "
        "0..604800, default one day.",
        default=86400,
    )


@dataclass(frozen=True, slots=True)
class WebhookEndpointDisable:
    endpoint_id: EndpointId


@dataclass(frozen=True, slots=True)
class WebhookEndpointEnable:
    endpoint_id: EndpointId


@dataclass(frozen=True, slots=True)
class WebhookReplay:
    endpoint_id: EndpointId
    from_cursor: str | None = described(
        "Re-send the endpoint's events after this event cursor (an event's perfhubcursor, or a resultEvents "
        "cursor); from the start of the stream when omitted. Delivered and dead ones are sent again.",
        default=None,
    )


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """An endpoint as hr_admin sees it: never its secret."""

    id: int
    url: str
    event_types: list[str]
    cycle_id: int | None
    post_family: str | None
    enabled: bool
    disabled_reason: str | None
    previous_secret_valid_until: dt.datetime | None
    created_at: dt.datetime
    created_by: str
    pending: int = 0
    """Deliveries by state, where the reader counted them (the operations do not)."""
    delivered: int = 0
    dead: int = 0

    @classmethod
    def of(cls, row: WebhookEndpoint) -> EndpointRecord:
        return cls(
            row.id,
            row.url,
            list(row.event_types),
            row.cycle_id,
            row.post_family,
            row.enabled,
            row.disabled_reason,
            row.previous_secret_until if row.previous_secret is not None else None,
            row.created_at,
            row.created_by,
        )


@dataclass(frozen=True, slots=True)
class WithSecret:
    """What creating an endpoint or rotating its secret returns: the only time the secret is shown."""

    endpoint: EndpointRecord
    secret: str


def checked_url(url: str) -> str:
    text = url.strip()
    if len(text) > MAX_URL_CHARS:
        raise BadWebhookUrl(f"the URL is longer than {MAX_URL_CHARS} characters", field="url")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as error:
        raise BadWebhookUrl(f"not a URL: {error}", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhookUrl(f"not an absolute http or https URL: {text[:80]!r}", field="url")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise BadWebhookUrl("the URL may carry no user name, password or #fragment", field="url")
    del port
    return text


def _checked_event_types(event_types: tuple[str, ...]) -> list[str]:
    if not event_types:
        raise UnknownEventType(f"name at least one event type of {', '.join(EVENT_TYPES)}", field="eventTypes")
    unknown = [event_type for event_type in event_types if event_type not in EVENT_TYPES]
    if unknown:
        raise UnknownEventType(
            f"unknown event type {unknown[0][:64]!r}; the hub sends {', '.join(EVENT_TYPES)}", field="eventTypes"
        )
    return sorted(set(event_types), key=EVENT_TYPES.index)


async def _locked(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update())
    if endpoint is None:
        raise NotFound("webhook endpoint", str(endpoint_id), field="endpointId")
    return endpoint


async def _allowed_target(url: str, policy: TargetPolicy) -> None:
    try:
        await policy.check(url)
    except HttpsRequired:
        raise BadWebhookUrl("the URL must be https", field="url") from None
    except TargetRefused:
        raise BadWebhookUrl(
            "the URL's host is, or resolves to, an address that is not public (loopback, private, link-local, "
            "multicast or reserved); PERFHUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES allows it",
            field="url",
        ) from None
    except Unresolvable:
        raise BadWebhookUrl("the URL's host does not resolve", field="url") from None


async def create_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: WebhookEndpointCreateInput,
    caller: Caller,
    policy: TargetPolicy,
) -> WithSecret:
    """Registers an endpoint; it receives the events published from now on (``webhookReplay`` sends older ones).

    The URL's target is checked against the policy before the transaction: a slow resolver holds no lock.
    """
    url = checked_url(command.url)
    await _allowed_target(url, policy)
    event_types = _checked_event_types(command.event_types)
    family = command.post_family.strip() if command.post_family is not None else None
    async with sessionmaker() as session, session.begin():
        if command.cycle_id is not None and await session.get(Cycle, command.cycle_id) is None:
            raise NotFound("cycle", str(command.cycle_id), field="cycleId")
        if family is not None and await session.scalar(select(Post.id).where(Post.family == family).limit(1)) is None:
            raise InvalidInput(f"no post has the family {family[:64]!r}", field="postFamily")
        secret = new_secret()
        endpoint = WebhookEndpoint(
            url=url,
            event_types=event_types,
            cycle_id=command.cycle_id,
            post_family=family,
            secret=secret,
            enabled=True,
            enqueued_up_to=await session.scalar(select(func.coalesce(func.max(ResultEvent.id), 0))),
            created_at=caller.now,
            created_by=caller.actor,
        )
        session.add(endpoint)
        await session.flush()
        await audit_change(session, caller.audit, f"webhook:{endpoint.id}")
        return WithSecret(EndpointRecord.of(endpoint), secret)


async def rotate_secret(
    sessionmaker: async_sessionmaker[AsyncSession], command: WebhookSecretRotate, caller: Caller
) -> WithSecret:
    """A new secret; the current one keeps signing, beside it, for the grace period."""
    if not 0 <= command.grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidInput(f"graceSeconds must be between 0 and {MAX_GRACE_SECONDS}", field="graceSeconds")
    async with sessionmaker() as session, session.begin():
        endpoint = await _locked(session, command.endpoint_id)
        secret = new_secret()
        endpoint.previous_secret = endpoint.secret if command.grace_seconds else None
        endpoint.previous_secret_until = (
            caller.now + dt.timedelta(seconds=command.grace_seconds) if command.grace_seconds else None
        )
        endpoint.secret = secret
        await session.flush()
        await audit_change(session, caller.audit, f"webhook:{endpoint.id}")
        return WithSecret(EndpointRecord.of(endpoint), secret)


async def _set_enabled(
    sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: int, caller: Caller, enabled: bool
) -> EndpointRecord:
    async with sessionmaker() as session, session.begin():
        endpoint = await _locked(session, endpoint_id)
        endpoint.enabled = enabled
        endpoint.disabled_reason = None if enabled else f"disabled by {caller.actor} at {caller.now.isoformat()}"
        await session.flush()
        await audit_change(session, caller.audit, f"webhook:{endpoint.id}")
        return EndpointRecord.of(endpoint)


async def disable_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession], command: WebhookEndpointDisable, caller: Caller
) -> EndpointRecord:
    """Stops deliveries to the endpoint; what it has not received waits, and follows when it is enabled."""
    return await _set_enabled(sessionmaker, command.endpoint_id, caller, False)


async def enable_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession], command: WebhookEndpointEnable, caller: Caller
) -> EndpointRecord:
    """Resumes deliveries where they stopped (also after a receiver answered 410 Gone)."""
    return await _set_enabled(sessionmaker, command.endpoint_id, caller, True)


async def replay(sessionmaker: async_sessionmaker[AsyncSession], command: WebhookReplay, caller: Caller) -> int:
    """Queues again the endpoint's events after the cursor (delivered, dead or never made); how many.

    A replayed delivery gets the whole retry schedule again; its attempts go on being numbered.
    """
    after = parse_event_cursor(command.from_cursor, "fromCursor") if command.from_cursor is not None else 0
    async with sessionmaker() as session, session.begin():
        endpoint = await _locked(session, command.endpoint_id)
        wanted = (
            await session.scalars(select(ResultEvent.id).where(*matching(endpoint, after, endpoint.enqueued_up_to)))
        ).all()
        await add_deliveries(session, endpoint.id, wanted, caller.now)
        finished = (
            await session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.endpoint_id == endpoint.id,
                    WebhookDelivery.outbox_id > after,
                    WebhookDelivery.state != PENDING,
                )
            )
        ).all()
        for delivery in finished:
            delivery.state = PENDING
            delivery.round_start = delivery.attempts
            delivery.next_attempt_at = caller.now
            delivery.lease_until = None
        await audit_change(session, caller.audit, f"webhook:{endpoint.id}")
        return len(wanted)
