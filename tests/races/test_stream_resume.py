"""The result stream resumed across killed hubs: a subscriber loses nothing and gets nothing twice.

Two served hubs share a fresh copy of the 120-employee demo. A payroll subscriber (gql over WebSocket,
graphql-transport-ws) follows resultPublished on hub A while hub B publishes; hub A is killed (SIGKILL to
its process group) three times under it, and each time the subscriber resumes after the cursor of the
last event it handled, on a new hub A started on the same database:

1. during the catch-up of the demo's published history, at the very event the subscriber is handling;
   while it is down, B publishes a cycle;
2. during live delivery of a cycle B publishes, half-way through that cycle's events;
3. while hub A itself publishes the demo's current cycle (the subscriber follows live meanwhile); if the
   kill undid the publish, B publishes it again, and the cycle is announced exactly once either way.

At the end, expected (every event id in the outbox, read with resultEvents) = received: 0 lost,
0 duplicated, in order, and nothing more arrives.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx

from tests.races.harness import (
    TRANSITION,
    WITHIN,
    Hubs,
    Subscriber,
    announced_once,
    call,
    code_of,
    data,
    in_order_once,
    kill,
    kill_now,
    needs_postgres,
    new_calibrated_cycle,
    outbox,
    reader,
    reap,
    request_id,
    results_of,
    step,
    typed,
)
from tests.served.hub_process import ServedHub

pytestmark = needs_postgres

PUBLISH = TRANSITION % "cyclePublish"
JITTER = random.Random()
"""How long after its publish request hub A is killed in step 3: drawn anew every run."""


async def until_received(subscriber: Subscriber, count: int, following: asyncio.Task[bool]) -> None:
    """Waits until the subscriber has handled ``count`` events (its stream must not end meanwhile)."""
    deadline = time.monotonic() + WITHIN
    while len(subscriber.events) < count:
        assert not following.done(), f"the stream ended at {len(subscriber.events)} of {count} events"
        assert time.monotonic() < deadline, f"{len(subscriber.events)} of {count} events"
        await asyncio.sleep(0.02)


async def publish(client: httpx.AsyncClient, hub: ServedHub, cycle_id: str) -> str:
    """Publishes on ``hub``; ILLEGAL_TRANSITION when it was published already."""
    answer = typed(await call(client, hub, PUBLISH, {"id": cycle_id}), "cyclePublish")
    return code_of(answer)


async def test_a_subscriber_resumes_across_killed_hubs_without_loss_or_duplicates(demo_hubs: Hubs) -> None:
    engine = reader(demo_hubs.database_url)
    subscriber = Subscriber(role="payroll")
    try:
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            hub_a, hub_b = await asyncio.to_thread(demo_hubs.start_together, "hub-a1", "hub-b")
            history = await outbox(client, hub_b)
            assert len(history) >= 100, "the demo's published cycle"
            cycles = (await data(client, hub_b, "{ cycles { id state } }"))["cycles"]
            current = next(cycle["id"] for cycle in cycles if cycle["state"] == "OPEN")
            await step(client, hub_b, "cycleScore", current, "CycleScored")
            await step(client, hub_b, "cycleCloseCalibration", current, "CycleChanged")
            offline, live = [
                await new_calibrated_cycle(client, hub_b, name) for name in ("Published offline", "Published live")
            ]

            # 1. Killed during the catch-up, at the event the subscriber is handling.
            half = len(history) // 2
            killed = hub_a
            followed = await subscriber.follow(
                killed, on_event=lambda count: kill_now(killed) if count == half else None
            )
            await reap(killed)
            assert not followed and len(subscriber.events) >= half
            handled = [len(subscriber.events)]
            assert await publish(client, hub_b, offline) == "ok"  # while nobody serves the subscriber

            # 2. Killed during live delivery, half-way through a cycle's events.
            hub_a = await demo_hubs.restart("hub-a2")
            killed = hub_a
            caught_up = len(await outbox(client, hub_b))
            live_results = len(await results_of(engine, live))
            assert live_results > 2
            halfway = caught_up + live_results // 2
            following = asyncio.create_task(
                subscriber.follow(killed, on_event=lambda count: kill_now(killed) if count == halfway else None)
            )
            await until_received(subscriber, caught_up, following)
            assert await publish(client, hub_b, live) == "ok"
            assert not await asyncio.wait_for(following, WITHIN)
            await reap(killed)
            assert len(subscriber.events) >= halfway
            handled.append(len(subscriber.events))

            # 3. Killed while it publishes itself, the subscriber following live on it.
            hub_a = await demo_hubs.restart("hub-a3")
            expected_so_far = len(await outbox(client, hub_b))
            following = asyncio.create_task(subscriber.follow(hub_a))
            await until_received(subscriber, expected_so_far, following)
            publishing = asyncio.create_task(call(client, hub_a, PUBLISH, {"id": current}, rid=request_id()))
            await asyncio.sleep(JITTER.uniform(0.0, 0.08))
            await kill(hub_a)
            assert not await asyncio.wait_for(following, WITHIN)
            handled.append(len(subscriber.events))
            try:
                told = code_of(typed(await publishing, "cyclePublish"))
            except httpx.TransportError:
                told = None
            again = await publish(client, hub_b, current)
            # Published exactly once: by the killed hub (whose answer may or may not have come) or by B.
            assert again in ("ok", "ILLEGAL_TRANSITION"), again
            assert not (told == "ok" and again == "ok"), "published twice"

            # The rest, on one more new hub; then nothing more.
            hub_a = await demo_hubs.restart("hub-a4")
            expected = await outbox(client, hub_b)
            assert await subscriber.follow(hub_a, until=len(expected))
            await subscriber.nothing_more(hub_a)

            assert list(in_order_once(subscriber.ids, expected)) == []
            assert subscriber.ids == expected  # 0 lost, 0 duplicated, in order
            assert subscriber.drops == 3
            await announced_once(engine)
            print(
                f"\n{len(expected)} events; hubs killed under the subscriber after it handled {handled} (killed at "
                f"{half} and {halfway}); the killed publish: answer {told}, then B: {again}"
            )
    finally:
        await engine.dispose()
