"""Loaders for cycles, appraisal results and indicator scores."""

from __future__ import annotations

from sqlalchemy import func, tuple_

from hub.db.models import AppraisalResult, Cycle, CycleTransition, IndicatorScore, Rating
from resolvers.loaders.base import (
    RowByKeyLoader,
    RowsByKeyLoader,
    RowsStatement,
    ScopedLoaderMixin,
    SessionLoader,
    select_rows,
)
from resolvers.records import CycleRow, CycleTransitionRow, IndicatorScoreRow, RatingRow, ResultRow


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
