"""Scheme diagnostics of a post in a cycle: one record per scheme item, sane statistics, telling flags."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.appraisal.diagnostics import MIN_SAMPLE
from hub.db.models import AppraisalResult, CycleScheme, IndicatorScore, Post, SchemeItem
from hub.demo.organisation import SeedSummary
from hub.operations.diagnostics import IndicatorDiagnostics, scheme_diagnostics
from hub.operations.errors import NotFound

Sessions = async_sessionmaker[AsyncSession]
FINANCE = "FINANCE"


async def _finance_post(sessionmaker: Sessions, cycle_id: int) -> int:
    """The finance-family post with the most results in the cycle."""
    async with sessionmaker() as session:
        post_id = await session.scalar(
            select(Post.id)
            .join(AppraisalResult, AppraisalResult.post_id == Post.id)
            .where(Post.family == FINANCE, AppraisalResult.cycle_id == cycle_id)
            .group_by(Post.id)
            .order_by(func.count().desc(), Post.id)
            .limit(1)
        )
    assert post_id is not None
    return post_id


async def _scheme_items(sessionmaker: Sessions, cycle_id: int, post_id: int) -> list[int]:
    """The indicator versions of the post's pinned scheme, in the scheme's order."""
    async with sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(SchemeItem.indicator_version_id)
                    .join(CycleScheme, CycleScheme.scheme_version_id == SchemeItem.scheme_version_id)
                    .where(CycleScheme.cycle_id == cycle_id, CycleScheme.post_id == post_id)
                    .order_by(SchemeItem.position, SchemeItem.id)
                )
            ).all()
        )


def _result_ids(cycle_id: int, post_id: int) -> Any:
    return select(AppraisalResult.id).where(AppraisalResult.cycle_id == cycle_id, AppraisalResult.post_id == post_id)


async def _result_count(sessionmaker: Sessions, cycle_id: int, post_id: int) -> int:
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(_result_ids(cycle_id, post_id).subquery()))) or 0


def _in_range(value: float | None, low: float, high: float) -> bool:
    return value is None or low <= value <= high


async def test_one_record_per_scheme_item_with_sane_statistics(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """The past cycle's finance post gets one record per scheme item in order, shares in 0..1, r in -1..1."""
    cycle = seeded.past_cycle_id
    post = await _finance_post(sessionmaker, cycle)
    items = await _scheme_items(sessionmaker, cycle, post)
    results = await _result_count(sessionmaker, cycle, post)

    records = await scheme_diagnostics(sessionmaker, cycle_id=cycle, post_id=post)

    assert items
    assert [r.indicator_version_id for r in records] == items
    for record in records:
        assert isinstance(record, IndicatorDiagnostics)
        assert 0 <= record.count <= results
        assert 0.0 <= record.missing_rate <= 1.0
        assert _in_range(record.ceiling_share, 0.0, 1.0)
        assert _in_range(record.floor_share, 0.0, 1.0)
        assert _in_range(record.correlation, -1.0, 1.0)
        assert _in_range(record.mean, 0.0, 100.0)
        assert record.stddev is None or record.stddev >= 0.0
        assert all(isinstance(flag, str) for flag in record.flags)


async def test_an_indicator_everyone_maxes_out_does_not_discriminate(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    """When every employee of the post scores 100 on an indicator, it is flagged as not discriminating."""
    cycle = seeded.past_cycle_id
    post = await _finance_post(sessionmaker, cycle)
    target = (await _scheme_items(sessionmaker, cycle, post))[0]
    results = await _result_count(sessionmaker, cycle, post)
    assert results >= MIN_SAMPLE
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(IndicatorScore)
            .where(
                IndicatorScore.result_id.in_(_result_ids(cycle, post)),
                IndicatorScore.indicator_version_id == target,
            )
            .values(normalized_score=100.0)
        )

    records = {r.indicator_version_id: r for r in await scheme_diagnostics(sessionmaker, cycle_id=cycle, post_id=post)}

    maxed = records[target]
    assert (maxed.count, maxed.ceiling_share, maxed.stddev, maxed.correlation) == (results, 1.0, 0.0, None)
    assert any(flag.startswith("does not discriminate") for flag in maxed.flags), maxed.flags


async def test_null_and_absent_scores_count_as_missing(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A NULL normalized score and a missing indicator score row both count as missing data."""
    cycle = seeded.past_cycle_id
    post = await _finance_post(sessionmaker, cycle)
    target = (await _scheme_items(sessionmaker, cycle, post))[0]
    results = await _result_count(sessionmaker, cycle, post)
    async with sessionmaker() as session, session.begin():
        first, second = (await session.scalars(_result_ids(cycle, post).order_by(AppraisalResult.id).limit(2))).all()
        on_target = IndicatorScore.indicator_version_id == target
        await session.execute(
            update(IndicatorScore).where(IndicatorScore.result_id == first, on_target).values(normalized_score=None)
        )
        await session.execute(delete(IndicatorScore).where(IndicatorScore.result_id == second, on_target))

    records = await scheme_diagnostics(sessionmaker, cycle_id=cycle, post_id=post)

    record = next(r for r in records if r.indicator_version_id == target)
    assert record.count == results - 2
    assert record.missing_rate == pytest.approx(2 / results)


async def test_takes_three_statements_whatever_the_size(
    sessionmaker: Sessions, engine: AsyncEngine, seeded: SeedSummary
) -> None:
    """Diagnostics read with at most three SELECTs, for a small post as for the largest."""
    cycle = seeded.past_cycle_id
    async with sessionmaker() as session:
        posts = list(
            (
                await session.scalars(
                    select(AppraisalResult.post_id)
                    .where(AppraisalResult.cycle_id == cycle)
                    .group_by(AppraisalResult.post_id)
                    .order_by(func.count(), AppraisalResult.post_id)
                )
            ).all()
        )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        counts = []
        for post in (posts[0], posts[-1]):
            statements.clear()
            assert await scheme_diagnostics(sessionmaker, cycle_id=cycle, post_id=post)
            counts.append(len(statements))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)

    assert counts[0] == counts[1] <= 3


async def test_a_cycle_without_results_gives_no_records(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """The open current cycle has no results yet, so there is nothing to diagnose."""
    post = await _finance_post(sessionmaker, seeded.past_cycle_id)

    assert await scheme_diagnostics(sessionmaker, cycle_id=seeded.current_cycle_id, post_id=post) == []


async def test_a_post_not_pinned_in_the_cycle_gives_no_records(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A post that had no scheme pinned when the cycle opened has nothing to diagnose."""
    async with sessionmaker() as session, session.begin():
        department_id = await session.scalar(select(Post.department_id).limit(1))
        post_id = (
            await session.execute(
                insert(Post)
                .values(code="TST-NEW", name="New post", family=FINANCE, department_id=department_id)
                .returning(Post.id)
            )
        ).scalar_one()

    assert await scheme_diagnostics(sessionmaker, cycle_id=seeded.past_cycle_id, post_id=post_id) == []


async def test_unknown_cycle_or_post_is_not_found(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """An id naming no cycle or no post is NotFound on its field."""
    post = await _finance_post(sessionmaker, seeded.past_cycle_id)

    with pytest.raises(NotFound) as no_cycle:
        await scheme_diagnostics(sessionmaker, cycle_id=10**9, post_id=post)
    with pytest.raises(NotFound) as no_post:
        await scheme_diagnostics(sessionmaker, cycle_id=seeded.past_cycle_id, post_id=10**9)

    assert (no_cycle.value.entity, no_cycle.value.field) == ("cycle", "cycleId")
    assert (no_post.value.entity, no_post.value.field) == ("post", "postId")
