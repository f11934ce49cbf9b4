"""How complete each result's inputs were, read back from its stored indicator scores and its scheme's rater
weights (two statements a batch, ``hub.operations.ranking.stored_completeness``): the same count as scoring's
coverage (``hub.operations.coverage``)."""

from __future__ import annotations

from hub.db.models import IndicatorScore
from hub.operations.coverage import Completeness
from hub.operations.ranking import stored_completeness
from resolvers.loaders.base import SessionLoader


class CompletenessByResultLoader(SessionLoader[int, Completeness | None, Completeness]):
    """Keyed by result id: the share of the scheme's weight whose inputs were there (a measured value stored; the
    rater weight of the roles whose ratings are stored), and whether the people-rated or the measured part went
    without any. None for a result without scores."""

    async def batch_load_fn(self, keys: list[int]) -> list[Completeness | None]:
        async with self.sessionmaker() as session:
            found = await stored_completeness(session, IndicatorScore.result_id.in_(set(keys)))
        return [found.get(key) for key in keys]
