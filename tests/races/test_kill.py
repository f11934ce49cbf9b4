"""A served hub killed (SIGKILL) in the middle of scoring or publishing: all or nothing.

The hub runs on a copy of the 2,000-employee demo, where scoring takes about a second and publishing a
few tenths. A round sends the mutation, kills the hub's process group after a delay (0 ms: before or as
the request arrives; 50 and 200 ms: inside the transaction; then a random one, for scoring a random
fraction of an undisturbed scoring's duration, and a late one: around or after the commit), waits until
the database has let go of the dead hub's sessions, starts a new hub on the same database and checks
through it and in the database that the change happened entirely or not at all:

- the cycle is in the old state or the new one;
- scored: every participant the engine could score has a result with all its indicator scores (exactly
  those of an undisturbed scoring of the same inputs); open: no result and no indicator score;
- outbox events exist only for a published cycle, exactly one per result;
- the workflow audit has the transition, and the access audit the mutation's entry (operation as the
  audit records it, the field name; outcome ok; the request id the test sent), if and only if the change
  committed;
- an answer the client did receive before the kill is never contradicted by the database.

Which rounds committed depends on the machine; the test asserts the outcome of each, never timings.
The rounds are printed (pytest -s).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db.models import Cycle, CycleScheme
from hub.domain import CycleState
from hub.operations.participation import participants
from tests.races.harness import (
    SCORE,
    TRANSITION,
    WITHIN,
    Hubs,
    announced_once,
    audited,
    call,
    data,
    events_of,
    indicator_scores_of,
    kill,
    needs_postgres,
    new_calibrated_cycle,
    reader,
    reopen,
    request_id,
    results_of,
    step,
    transitions_of,
    typed,
    until_alone,
)
from tests.served.hub_process import ServedHub

pytestmark = needs_postgres

JITTER = random.Random()
"""The delays of the later rounds are drawn anew every run (and printed): over runs, kills land all over
the transaction and around its commit."""
STATE = "query($id: ID!) { cycle(id: $id) { state } results(cycleId: $id, first: 1) { totalCount } }"


async def open_cycle(client: httpx.AsyncClient, hub: ServedHub) -> str:
    cycles = (await data(client, hub, "{ cycles { id state } }"))["cycles"]
    cycle_id: str = next(cycle["id"] for cycle in cycles if cycle["state"] == "OPEN")
    return cycle_id


async def participants_of(engine: AsyncEngine, cycle_id: str) -> set[int]:
    """Everyone the cycle appraises: in a post with a pinned scheme on the period's last day."""
    async with AsyncSession(engine) as session:
        cycle = await session.get_one(Cycle, int(cycle_id))
        posts = await session.scalars(select(CycleScheme.post_id).where(CycleScheme.cycle_id == cycle.id))
        return {person.employee_id for person in await participants(session, cycle, list(posts))}


async def send_and_kill(
    client: httpx.AsyncClient, hub: ServedHub, query: str, variables: dict[str, Any], rid: str, delay: float
) -> dict[str, Any] | None:
    """Sends the mutation, kills the hub ``delay`` seconds later; the answer if one arrived before."""
    sent = asyncio.create_task(call(client, hub, query, variables, rid=rid))
    await asyncio.sleep(delay)
    await kill(hub)
    try:
        return await sent
    except httpx.TransportError:
        return None


async def restarted(hubs: Hubs, engine: AsyncEngine, name: str) -> ServedHub:
    """Once the dead hub's sessions are gone from the database (rolled back, or committed when the kill
    came after COMMIT was sent), a new hub on the same database."""
    await until_alone(engine)
    return await hubs.restart(name)


@contextlib.asynccontextmanager
async def on_an_open_cycle(
    hubs: Hubs,
) -> AsyncIterator[tuple[AsyncEngine, httpx.AsyncClient, ServedHub, str, list[str]]]:
    """What a test's rounds start from: an engine reading the hubs' database, a client, the first hub and
    the demo's OPEN cycle; the line each round appends to the last item is printed at the end (pytest -s)."""
    engine = reader(hubs.database_url)
    rounds: list[str] = []
    try:
        async with httpx.AsyncClient(timeout=WITHIN) as client:
            hub = await hubs.restart("hub-0")
            yield engine, client, hub, await open_cycle(client, hub), rounds
    finally:
        await engine.dispose()
        print("\n" + "\n".join(rounds))


