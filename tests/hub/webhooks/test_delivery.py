"""Webhook delivery against a real receiver on loopback: signed CloudEvents, retries, Retry-After, 410, dead
letters and replay, ordering per endpoint, and a restart. Counts, never timings: a fast retry schedule, and
the worker stepped until a condition holds or a deadline passes."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.db.engine import create_sessionmaker
from hub.db.models import AppraisalResult, Post, ResultEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from hub.demo.organisation import SeedSummary
from hub.operations.commands import Caller
from hub.operations.corrections import ResultCorrectInput, correct_result
from hub.webhooks import registry
from hub.webhooks.addresses import TargetPolicy
from hub.webhooks.queue import DEAD, DELIVERED, PENDING, claim
from hub.webhooks.registry import (
    WebhookEndpointCreateInput,
    WebhookEndpointEnable,
    WebhookReplay,
    WebhookSecretRotate,
)
from hub.webhooks.signing import event_cursor
from hub.webhooks.worker import Schedule, WebhookWorker
from tests.conftest import make_settings, opened_engine
from tests.hub.webhooks.receiver import Answer, Receiver, receiving

FAST = {"webhook_retry_seconds": (0.01, 0.01), "webhook_timeout_seconds": 0.3, "webhook_lease_seconds": 5.0}
CALLER = Caller("test-hr-admin")
LOOPBACK = TargetPolicy(allow_private=True, allow_http=True, resolve_timeout=1.0)
"""The receivers listen on loopback over http."""


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


@pytest.fixture
async def worker(sessionmaker: async_sessionmaker[AsyncSession], database_url: str) -> AsyncIterator[WebhookWorker]:
    made = WebhookWorker(sessionmaker, make_settings(database_url=database_url, **FAST))
    yield made
    await made.aclose()


async def endpoint_with_last_events(
    sessionmaker: async_sessionmaker[AsyncSession], url: str, count: int, policy: TargetPolicy = LOOPBACK
) -> tuple[int, str, list[str]]:
    """A new endpoint with the outbox's last ``count`` events queued for it: (id, secret, their event ids)."""
    made = await registry.create_endpoint(
        sessionmaker, WebhookEndpointCreateInput(url=url, event_types=("result.published",)), CALLER, policy
    )
    async with sessionmaker() as session:
        # The newest result.published events: the seed's publication ends with its training.need events.
        newest = await session.scalar(select(func.max(ResultEvent.id)).where(ResultEvent.type == "result.published"))
        assert newest is not None and newest > count
        ids = list(
            (
                await session.scalars(
                    select(ResultEvent.event_id)
                    .where(ResultEvent.id > newest - count, ResultEvent.id <= newest)
                    .order_by(ResultEvent.id)
                )
            ).all()
        )
    queued = await registry.replay(sessionmaker, WebhookReplay(made.endpoint.id, event_cursor(newest - count)), CALLER)
    assert queued == count
    return made.endpoint.id, made.secret, ids


async def step_until(worker: WebhookWorker, done: Callable[[], Awaitable[bool]], rounds: int = 400) -> None:
    for _ in range(rounds):
        if await done():
            return
        await worker.step()
        await asyncio.sleep(0.01)
    raise AssertionError("the deliveries did not reach the expected state")


def states(sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: int) -> Callable[[], Awaitable[list[str]]]:
    async def read() -> list[str]:
        async with sessionmaker() as session:
            rows = await session.scalars(
                select(WebhookDelivery.state)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.outbox_id)
            )
            return list(rows.all())

    return read


async def attempts(sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: int) -> list[WebhookAttempt]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id).order_by(WebhookAttempt.id)
        )
        return list(rows.all())


