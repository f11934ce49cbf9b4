"""What ``perfhub serve`` does, in demo mode, so that the demo's training and payroll systems close the loop.

It registers (or, after a restart, points at the new port) the webhook endpoint of the sandbox training
system for ``training.need`` events, and finds where the result stream ends, so that the payroll system's
subscription starts with the results published from now on. The endpoint is the demo's own: it is created
by the actor ``demo`` and its loopback address is accepted only because ``PERFHUB_DEMO_WEBHOOK_TARGETS``
names the training system this very hub started (``hub.webhooks.addresses.TargetPolicy``), in demo mode.
"""

from __future__ import annotations

from sqlalchemy import func, select

from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.models import ResultEvent, WebhookEndpoint
from hub.demo.systems.consumers import WEBHOOK_PATH
from hub.events.outbox import TRAINING_NEED
from hub.operations.commands import Caller
from hub.webhooks.addresses import TargetPolicy
from hub.webhooks.registry import WebhookEndpointCreateInput, create_endpoint

DEMO_ACTOR = "demo"
"""Who registers the demo's webhook endpoint (``WebhookEndpoint.created_by``): how a restart finds it again."""


async def demo_receiver(settings: Settings, training_url: str) -> tuple[str, int]:
    """The demo training system's webhook secret, its endpoint registered or re-pointed at ``training_url``, and
    the newest outbox id (0 when the stream is empty)."""
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    url = training_url + WEBHOOK_PATH
    try:
        async with sessionmaker() as session, session.begin():
            endpoint = await session.scalar(
                select(WebhookEndpoint).where(WebhookEndpoint.created_by == DEMO_ACTOR).order_by(WebhookEndpoint.id)
            )
            if endpoint is not None:
                # Same secret and cursor: what was published while the demo was down is delivered now.
                endpoint.url, endpoint.enabled, endpoint.disabled_reason = url, True, None
                secret = endpoint.secret
            last = await session.scalar(select(func.coalesce(func.max(ResultEvent.id), 0)))
        if endpoint is None:
            command = WebhookEndpointCreateInput(url=url, event_types=(TRAINING_NEED,))
            made = await create_endpoint(sessionmaker, command, Caller(DEMO_ACTOR), TargetPolicy.of(settings))
            secret = made.secret
    finally:
        await engine.dispose()
    return secret, int(last or 0)
