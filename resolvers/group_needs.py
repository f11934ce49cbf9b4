"""``groupTrainingNeeds``: per group and core indicator, how many people scored under the need threshold.

The per-person ``trainingNeeds`` (``resolvers.closed_loop``) names people; this one counts them per department,
post or post family, for whoever may read ``scoreStatistics``, analysts included (no names). The figures are one
aggregate statement (``hub.closedloop.needs.group_needs_statement``) and scoreStatistics' disclosure rules:

* for everyone but hr_admin, a group's figures per indicator are released only when at least the minimum group
  size ``m`` of its people have a score for it and no coarser group (the post's family, the whole cycle) less the
  groups released beside it leaves between 1 and ``m - 1`` people (``resolvers.disclosure``), per indicator, as
  the people scored differ from one indicator to another;
* for an analyst without the names grant, the people of small (department, post) cells are left out of every
  figure first, as they are of scoreStatistics: each group is then a union of whole large cells.

A withheld group is listed with its key, its size and the reason, and null figures: the key and size of any
group in scope are no secret to a caller who may list the results in that scope.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, SQLColumnExpression

from hub import policy
from hub.analytics.withheld import Withheld
from hub.closedloop.needs import group_needs_statement
from hub.db.models import AppraisalResult, Department, Post
from hub.domain import GroupDimension
from resolvers import cycle_ids as ids
from resolvers.context import Context
from resolvers.disclosure import Cell, Key, withheld_reasons
from resolvers.errors import BadUserInput
from resolvers.small_groups import in_large_result_cell

_DIMENSIONS: dict[GroupDimension, SQLColumnExpression[object]] = {
    GroupDimension.DEPARTMENT: Department.code,
    GroupDimension.POST: Post.code,
    GroupDimension.POST_FAMILY: Post.family,
}


@dataclass(frozen=True, slots=True)
class GroupNeed:
    """One core indicator in one group: its people scored, those under the threshold, their mean score."""

    key: list[str]
    indicator_id: int
    indicator_code: str
    threshold: float
    count: int
    below: int | None
    mean_score: float | None
    withheld: Withheld | None

    @property
    def share(self) -> float | None:
        return None if self.below is None or not self.count else self.below / self.count


async def group_training_needs(context: Context, cycle_id: str, group_by: GroupDimension | None) -> list[GroupNeed]:
    """Per group (by key, then indicator code) and core indicator scored in the cycle, within the caller's scope."""
    if group_by is not None and group_by not in _DIMENSIONS:
        raise BadUserInput(
            f"'groupBy' {group_by.value} is not for training needs: group by DEPARTMENT, POST or POST_FAMILY",
            argument="groupBy",
        )
    cycle_key = ids.cycle_key(cycle_id)
    # A post's key carries its family: the family is a parent of its posts (as in scoreStatistics).
    keys: list[SQLColumnExpression[object]] = []
    if group_by is GroupDimension.POST:
        keys = [Post.family, Post.code]
    elif group_by is not None:
        keys = [_DIMENSIONS[group_by]]
    minimum = policy.minimum_group_size(context.principal, context.settings)
    conditions: list[ColumnElement[bool]] = list(context.scope.results())
    if context.pseudonyms is not None:
        conditions.append(in_large_result_cell(minimum, context.scope.results()))
    statement = group_needs_statement(cycle_key, keys, conditions, context.settings.bands().c)
    if group_by in (GroupDimension.POST, GroupDimension.POST_FAMILY):
        statement = statement.join(Post, Post.id == AppraisalResult.post_id)
    elif group_by is GroupDimension.DEPARTMENT:
        statement = statement.join(Department, Department.id == AppraisalResult.department_id)
    async with context.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    if not rows:
        await ids.known_cycle(context, cycle_key)
    width = len(keys)
    by_indicator: defaultdict[int, dict[Key, tuple[str, float, int, int, float]]] = defaultdict(dict)
    for row in rows:
        key = tuple(str(value) for value in row[:width])
        figures = cast(tuple[int, str, float, int, int, float], tuple(row[width:]))
        indicator_id, code, threshold, scored, below, mean = figures
        by_indicator[indicator_id][key] = (code, float(threshold), scored, below, float(mean))
    needs: list[GroupNeed] = []
    for indicator_id, groups in by_indicator.items():
        cells = {key: Cell(members=found[2], unfiltered=found[2]) for key, found in groups.items()}
        reasons = withheld_reasons(cells, minimum)
        for key, (code, threshold, scored, below, mean) in groups.items():
            reason = reasons[key]
            shown = reason is None
            needs.append(
                GroupNeed(
                    key=list(key[-1:]) if width else [],
                    indicator_id=indicator_id,
                    indicator_code=code,
                    threshold=threshold,
                    count=scored,
                    below=below if shown else None,
                    mean_score=mean if shown else None,
                    withheld=reason,
                )
            )
    return sorted(needs, key=lambda need: (need.key, need.indicator_code))
