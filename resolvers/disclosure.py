"""Which groups of a statistics table may be released without revealing a group below the minimum size.

Statistics over groups of at least ``m`` people reveal no one's score, but only one table at a time. An
insider combines tables: a parent group minus its released children is the withheld child (differencing),
and the same group with and without a narrowing score filter is the few people the filter removed. So a
cell (one combination of the grouping dimensions) is released only when

* it has at least ``m`` members after the filters, and the filters removed none of its members or at
  least ``m`` of them (a narrowing filter leaves nothing below the minimum on either side), and
* in every parent (the cell with one or more dimensions dropped, down to the whole table: another query can
  ask for each of them), the withheld
  cells together hold no one or at least ``m`` people: when a parent minus its released cells would be
  a small group, its smallest released cell is withheld too (secondary suppression), until that holds.

The first condition is the access policy's (``hub.policy.releasable_cell``); this module applies it and the
second to a table. Remaining risks are stated in the README (Security, "Pseudonymous analysts").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

from hub.analytics.withheld import Withheld
from hub.policy import releasable_cell

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cell:
    members: int
    """People in the cell after every filter."""
    unfiltered: int
    """People in the cell before the narrowing filters (score bounds)."""
    outer: int | None = None
    """People in the cell as the table without the ``outer`` dimension counts them, when that table leaves
    out fewer people (a pseudonymous table by grade leaves out small (department, post, grade) cells, the
    same table without grade only small (department, post) cells)."""


def releasable(cells: Mapping[Key, Cell], minimum: int, outer: int | None = None) -> set[Key]:
    """The keys of the cells that may be released; every key has the same number of dimensions.

    ``outer``: the dimension whose parents are counted by ``Cell.outer``: there, what a parent minus its
    released cells leaves is the parent's outer count less the released members.
    """
    withheld = {key for key, cell in cells.items() if not releasable_cell(cell.members, cell.unfiltered, minimum)}
    width = len(next(iter(cells))) if cells else 0
    changed = True
    while changed:
        changed = False
        for dropped in _ancestors(width):
            parents: defaultdict[Key, list[Key]] = defaultdict(list)
            for key in cells:
                parents[tuple(value for index, value in enumerate(key) if index not in dropped)].append(key)
            for children in parents.values():
                hidden = sum(_counted(cells[key], outer in dropped) for key in children) - sum(
                    cells[key].members for key in children if key not in withheld
                )
                shown = sorted((cells[key].members, key) for key in children if key not in withheld)
                if 0 < hidden < minimum and shown:
                    withheld.add(shown[0][1])
                    changed = True
    return set(cells) - withheld


def _ancestors(width: int) -> list[frozenset[int]]:
    # Every non-empty set of dimensions to drop: a grouping by fewer dimensions, down to none, is a query too
    # (a table by (department, post) less the whole cycle's figures is otherwise a small department's).
    return [frozenset(dropped) for size in range(1, width + 1) for dropped in combinations(range(width), size)]


def _counted(cell: Cell, outer: bool) -> int:
    return cell.outer if outer and cell.outer is not None else cell.members


def withheld_reasons(cells: Mapping[Key, Cell], minimum: int, outer: int | None = None) -> dict[Key, Withheld | None]:
    """Every cell's reason to be withheld (``hub.analytics.withheld``), None for a released one: SMALL_GROUP when
    the cell itself fails the minimum, TABLE_TOTALS when it is withheld so that no parent gives a small one away."""
    released = releasable(cells, minimum, outer)
    return {
        key: None
        if key in released
        else Withheld.SMALL_GROUP
        if not releasable_cell(cell.members, cell.unfiltered, minimum)
        else Withheld.TABLE_TOTALS
        for key, cell in cells.items()
    }