def all_in(read: Callable[[], Awaitable[list[str]]], *wanted: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return set(await read()) <= set(wanted)

    return check


async def test_events_arrive_as_signed_cloudevents_in_cursor_order(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, secret, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 3)
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))

    assert receiver.ids() == ids  # each once, in the outbox's order
    for hit, event_id in zip(receiver.hits, ids, strict=True):
        Webhook(secret).verify(hit.body, hit.headers)  # raises unless the signature is the secret's
        event = from_http(HTTPMessage(headers=hit.headers, body=hit.body), JSONFormat(), CloudEvent)
        assert event.get_id() == event_id == hit.webhook_id
        assert event.get_type() == "result.published"
        assert event.get_datacontenttype() == "application/json"
        data = event.get_data()
        assert isinstance(data, dict)
        assert {"resultId", "employeeNo", "totalScore", "grade", "calibrated", "cycle"} <= set(data)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(hit.body, hit.headers)
    log = await attempts(sessionmaker, endpoint_id)
    assert [(row.event_id, row.attempt, row.status_code, row.outcome) for row in log] == [
        (event_id, 1, 204, DELIVERED) for event_id in ids
    ]


async def test_a_failing_receiver_is_retried_and_the_next_event_waits_for_it(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 2)
    receiver.answer_for[ids[0]] = [Answer(500), Answer(503)]
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))

    assert receiver.ids() == [ids[0], ids[0], ids[0], ids[1]]  # the second waited for the first
    assert [hit.attempt for hit in receiver.hits] == [1, 2, 3, 1]
    log = await attempts(sessionmaker, endpoint_id)
    assert [(row.status_code, row.outcome) for row in log] == [
        (500, "RETRYING"),
        (503, "RETRYING"),
        (204, DELIVERED),
        (204, DELIVERED),
    ]
    assert all(row.next_attempt_at is not None for row in log[:2])


async def test_a_timeout_counts_as_a_failed_attempt(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 1)
    receiver.answer_for[ids[0]] = [Answer(stall_seconds=1.0)]
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))

    log = await attempts(sessionmaker, endpoint_id)
    assert [(row.attempt, row.status_code, row.outcome) for row in log] == [(1, None, "RETRYING"), (2, 204, DELIVERED)]
    assert log[0].error == "timeout"


async def test_retry_after_on_429_is_honoured(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 1)
    receiver.answer_for[ids[0]] = [Answer(429, {"Retry-After": "120"})]
    await step_until(worker, lambda: _hits(receiver, 1))
    for _ in range(5):
        await worker.step()

    assert len(receiver.hits) == 1  # not retried on the fast schedule
    (row,) = await attempts(sessionmaker, endpoint_id)
    assert row.status_code == 429 and row.next_attempt_at is not None
    assert row.next_attempt_at - row.at >= dt.timedelta(seconds=120)
    assert await states(sessionmaker, endpoint_id)() == [PENDING]


async def _hits(receiver: Receiver, count: int) -> bool:
    return len(receiver.hits) >= count


async def test_410_gone_disables_the_endpoint_until_it_is_enabled(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 2)
    receiver.answer_for[ids[0]] = [Answer(410)]
    await step_until(worker, lambda: _hits(receiver, 1))
    for _ in range(5):
        await worker.step()

    assert receiver.ids() == [ids[0]]
    async with sessionmaker() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None and not endpoint.enabled and "410" in (endpoint.disabled_reason or "")
    await registry.enable_endpoint(sessionmaker, WebhookEndpointEnable(endpoint_id), CALLER)
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))
    assert receiver.ids() == [ids[0], ids[0], ids[1]]


