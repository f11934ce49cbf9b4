"""How complete each result's inputs were, read from its stored indicator scores (one statement a batch)."""

from __future__ import annotations

from sqlalchemy import case, func, select

from hub.db.models import IndicatorScore, IndicatorVersion
from hub.domain import MANUAL_SOURCE
from hub.operations.coverage import Completeness
from resolvers.loaders.base import SessionLoader


class CompletenessByResultLoader(SessionLoader[int, Completeness | None, Completeness]):
    """Keyed by result id: the share of the scheme's weight whose indicator had a value (a raw value stored),
    and whether the people-rated or the measured part went without any. None for a result without scores."""

    async def batch_load_fn(self, keys: list[int]) -> list[Completeness | None]:
        manual = IndicatorVersion.source_system == MANUAL_SOURCE
        present = IndicatorScore.raw_value.is_not(None)
        weight = IndicatorScore.weight

        statement = (
            select(
                IndicatorScore.result_id,
                func.sum(weight),
                func.sum(case((present, weight), else_=0.0)),
                func.sum(case((manual, weight), else_=0.0)),
                func.sum(case((manual & present, weight), else_=0.0)),
                func.sum(case((~manual, weight), else_=0.0)),
                func.sum(case((~manual & present, weight), else_=0.0)),
            )
            .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
            .where(IndicatorScore.result_id.in_(set(keys)))
            .group_by(IndicatorScore.result_id)
        )
        found: dict[int, Completeness] = {}
        async with self.sessionmaker() as session:
            for result_id, total, had, rated_weight, rated, measured_weight, measured in await session.execute(
                statement
            ):
                found[result_id] = Completeness(
                    percent=100.0 * float(had) / float(total) if total else 0.0,
                    without_ratings=float(rated_weight) > 0 and float(rated) == 0,
                    without_measures=float(measured_weight) > 0 and float(measured) == 0,
                )
        return [found.get(key) for key in keys]
