"""Ranks and percentiles of a cycle's stored results, recomputed from their current totals, and the completeness
of stored results read back from their indicator scores.

A result scored without any rating (HR's ``allowIncomplete``) is not ranked (``engine.assign_grades_and_ranks``):
re-ranking reads which results are so from their stored people-rated scores, as ``AppraisalResult.completeness``
does (``resolvers/loaders/completeness.py`` reads through :func:`stored_completeness` too).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appraisal import GradeBands, Placement, assign_grades_and_ranks
from hub.db.models import AppraisalResult, IndicatorScore, IndicatorVersion, SchemeRaterWeight
from hub.domain import MANUAL_SOURCE
from hub.operations.coverage import Completeness, ItemInput, completeness, rated_share


async def stored_completeness(session: AsyncSession, *conditions: ColumnElement[bool]) -> dict[int, Completeness]:
    """Result id -> how complete its inputs were, from the indicator scores the conditions select (two statements):
    the share of the scheme's weight whose inputs were there (a measured value stored; the rater weight of the
    roles whose ratings are stored), and whether the people-rated or the measured part went without any."""
    scores = (
        select(
            IndicatorScore.result_id,
            IndicatorScore.weight,
            IndicatorScore.raw_value,
            IndicatorScore.inputs,
            IndicatorVersion.source_system,
            AppraisalResult.scheme_version_id,
        )
        .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
        .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
        .where(*conditions)
    )
    rows = (await session.execute(scores)).all()
    schemes = {row.scheme_version_id for row in rows}
    weights = select(SchemeRaterWeight.scheme_version_id, SchemeRaterWeight.role, SchemeRaterWeight.weight)
    role_rows = (await session.execute(weights.where(SchemeRaterWeight.scheme_version_id.in_(schemes)))).all()
    role_weights: defaultdict[int, dict[str, float]] = defaultdict(dict)
    for scheme_id, role, weight in role_rows:
        role_weights[scheme_id][role.value] = weight
    items: defaultdict[int, list[ItemInput]] = defaultdict(list)
    for row in rows:
        rated = row.source_system == MANUAL_SOURCE
        if rated:
            share = rated_share(row.inputs or {}, role_weights[row.scheme_version_id])
        else:
            share = float(row.raw_value is not None)
        items[row.result_id].append(ItemInput(row.weight, rated, share))
    return {result_id: completeness(found) for result_id, found in items.items()}


async def unrated_results(session: AsyncSession, cycle_id: int) -> set[int]:
    """The cycle's results scored without any rating although their scheme weighs people-rated indicators. Reads
    the people-rated scores only (their completeness says nothing else true)."""
    found = await stored_completeness(
        session, AppraisalResult.cycle_id == cycle_id, IndicatorVersion.source_system == MANUAL_SOURCE
    )
    return {result_id for result_id, result in found.items() if result.without_ratings}


async def rerank(session: AsyncSession, cycle_id: int, bands: GradeBands) -> None:
    """Recomputes ranks and percentiles from the current (possibly calibrated) totals; results scored without any
    rating stay unranked."""
    rows = (
        await session.execute(
            select(
                AppraisalResult.id,
                AppraisalResult.post_id,
                AppraisalResult.department_id,
                AppraisalResult.total_score,
            ).where(AppraisalResult.cycle_id == cycle_id)
        )
    ).all()
    unrated = await unrated_results(session, cycle_id) if rows else set()
    placements = (
        Placement(row.id, row.post_id, row.department_id, row.total_score, row.id not in unrated) for row in rows
    )
    standings = assign_grades_and_ranks(placements, bands)
    if not standings:
        return
    await session.execute(
        update(AppraisalResult),
        [
            {
                "id": result_id,
                "rank_in_post": standing.rank_in_post,
                "percentile_in_post": standing.percentile_in_post,
                "rank_in_department": standing.rank_in_department,
                "percentile_in_department": standing.percentile_in_department,
            }
            for result_id, standing in standings.items()
        ],
    )