async def test_the_last_failed_try_is_a_dead_letter_and_replay_sends_it_again(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 2)
    receiver.answer_for[ids[0]] = [Answer(500), Answer(500), Answer(500)]  # 1 try + 2 retries: all fail
    read = states(sessionmaker, endpoint_id)
    await step_until(worker, lambda: _settled(read))

    assert await read() == [DEAD, DELIVERED]  # the endpoint moved on past the dead letter
    assert receiver.ids() == [ids[0]] * 3 + [ids[1]]
    log = await attempts(sessionmaker, endpoint_id)
    assert log[2].outcome == DEAD and log[2].next_attempt_at is None

    async with sessionmaker() as session:
        first = await session.scalar(select(ResultEvent.id).where(ResultEvent.event_id == ids[0]))
    assert first is not None
    queued = await registry.replay(sessionmaker, WebhookReplay(endpoint_id, event_cursor(first - 1)), CALLER)
    assert queued == 2
    await step_until(worker, all_in(read, DELIVERED))
    assert receiver.ids()[4:] == ids  # again, in order
    assert [hit.attempt for hit in receiver.hits[4:]] == [4, 2]  # attempt numbers are never reused


async def _settled(read: Callable[[], Awaitable[list[str]]]) -> bool:
    return PENDING not in await read()


async def test_a_new_worker_picks_up_a_retry_where_a_stopped_one_left_it(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str, receiver: Receiver
) -> None:
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 1)
    receiver.answer_for[ids[0]] = [Answer(500)]
    settings = make_settings(database_url=database_url, **FAST)
    first = WebhookWorker(sessionmaker, settings)
    await first.step()
    await first.aclose()  # the hub stops mid-retry
    assert await states(sessionmaker, endpoint_id)() == [PENDING]

    second = WebhookWorker(sessionmaker, settings)  # what a restarted hub makes: nothing but the database
    try:
        await step_until(second, all_in(states(sessionmaker, endpoint_id), DELIVERED))
    finally:
        await second.aclose()
    assert [hit.attempt for hit in receiver.hits] == [1, 2]


async def test_during_a_rotation_both_secrets_sign(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    endpoint_id, old, _ = await endpoint_with_last_events(sessionmaker, receiver.url, 1)
    rotated = await registry.rotate_secret(sessionmaker, WebhookSecretRotate(endpoint_id, 3600), CALLER)
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))
    (hit,) = receiver.hits
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(hit.body, hit.headers)
    Webhook(rotated.secret).verify(hit.body, hit.headers)

    after = await registry.rotate_secret(sessionmaker, WebhookSecretRotate(endpoint_id, 0), CALLER)
    await registry.replay(sessionmaker, WebhookReplay(endpoint_id, None), CALLER)
    await step_until(worker, lambda: _hits(receiver, 2))
    last = receiver.hits[-1]
    Webhook(after.secret).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated.secret).verify(last.body, last.headers)  # no grace: the replaced secret signs no more


async def test_two_workers_on_one_postgresql_never_post_the_same_attempt_twice(
    postgresql_url: str, receiver: Receiver
) -> None:
    """Two hub processes' workers (an engine each: their own connections, so real row locks) deliver three
    endpoints' events, each event failing once first; every (endpoint, event, attempt) reaches the receiver
    exactly once, and every event is delivered."""
    settings = make_settings(database_url=postgresql_url, **FAST)
    async with opened_engine(postgresql_url) as one, opened_engine(postgresql_url) as other:
        sessions = [create_sessionmaker(one), create_sessionmaker(other)]
        for number in range(3):
            await endpoint_with_last_events(sessions[0], f"{receiver.url}?n={number}", 6)
        receiver.refuse_first_attempts = True
        workers = [WebhookWorker(sessionmaker, settings) for sessionmaker in sessions]

        async def everything_delivered() -> bool:
            async with sessions[0]() as session:
                left = await session.scalar(select(func.count()).where(WebhookDelivery.state != DELIVERED))
            return left == 0

        async def work(worker: WebhookWorker) -> None:
            await step_until(worker, everything_delivered)

        try:
            await asyncio.gather(*(work(worker) for worker in workers))
        finally:
            for worker in workers:
                await worker.aclose()

    seen = Counter((hit.query, hit.webhook_id, hit.attempt) for hit in receiver.hits)
    assert max(seen.values()) == 1
    assert len(receiver.hits) == 3 * 6 * 2  # each event: one failed try, one delivery
    delivered = {(hit.query, hit.webhook_id) for hit in receiver.hits if hit.attempt == 2}
    assert len(delivered) == 3 * 6


