"""The demo's own webhook receiver: loopback allowed for exactly the training system the hub started, in demo mode
only; a production hub (PERFHUB_DEMO=false) refuses it whatever PERFHUB_DEMO_WEBHOOK_TARGETS says."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import WebhookEndpoint
from hub.demo.loop import DEMO_ACTOR, demo_receiver
from hub.operations.commands import Caller
from hub.operations.errors import BadWebhookUrl
from hub.webhooks import registry
from hub.webhooks.addresses import TargetPolicy
from hub.webhooks.registry import WebhookEndpointCreateInput
from tests.conftest import make_settings

TRAINING = "http://127.0.0.1:8766"


async def register(sessionmaker: async_sessionmaker[AsyncSession], url: str, policy: TargetPolicy) -> None:
    command = WebhookEndpointCreateInput(url=url, event_types=("training.need",))
    await registry.create_endpoint(sessionmaker, command, Caller("test"), policy)


async def test_only_the_demos_own_receiver_is_exempt_and_only_in_demo_mode(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    production = TargetPolicy.of(
        make_settings(demo=False, demo_webhook_targets=(TRAINING,), webhook_allow_private_addresses=False)
    )
    with pytest.raises(BadWebhookUrl, match="https"):
        await register(sessionmaker, f"{TRAINING}/webhooks/perfhub", production)
    with pytest.raises(BadWebhookUrl, match="not public"):
        await register(sessionmaker, "https://127.0.0.1:8766/webhooks/perfhub", production)

    demo = TargetPolicy.of(
        make_settings(demo=True, demo_webhook_targets=(TRAINING,), webhook_allow_private_addresses=False)
    )
    await register(sessionmaker, f"{TRAINING}/webhooks/perfhub", demo)
    for elsewhere in (
        "http://127.0.0.1:8767/webhooks/perfhub",
        "http://localhost:8766/",
        "http://[::1]:8766/",
        # The receiver's origin, another path: the sandbox's fault switch is not the demo's receiver.
        f"{TRAINING}/_faults",
        f"{TRAINING}/",
        f"{TRAINING}/webhooks/perfhub/../../_faults",
        f"{TRAINING}/webhooks/perfhub?x=1",
    ):
        with pytest.raises(BadWebhookUrl, match="not public"):
            await register(sessionmaker, elsewhere, demo)


async def test_a_restarted_demo_points_its_endpoint_at_the_new_port_with_the_same_secret_and_cursor(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = make_settings(database_url=database_url, demo=True, demo_webhook_targets=(TRAINING,))
    secret, last = await demo_receiver(first, TRAINING)
    assert secret.startswith("whsec_") and last > 0  # the seed published a cycle
    moved = "http://127.0.0.1:9911"
    again, _ = await demo_receiver(
        make_settings(database_url=database_url, demo=True, demo_webhook_targets=(moved,)), moved
    )
    async with sessionmaker() as session:
        rows = (await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.created_by == DEMO_ACTOR))).all()
    assert again == secret
    assert [(row.url, row.event_types, row.enabled, row.enqueued_up_to) for row in rows] == [
        (f"{moved}/webhooks/perfhub", ["training.need"], True, last)
    ]
