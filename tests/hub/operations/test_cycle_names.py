"""Cycle names are unique, case aside: a second "2027 H1" is refused, also when two are created at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from hub.db.models import Cycle, CycleTransition
from hub.demo.organisation import SeedSummary
from hub.operations import cycles
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, CycleDelete, create_cycle, delete_cycle
from hub.operations.errors import DuplicateName
from tests.hub.operations.concurrency import Race, outcome
from tests.hub.operations.conftest import Sessions


def _input(name: str) -> CycleCreateInput:
    return CycleCreateInput(name=name, period_start=dt.date(2027, 1, 1), period_end=dt.date(2027, 6, 30))


async def _counts(sessionmaker: Sessions) -> tuple[int, int]:
    """(cycles, workflow transitions)."""
    async with sessionmaker() as session:
        made = await session.scalar(select(func.count()).select_from(Cycle))
        moved = await session.scalar(select(func.count()).select_from(CycleTransition))
    return made or 0, moved or 0


async def test_a_name_another_cycle_has_case_aside_is_refused_and_nothing_is_written(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """The current cycle's name in other case and with spaces around is DuplicateName naming the field."""
    async with sessionmaker() as session:
        taken = (await session.get_one(Cycle, seeded.current_cycle_id)).name
    before = await _counts(sessionmaker)

    try:
        await create_cycle(sessionmaker, _input(f"  {taken.swapcase()} "), Caller("hr"))
    except DuplicateName as refused:
        assert (refused.code, refused.field) == ("DUPLICATE_NAME", "name")
        assert taken in refused.message
    else:
        raise AssertionError("a taken name was accepted")
    assert await _counts(sessionmaker) == before


async def test_a_deleted_cycles_name_can_be_given_again(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Deleting the DRAFT made with a typo frees its name."""
    first = await create_cycle(sessionmaker, _input("2027 H1"), Caller("hr"))
    await delete_cycle(sessionmaker, CycleDelete(first.id), Caller("hr"))

    again = await create_cycle(sessionmaker, _input("2027 h1"), Caller("hr"))

    assert again.name == "2027 h1" and again.id != first.id


async def test_two_creations_of_one_name_at_once_make_one_cycle(
    sessionmaker: Sessions, seeded: SeedSummary, race: Race
) -> None:
    """Two hubs create "Race 2027" and "race 2027" together: one cycle, one DuplicateName, nothing else written.

    The first is held after its insert, before it looks for the name; the second is let go once it waits
    behind it (on PostgreSQL, for the creations' advisory lock), so that without the lock both would look,
    see no other, and commit.
    """
    gate = race.gate_before(cycles, "check_name_free")
    before = await _counts(sessionmaker)
    first = asyncio.create_task(outcome(create_cycle(sessionmaker, _input("Race 2027"), Caller("hr-1"))))
    await race.until_held(gate, 1, first)
    second = asyncio.create_task(outcome(create_cycle(race.other, _input("race 2027"), Caller("hr-2"))))
    await race.until_held(gate, 2, first, second)
    gate.open()
    answers = [await first, await second]

    assert sorted(type(answer).__name__ for answer in answers) == ["Cycle", "DuplicateName"], answers
    made, moved = await _counts(sessionmaker)
    assert (made, moved) == (before[0] + 1, before[1] + 1)
