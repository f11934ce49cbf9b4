"""cycleDelete raced on two hubs against one PostgreSQL database (PostgreSQL only, like the other races).

- a delete racing an open of the same DRAFT cycle: either the cycle is gone (and the open finds nothing) or
  it is OPEN (and the delete is refused); never a deleted cycle with an open's transition, never a 5xx;
- two deletes of one cycle: one deletes, the other finds nothing;
- creates racing a delete: every new cycle has an id of its own, none the deleted one's.
Every call has exactly one audit entry with the outcome its caller was told.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Cycle, CycleTransition, DeletedCycle
from hub.domain import CycleState
from tests.races.conftest import Pair
from tests.races.harness import call, code_of, needs_postgres, request_id, typed
from tests.races.test_two_hubs import OFFSETS, expect_audited, race, raced_twice

pytestmark = needs_postgres

CREATE = """mutation($n: String!) { cycleCreate(input: {name: $n, periodStart: "2031-01-01", periodEnd: "2031-06-30"})
  { ... on CycleChanged { cycle { id } } } }"""
DELETE = "mutation($id: ID!) { cycleDelete(cycleId: $id) { __typename ... on MutationError { code } } }"
OPEN = "mutation($id: ID!) { cycleOpen(cycleId: $id) { __typename ... on MutationError { code } } }"


async def draft(client: httpx.AsyncClient, pair: Pair, name: str) -> str:
    body = await call(client, pair.hubs[0], CREATE, {"n": name})
    cycle_id: str = body["data"]["cycleCreate"]["cycle"]["id"]
    return cycle_id


async def what_is_left(engine: AsyncEngine, cycle_id: str) -> tuple[CycleState | None, int, bool]:
    """The cycle's state (None when gone), its transitions, and whether it is remembered as deleted."""
    key = int(cycle_id)
    async with engine.connect() as connection:
        state = (await connection.execute(select(Cycle.state).where(Cycle.id == key))).scalar_one_or_none()
        steps = len((await connection.execute(select(CycleTransition.id).where(CycleTransition.cycle_id == key))).all())
        remembered = (await connection.execute(select(DeletedCycle.id).where(DeletedCycle.id == key))).first()
    return state, steps, remembered is not None


async def test_a_delete_racing_an_open_deletes_or_opens(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    for round_, offset in enumerate(OFFSETS):
        cycle_id = await draft(client, pair, f"Delete or open {round_}")
        rids = request_id(), request_id()
        bodies = await race(
            call(client, pair.hub(round_, 0), DELETE, {"id": cycle_id}, rid=rids[0]),
            call(client, pair.hub(round_, 1), OPEN, {"id": cycle_id}, rid=rids[1]),
            offset,
        )
        deleted, opened = typed(bodies[0], "cycleDelete"), typed(bodies[1], "cycleOpen")
        outcome = (code_of(deleted), code_of(opened))
        pair.seen["delete vs open: " + " + ".join(outcome)] += 1
        if outcome == ("ok", "NOT_FOUND"):
            assert await what_is_left(engine, cycle_id) == (None, 0, True)
        else:
            assert outcome == ("WRONG_CYCLE_STATE", "ok"), outcome
            assert await what_is_left(engine, cycle_id) == (CycleState.OPEN, 2, False)
        await expect_audited(engine, rids[0], "cycleDelete", deleted)
        await expect_audited(engine, rids[1], "cycleOpen", opened)
    print("\n", dict(pair.seen))


async def test_two_deletes_delete_once_and_creates_never_take_the_deleted_id(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    for round_, offset in enumerate(OFFSETS):
        cycle_id = await draft(client, pair, f"Deleted twice {round_}")
        rids, answers = await raced_twice(
            client, pair, round_, offset, (DELETE, "cycleDelete"), ({"id": cycle_id}, {"id": cycle_id})
        )
        assert sorted(code_of(answer) for answer in answers) == ["NOT_FOUND", "ok"], answers
        assert await what_is_left(engine, cycle_id) == (None, 0, True)
        for rid, answer in zip(rids, answers, strict=True):
            await expect_audited(engine, rid, "cycleDelete", answer)
        created = await asyncio.gather(
            *(
                call(client, pair.hubs[which % 2], CREATE, {"n": f"After a delete {round_}.{which}"})
                for which in range(4)
            )
        )
        ids = {int(body["data"]["cycleCreate"]["cycle"]["id"]) for body in created}
        assert len(ids) == 4 and int(cycle_id) not in ids and min(ids) > int(cycle_id)
