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

from hub.appraisal import diagnose_scheme
from hub.db.models import AppraisalResult, Cycle, CycleScheme, IndicatorScore, Post, SchemeItem
from hub.operations.errors import NotFound


@dataclass(frozen=True, slots=True)
class IndicatorDiagnosticsRecord:
    """How one indicator version of a post's pinned scheme behaved in a cycle.

    Shares and rates are fractions (0.4 is 40%); ``stddev`` is in points on the 0-100 scale;
    ``correlation`` is Pearson's with the computed total, None when undefined; ``flags`` are
    warnings for people.
    """

    indicator_version_id: int
    count: int
    mean: float | None
    stddev: float | None
    ceiling_share: float | None
    floor_share: float | None
    correlation: float | None
    missing_rate: float
    flags: list[str] = field(default_factory=list)


async def scheme_diagnostics(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    cycle_id: int,
    post_id: int,
    only: Sequence[ColumnElement[bool]] = (),
) -> list[IndicatorDiagnosticsRecord]:
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
    diagnostics = diagnose_scheme(columns, [totals[result_id] for result_id in result_ids])
    records = []
    for item_id in item_ids:
        d = diagnostics[item_id]
        records.append(
            IndicatorDiagnosticsRecord(
                indicator_version_id=item_id,
                count=d.count,
                mean=d.mean,
                stddev=d.stddev,
                ceiling_share=d.ceiling_share,
                floor_share=d.floor_share,
                correlation=d.correlation,
                missing_rate=d.missing_rate,
                flags=list(d.flags),
            )
        )
    return records
