"""How complete each result's inputs were, read back from its stored indicator scores and its scheme's rater
weights (two statements a batch): the same count as scoring's coverage (``hub.operations.coverage``)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from hub.db.models import AppraisalResult, IndicatorScore, IndicatorVersion, SchemeRaterWeight
from hub.domain import MANUAL_SOURCE
from hub.operations.coverage import Completeness, ItemInput, completeness, rated_share
from resolvers.loaders.base import SessionLoader


class CompletenessByResultLoader(SessionLoader[int, Completeness | None, Completeness]):
    """Keyed by result id: the share of the scheme's weight whose inputs were there (a measured value stored; the
    rater weight of the roles whose ratings are stored), and whether the people-rated or the measured part went
    without any. None for a result without scores."""

    async def batch_load_fn(self, keys: list[int]) -> list[Completeness | None]:
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
            .where(IndicatorScore.result_id.in_(set(keys)))
        )
        async with self.sessionmaker() as session:
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
        return [completeness(items[key]) if key in items else None for key in keys]