async def test_a_hub_killed_while_scoring_leaves_all_or_nothing(large_hubs: Hubs) -> None:
    async with on_an_open_cycle(large_hubs) as (engine, client, hub, cycle_id, rounds):
        # An undisturbed scoring of the same inputs: what a committed one must have written.
        started = time.monotonic()
        reference = await step(client, hub, "cycleScore", cycle_id, "CycleScored")
        took = time.monotonic() - started
        expected = set(await results_of(engine, cycle_id))
        expected_scores = await indicator_scores_of(engine, cycle_id)
        blocked = {int(blocked["employee"]["id"]) for blocked in reference["blocked"]}
        assert len(expected) == reference["scored"] > 1000 and not expected & blocked
        assert expected | blocked == await participants_of(engine, cycle_id), "a participant neither scored nor blocked"
        await reopen(client, hub, cycle_id)

        delays = (0.0, 0.05, 0.2, JITTER.uniform(0.3, 1.1) * took, 1.5 * took)
        for round_, delay in enumerate(delays):
            before = await transitions_of(engine, cycle_id)
            rid = request_id()
            answer = await send_and_kill(client, hub, SCORE, {"id": cycle_id}, rid, delay)
            hub = await restarted(large_hubs, engine, f"hub-{round_ + 1}")

            seen = await data(client, hub, STATE, {"id": cycle_id})
            state = CycleState(seen["cycle"]["state"])
            results = await results_of(engine, cycle_id)
            entries = await audited(engine, rid)
            transitions = await transitions_of(engine, cycle_id)
            told = None if answer is None else typed(answer, "cycleScore")["__typename"]
            rounds.append(f"kill at {delay * 1000:.0f} ms: {state.value}, answer {told}")
            if state is CycleState.OPEN:
                assert told is None, f"the client was told {told} and the cycle is OPEN"
                assert results == {} and seen["results"]["totalCount"] == 0
                assert await indicator_scores_of(engine, cycle_id) == 0
                assert entries == [] and transitions == before
            else:
                assert state is CycleState.SCORED, state
                assert told in (None, "CycleScored"), answer
                assert set(results) == expected and seen["results"]["totalCount"] == len(expected)
                assert await indicator_scores_of(engine, cycle_id) == expected_scores
                assert entries == [("cycleScore", "ok")]
                assert transitions == [*before, (CycleState.OPEN, CycleState.SCORED)]
                await reopen(client, hub, cycle_id)
            await announced_once(engine)


async def test_a_hub_killed_while_publishing_leaves_all_or_nothing(large_hubs: Hubs) -> None:
    async with on_an_open_cycle(large_hubs) as (engine, client, hub, cycle_id, rounds):
        await step(client, hub, "cycleScore", cycle_id, "CycleScored")
        await step(client, hub, "cycleCloseCalibration", cycle_id, "CycleChanged")

        delays = (0.0, 0.05, JITTER.uniform(0.05, 0.3), 0.2, 0.8)
        for round_, delay in enumerate(delays):
            results = await results_of(engine, cycle_id)
            assert results, "the cycle has results to announce"
            before = await transitions_of(engine, cycle_id)
            rid = request_id()
            answer = await send_and_kill(client, hub, TRANSITION % "cyclePublish", {"id": cycle_id}, rid, delay)
            hub = await restarted(large_hubs, engine, f"hub-{round_ + 1}")

            state = CycleState((await data(client, hub, STATE, {"id": cycle_id}))["cycle"]["state"])
            events = await events_of(engine, cycle_id)
            entries = await audited(engine, rid)
            transitions = await transitions_of(engine, cycle_id)
            told = None if answer is None else typed(answer, "cyclePublish")["__typename"]
            rounds.append(f"kill at {delay * 1000:.0f} ms ({len(results)} results): {state.value}, answer {told}")
            assert await results_of(engine, cycle_id) == results, "publishing changed the results"
            if state is CycleState.CALIBRATED:
                assert told is None, f"the client was told {told} and the cycle is CALIBRATED"
                assert events == [] and entries == [] and transitions == before
            else:
                assert state is CycleState.PUBLISHED, state
                assert told in (None, "CycleChanged"), answer
                assert sorted(result for _, result in events) == sorted(results.values())
                assert entries == [("cyclePublish", "ok")]
                assert transitions == [*before, (CycleState.CALIBRATED, CycleState.PUBLISHED)]
                # Published for good: the next round publishes a new cycle.
                cycle_id = await new_calibrated_cycle(client, hub, f"After crash {round_}")
            await announced_once(engine)