async def test_a_correction_after_registration_goes_out_as_result_revised_and_filters_choose(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver, seeded: SeedSummary
) -> None:
    async with sessionmaker() as session:
        result = (
            await session.execute(
                select(AppraisalResult.id, Post.family)
                .join(Post, Post.id == AppraisalResult.post_id)
                .where(AppraisalResult.cycle_id == seeded.past_cycle_id)
                .limit(1)
            )
        ).one()
        other_family = await session.scalar(select(Post.family).where(Post.family != result.family).limit(1))
    assert other_family is not None

    def endpoint(family: str, types: tuple[str, ...]) -> WebhookEndpointCreateInput:
        url = f"{receiver.url}?family={family}&types={len(types)}"
        return WebhookEndpointCreateInput(url=url, event_types=types, post_family=family)

    wanted = await registry.create_endpoint(
        sessionmaker, endpoint(result.family, ("result.revised",)), CALLER, LOOPBACK
    )
    for unwanted in (endpoint(other_family, ("result.revised",)), endpoint(result.family, ("result.published",))):
        await registry.create_endpoint(sessionmaker, unwanted, CALLER, LOOPBACK)
    await correct_result(
        sessionmaker, ResultCorrectInput(result_id=result.id, total_score=12.5, reason="a typo in the import"), CALLER
    )
    await step_until(worker, lambda: _hits(receiver, 1))
    for _ in range(3):
        await worker.step()

    (hit,) = receiver.hits  # the other family's endpoint and the published-only one got nothing
    assert hit.query == f"family={result.family}&types=1"
    Webhook(wanted.secret).verify(hit.body, hit.headers)
    event = from_http(HTTPMessage(headers=hit.headers, body=hit.body), JSONFormat(), CloudEvent)
    assert event.get_type() == "result.revised"
    data = event.get_data()
    assert isinstance(data, dict)
    assert (data["resultId"], data["totalScore"], data["postFamily"]) == (str(result.id), 12.5, result.family)


async def test_a_lease_that_runs_out_is_taken_over_as_the_next_attempt(
    sessionmaker: async_sessionmaker[AsyncSession], worker: WebhookWorker, receiver: Receiver
) -> None:
    """A hub that died while posting leaves its lease; once it runs out, another worker posts the delivery
    again, numbered as the next attempt (the receiver de-duplicates by webhook-id)."""
    endpoint_id, _, ids = await endpoint_with_last_events(sessionmaker, receiver.url, 1)
    (held,) = await claim(sessionmaker, limit=10, lease_seconds=0.2)  # ... and the process is gone
    assert held.attempt == 1
    assert await claim(sessionmaker, limit=10, lease_seconds=0.2) == []  # leased: nobody else takes it
    await asyncio.sleep(0.3)
    await step_until(worker, all_in(states(sessionmaker, endpoint_id), DELIVERED))
    assert [(hit.webhook_id, hit.attempt) for hit in receiver.hits] == [(ids[0], 2)]


def test_the_schedule_jitters_down_and_ends_and_reads_retry_after() -> None:
    schedule = Schedule((1.0, 10.0), max_retry_after=60.0)
    waits = [schedule.delay(2) for _ in range(50)]
    assert all(wait is not None and 8.0 <= wait <= 10.0 for wait in waits)
    assert len(set(waits)) > 1
    assert schedule.delay(3) is None  # the last try failed: dead

    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    date = email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True)
    answers = {
        (429, "20"): 20.0,
        (503, date): 30.0,
        (429, "99999"): 60.0,  # capped
        (429, "soon"): None,
        (500, "20"): None,  # only 429 and 503 are asked to wait
    }
    for (status, header), seconds in answers.items():
        response = httpx.Response(status, headers={"Retry-After": header})
        assert schedule.retry_after(response, now) == seconds
