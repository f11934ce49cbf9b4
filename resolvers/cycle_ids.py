"""A cycle named by an analytics field: a malformed id is ``BAD_USER_INPUT``, an unknown one ``NOT_FOUND``.

Every cycle is visible to every authenticated caller (``cycle``, ``cycles``), so telling an unknown cycle from
a cycle without results in the caller's scope gives nothing away. The check reads through the request's cycle
loader, which the answer's ``cycle`` fields read too: it costs no statement a field would not cost anyway, and
the statistics ask it only when their one statement found nothing (a cycle with results exists).
"""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.context import Context
from resolvers.errors import BadUserInput, UnknownId, parse_id
from resolvers.records import CycleRow


def cycle_key(cycle_id: str, argument: str = "cycleId") -> int:
    """The key of a well-formed cycle id; ``BadUserInput`` for anything that cannot be one."""
    key = parse_id(cycle_id)
    if key is None:
        raise BadUserInput(f"'{argument}' is not a cycle id: {cycle_id[:40]!r}", argument=argument)
    return key


async def known_cycle(context: Context, cycle_id: str | int, argument: str = "cycleId") -> CycleRow:
    """The cycle an id names; ``BadUserInput`` when malformed, ``UnknownId`` (NOT_FOUND) when it names none."""
    key = cycle_id if isinstance(cycle_id, int) else cycle_key(cycle_id, argument)
    cycle = await context.loaders.cycle_by_id.load(key)
    if cycle is None:
        raise UnknownId("cycle", cycle_id, argument=argument)
    return cycle


async def known_cycles(context: Context, cycle_ids: Sequence[str], argument: str) -> list[CycleRow]:
    """Every cycle the ids name, in their order (one loader batch); the first bad id's error otherwise."""
    keys = [cycle_key(cycle_id, argument) for cycle_id in cycle_ids]
    cycles = await context.loaders.cycle_by_id.load_many(keys)
    for key, cycle in zip(keys, cycles, strict=True):
        if cycle is None:
            raise UnknownId("cycle", key, argument=argument)
    return [cycle for cycle in cycles if cycle is not None]


CYCLE_ID_ERRORS = "A malformed cycle id is BAD_USER_INPUT, one that names no cycle NOT_FOUND (the field null)."
"""What the descriptions of the fields that take cycle ids say of them."""

EMPLOYEE_NOS = (
    "A number that matches nothing (no such employee, one outside the caller's scope, or one without a result "
    "listed here) is left out without an error, as a filter leaves out what it does not match: an error naming it "
    "would tell callers which employees outside their scope exist. "
)
"""What ``trainingNeeds`` and ``compensationGuidance`` say of the employee numbers they are given."""
