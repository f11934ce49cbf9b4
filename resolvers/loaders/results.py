"""Loaders for cycles, appraisal results and indicator scores."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, select, tuple_
from sqlalchemy.orm import aliased

from hub.db.models import AppraisalResult, Cycle, CycleTransition, IndicatorScore, Rating
from hub.domain import CycleState
from resolvers.loaders.base import (
    RowByKeyLoader,
    RowsByKeyLoader,
    RowsStatement,
    ScopedLoaderMixin,
    SessionLoader,
    select_rows,
)
from resolvers.records import (
    CycleRow,
    CycleTransitionRow,
    EarlierResultRow,
    IndicatorScoreRow,
    RankGroupsRow,
    RatingRow,
    ResultRow,
)


class CycleByIdLoader(RowByKeyLoader[int, CycleRow]):
    key_column = Cycle.id


class ResultByIdLoader(ScopedLoaderMixin, RowByKeyLoader[int, ResultRow]):
    key_column = AppraisalResult.id

    def statement(self) -> RowsStatement:
        return select_rows(AppraisalResult).where(*self.scope.results())


class ResultByEmployeeCycleLoader(ScopedLoaderMixin, SessionLoader[tuple[int, int], ResultRow | None, ResultRow]):
    """Keyed by (employee id, cycle id); results outside the principal's scope load as None."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[ResultRow | None]:
        statement = select_rows(AppraisalResult).where(
            tuple_(AppraisalResult.employee_id, AppraisalResult.cycle_id).in_(set(keys)), *self.scope.results()
        )
        found = {(row.employee_id, row.cycle_id): row for row in await self.fetch(statement)}
        return [found.get(key) for key in keys]


class ResultsByEmployeeLoader(ScopedLoaderMixin, RowsByKeyLoader[int, ResultRow]):
    key_column = AppraisalResult.employee_id

    def statement(self) -> RowsStatement:
        return (
            select_rows(AppraisalResult)
            .where(*self.scope.results())
            .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
            .order_by(Cycle.period_start, AppraisalResult.id)
        )


class PreviousResultByResultLoader(ScopedLoaderMixin, SessionLoader[int, ResultRow | None, EarlierResultRow]):
    """Keyed by a result's id: the same employee's result in the latest PUBLISHED cycle whose period starts
    before this result's cycle's, among the results the principal may read; None when there is none."""

    async def batch_load_fn(self, keys: list[int]) -> list[ResultRow | None]:
        current = aliased(AppraisalResult)
        current_cycle = aliased(Cycle)
        # The earlier result is the unaliased table, so that the scope's conditions apply to it.
        statement = (
            select_rows(AppraisalResult)
            .add_columns(current.id.label("current_id"))
            .join(current, current.employee_id == AppraisalResult.employee_id)
            .join(current_cycle, current_cycle.id == current.cycle_id)
            .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
            .where(
                current.id.in_(set(keys)),
                Cycle.state == CycleState.PUBLISHED,
                Cycle.period_start < current_cycle.period_start,
                *self.scope.results(),
            )
            .order_by(Cycle.period_start, Cycle.id)
        )
        latest: dict[int, ResultRow] = {}
        for row in await self.fetch(statement):
            latest[row.current_id] = row  # in period order: the last one kept is the latest
        return [latest.get(key) for key in keys]


def _ranked_beside(group: str, rank: str) -> ScalarSelect[int]:
    """How many results of the outer result's cycle share its ``group`` column and have a ``rank`` there."""
    peer = aliased(AppraisalResult)
    same_group = [getattr(peer, column) == getattr(AppraisalResult, column) for column in ("cycle_id", group)]
    ranked = getattr(peer, rank).is_not(None)
    return select(func.count()).where(*same_group, ranked).correlate(AppraisalResult).scalar_subquery()


class RankGroupsByResultLoader(SessionLoader[int, RankGroupsRow | None, RankGroupsRow]):
    """Keyed by a result's id: how many results its ranks are among (its cycle's results in its post, and in
    its department). Whole groups, not the principal's scope: a rank is a place among everyone ranked."""

    async def batch_load_fn(self, keys: list[int]) -> list[RankGroupsRow | None]:
        statement = select(
            AppraisalResult.id,
            _ranked_beside("post_id", "rank_in_post").label("in_post"),
            _ranked_beside("department_id", "rank_in_department").label("in_department"),
        ).where(AppraisalResult.id.in_(set(keys)))
        found = {row.id: row for row in await self.fetch(statement)}
        return [found.get(key) for key in keys]


class IndicatorScoresByResultLoader(RowsByKeyLoader[int, IndicatorScoreRow]):
    key_column = IndicatorScore.result_id
    order_by = (IndicatorScore.id,)


class TransitionsByCycleLoader(RowsByKeyLoader[int, CycleTransitionRow]):
    key_column = CycleTransition.cycle_id
    order_by = (CycleTransition.at, CycleTransition.id)


class RatingsByRateeCycleLoader(SessionLoader[tuple[int, int], list[RatingRow], RatingRow]):
    """Ratings received, keyed by (ratee id, cycle id), by indicator, role, value and comment.

    Never by time or rater: the order of anonymous ratings must not tell which came from whom (the last
    one in is the colleague who rated late). Rows equal in all four are equal in everything shown.
    """

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[RatingRow]]:
        statement = (
            select_rows(Rating)
            .where(tuple_(Rating.ratee_id, Rating.cycle_id).in_(set(keys)))
            .order_by(
                Rating.indicator_version_id, Rating.role, Rating.value, func.coalesce(Rating.comment, ""), Rating.id
            )
        )
        grouped: dict[tuple[int, int], list[RatingRow]] = {key: [] for key in keys}
        for row in await self.fetch(statement):
            grouped[(row.ratee_id, row.cycle_id)].append(row)
        return [grouped[key] for key in keys]
