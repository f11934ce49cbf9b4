"""Where webhooks may go: public addresses over https unless PERFHUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on,
checked at registration and again before every attempt; and a delivery log that tells no port from another."""

from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import WebhookDelivery, WebhookEndpoint
from hub.operations.errors import BadWebhookUrl
from hub.webhooks import addresses, registry
from hub.webhooks.addresses import TargetPolicy
from hub.webhooks.queue import PENDING
from hub.webhooks.registry import WebhookEndpointCreateInput
from hub.webhooks.worker import WebhookWorker
from tests.conftest import make_settings
from tests.hub.webhooks.test_delivery import CALLER, FAST, LOOPBACK, attempts, endpoint_with_last_events

STRICT = TargetPolicy(allow_private=False, allow_http=False, resolve_timeout=5.0)
PUBLIC = "93.184.215.14"


def resolving_to(monkeypatch: pytest.MonkeyPatch, *found: str) -> list[str]:
    """Every name resolves to ``found`` (nothing: it does not resolve); the names asked are returned."""
    asked: list[str] = []

    def lookup(host: str, port: int | None) -> list[str]:
        asked.append(host)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(found)

    monkeypatch.setattr(addresses, "lookup", lookup)
    return asked


async def endpoints(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0


async def register(sessionmaker: async_sessionmaker[AsyncSession], url: str, policy: TargetPolicy = STRICT) -> None:
    await registry.create_endpoint(
        sessionmaker, WebhookEndpointCreateInput(url=url, event_types=("result.published",)), CALLER, policy
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",  # loopback
        "https://127.8.9.10:8766/graphql",
        "https://[::1]:8766/",
        "https://169.254.169.254/latest/meta-data/",  # link-local: the cloud metadata service
        "https://[fe80::1]/",
        "https://10.1.2.3/",  # private
        "https://172.16.0.9/",
        "https://192.168.1.1/",
        "https://[fd00::1]/",
        "https://100.64.0.1/",  # shared (carrier-grade NAT)
        "https://0.0.0.0/",  # unspecified
        "https://[::]/",
        "https://224.0.0.1/",  # multicast
        "https://[ff0e::1]/",  # multicast of global scope: "global" for ipaddress, still no receiver
        "https://240.0.0.1/",  # reserved
        "https://255.255.255.255/",
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://0x7f000001:8766/healthz",  # the spellings inet_aton (and so the resolver) accepts
        "https://2130706433/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://0xa9.0xfe.0xa9.0xfe/",
    ],
)
async def test_a_url_at_an_address_that_is_not_public_is_refused_and_nothing_is_stored(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    asked = resolving_to(monkeypatch, PUBLIC)  # were a literal taken for a name, it would pass
    before = await endpoints(sessionmaker)
    with pytest.raises(BadWebhookUrl, match="not public") as refused:
        await register(sessionmaker, url)
    assert refused.value.field == "url"
    assert asked == []  # an address is judged as written, without asking the resolver
    assert await endpoints(sessionmaker) == before


async def test_a_name_is_refused_when_any_address_it_resolves_to_is_not_public(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await endpoints(sessionmaker)
    resolving_to(monkeypatch, PUBLIC, "10.0.0.7")
    with pytest.raises(BadWebhookUrl, match="not public"):
        await register(sessionmaker, "https://payroll.test/hooks")
    resolving_to(monkeypatch)
    with pytest.raises(BadWebhookUrl, match="does not resolve"):
        await register(sessionmaker, "https://payroll.test/hooks")
    assert await endpoints(sessionmaker) == before

    asked = resolving_to(monkeypatch, PUBLIC, "2606:4700::1111")
    await register(sessionmaker, "https://payroll.test/hooks")
    await register(sessionmaker, f"https://{PUBLIC}/hooks")
    assert asked == ["payroll.test"]
    assert await endpoints(sessionmaker) == before + 2


async def test_localhost_is_refused_by_its_real_resolution(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(BadWebhookUrl, match="not public"):
        await register(sessionmaker, "https://localhost:22/")


async def test_https_is_required_unless_private_addresses_are_allowed_or_in_demo_mode(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(BadWebhookUrl, match="https"):
        await register(sessionmaker, f"http://{PUBLIC}/hooks")
    assert Settings().webhook_allow_private_addresses is False
    strict = TargetPolicy.of(make_settings(webhook_allow_private_addresses=False))
    assert (strict.allow_http, strict.allow_private) == (False, False)
    demo = TargetPolicy.of(make_settings(webhook_allow_private_addresses=False, demo=True))
    assert (demo.allow_http, demo.allow_private) == (True, False)
    await register(sessionmaker, f"http://{PUBLIC}/hooks", demo)
    with pytest.raises(BadWebhookUrl, match="not public"):
        await register(sessionmaker, "http://127.0.0.1:8766/", demo)
    await register(sessionmaker, "http://127.0.0.1:8766/", LOOPBACK)


async def test_an_address_refused_at_delivery_time_disables_the_endpoint_without_a_post(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name was public when it was registered; it resolves to a private address by the first attempt."""
    resolving_to(monkeypatch, PUBLIC)
    endpoint_id, _, _ = await endpoint_with_last_events(sessionmaker, "https://payroll.test/hooks", 2, STRICT)
    resolving_to(monkeypatch, "192.168.0.10")
    posted: list[httpx.Request] = []
    settings = make_settings(database_url=database_url, webhook_allow_private_addresses=False, **FAST)

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(204)

    worker = WebhookWorker(sessionmaker, settings, httpx.MockTransport(answer))
    try:
        for _ in range(3):
            await worker.step()
    finally:
        await worker.aclose()

    assert posted == []
    log = await attempts(sessionmaker, endpoint_id)
    assert [(row.attempt, row.status_code, row.error, row.outcome) for row in log] == [
        (1, None, "refused: the address is not public", "DISABLED")
    ]
    async with sessionmaker() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None and not endpoint.enabled
        assert (endpoint.disabled_reason or "").startswith("refused: the address is not public at ")
        waiting = await session.scalars(select(WebhookDelivery.state).where(WebhookDelivery.endpoint_id == endpoint_id))
        assert list(waiting) == [PENDING, PENDING]  # they wait for the URL to be fixed and the endpoint enabled


async def test_a_connection_that_fails_is_logged_as_unreachable_without_its_exception(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint_id, _, _ = await endpoint_with_last_events(sessionmaker, f"http://127.0.0.1:{port}/", 1)
    worker = WebhookWorker(sessionmaker, make_settings(database_url=database_url, **FAST))
    try:
        await worker.step()
    finally:
        await worker.aclose()
    log = await attempts(sessionmaker, endpoint_id)
    assert [(row.status_code, row.error, row.outcome) for row in log] == [(None, "unreachable", "RETRYING")]
