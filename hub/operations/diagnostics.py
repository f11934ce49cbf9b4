"""Scheme diagnostics for one post in one cycle: does each indicator of the pinned scheme tell people apart?

The statistics come from ``hub.appraisal.diagnostics``; this module only gathers, in three SELECTs
whatever the size of the post, each indicator's normalised scores by result (None where the score is
missing) and the results' totals.

The totals are the engine's ``computed_total``: an indicator is judged against the total the scheme
produced, not against a calibrator's override of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub import appraisal
from hub.db.models import AppraisalResult, Cycle, CycleScheme, IndicatorScore, Post, SchemeItem
from hub.operations.errors import NotFound


@dataclass(frozen=True, slots=True)
class IndicatorDiagnostics(appraisal.IndicatorDiagnostics):
    """How one indicator version of a post's pinned scheme behaved in a cycle: the engine's figures for it
    (``hub.appraisal.IndicatorDiagnostics``), and which indicator version they are for. The API's type of
    the same name adds the indicator version itself (``schema/diagnostics.py``)."""

    indicator_version_id: int = field(kw_only=True)


async def scheme_diagnostics(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    cycle_id: int,
    post_id: int,
    only: Sequence[ColumnElement[bool]] = (),
) -> list[IndicatorDiagnostics]:
    """One record per item of the scheme pinned for ``post_id`` in ``cycle_id``, in the scheme's order.

    Empty when the post is not pinned in the cycle or has no results in it. ``only``: conditions on the
    results counted (the API leaves out some people for some callers).
    """
    async with sessionmaker() as session, session.begin():
        found = (
            await session.execute(
                select(
                    select(Cycle.id).where(Cycle.id == cycle_id).scalar_subquery().label("cycle_id"),
                    select(Post.id).where(Post.id == post_id).scalar_subquery().label("post_id"),
                    select(CycleScheme.scheme_version_id)
                    .where(CycleScheme.cycle_id == cycle_id, CycleScheme.post_id == post_id)
                    .scalar_subquery()
                    .label("scheme_version_id"),
                )
            )
        ).one()
        if found.cycle_id is None:
            raise NotFound("cycle", cycle_id, field="cycleId")
        if found.post_id is None:
            raise NotFound("post", post_id, field="postId")
        if found.scheme_version_id is None:
            return []

        item_ids = list(
            (
                await session.scalars(
                    select(SchemeItem.indicator_version_id)
                    .where(SchemeItem.scheme_version_id == found.scheme_version_id)
                    .order_by(SchemeItem.position, SchemeItem.id)
                )
            ).all()
        )
        rows = (
            await session.execute(
                select(
                    AppraisalResult.id,
                    AppraisalResult.computed_total,
                    IndicatorScore.indicator_version_id,
                    IndicatorScore.normalized_score,
                )
                .outerjoin(IndicatorScore, IndicatorScore.result_id == AppraisalResult.id)
                .where(AppraisalResult.cycle_id == cycle_id, AppraisalResult.post_id == post_id, *only)
                .order_by(AppraisalResult.id)
            )
        ).all()

    totals: dict[int, float] = {}
    scores: defaultdict[int, dict[int, float | None]] = defaultdict(dict)
    for row in rows:
        totals[row.id] = row.computed_total
        if row.indicator_version_id is not None:
            scores[row.id][row.indicator_version_id] = row.normalized_score
    if not totals:
        return []

    result_ids = list(totals)  # ordered by result id
    columns = {item_id: [scores.get(result_id, {}).get(item_id) for result_id in result_ids] for item_id in item_ids}
    diagnostics = appraisal.diagnose_scheme(columns, [totals[result_id] for result_id in result_ids])
    return [_for_version(item_id, diagnostics[item_id]) for item_id in item_ids]


def _for_version(indicator_version_id: int, d: appraisal.IndicatorDiagnostics) -> IndicatorDiagnostics:
    return IndicatorDiagnostics(
        d.count,
        d.mean,
        d.stddev,
        d.ceiling_share,
        d.floor_share,
        d.correlation,
        d.missing_rate,
        list(d.flags),
        indicator_version_id=indicator_version_id,
    )
