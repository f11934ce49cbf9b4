"""The demo's 360 ratings: 1-5 values that scatter around each ratee's latent performance."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from hub.demo.catalogue import SchemePlan
from hub.demo.indicators import CORE_INDICATORS
from hub.demo.people import People, Relation
from hub.demo.values import latent_performance
from hub.domain import IndicatorCategory, RaterRole

# Raters are not equally strict: self-ratings run highest, managers are the reference.
ROLE_LENIENCY = {RaterRole.SELF: 0.4, RaterRole.MANAGER: 0.0, RaterRole.PEER: 0.1, RaterRole.SUBORDINATE: 0.2}
RATING_NOISE = 0.55


class Ratings:
    """Draws 1-5 ratings that scatter around each ratee's latent performance."""

    def __init__(
        self,
        rng: random.Random,
        seed: int,
        numbers: list[str],
        version_ids: dict[tuple[str, int], int],
        people: People,
        employee_ids: list[int],
    ) -> None:
        # ``rng`` is the seed's own generator: drawing here, at construction, is part of its fixed order.
        self.rng = rng
        self.people, self.employee_ids, self.version_ids = people, employee_ids, version_ids
        latent = [latent_performance(seed, number) for number in numbers]
        # Everyone is a little stronger in some competencies than in others, and every rater a
        # little more lenient or severe than the next, as in real 360 data.
        self.aptitude = [[min(1.0, max(0.0, p + rng.gauss(0, 0.08))) for _ in CORE_INDICATORS] for p in latent]
        self.leniency = [rng.gauss(0.0, 0.3) for _ in latent]

    def rows(
        self,
        cycle: int,
        plans_of: list[SchemePlan],
        relations: list[Relation],
        share: float,
        start: dt.datetime,
        days: int,
    ) -> Iterator[dict[str, object]]:
        rng = self.rng
        core = [
            [self.version_ids[(s.code, v)] for s, v, _ in plan.items if s.category is IndicatorCategory.CORE]
            for plan in plans_of
        ]
        rated: set[int] = set()
        late: dict[int, tuple[int, RaterRole]] = {}
        for ratee, rater, role in relations:
            if share < 1.0 and rng.random() >= share:
                late.setdefault(ratee, (rater, role))  # this rater has not submitted yet
                continue
            rated.add(ratee)
            yield from self._rater_rows(rng, cycle, core, ratee, rater, role, start, days)
        # Nobody is left without a single rater, as HR would chase before scoring (``cycleScore`` refuses a
        # result with no rating): the first late rater of each such ratee has submitted after all. From a
        # generator of the ratee's own, so that the seed's stream, and everyone else's ratings, stay as they were.
        for ratee, (rater, role) in late.items():
            if ratee not in rated:
                own = random.Random(f"{cycle}:{self.employee_ids[ratee]}")
                yield from self._rater_rows(own, cycle, core, ratee, rater, role, start, days)

    def _rater_rows(
        self,
        rng: random.Random,
        cycle: int,
        core: list[list[int]],
        ratee: int,
        rater: int,
        role: RaterRole,
        start: dt.datetime,
        days: int,
    ) -> Iterator[dict[str, object]]:
        ids = self.employee_ids
        at = start + dt.timedelta(seconds=rng.randrange(days * 86_400))
        bias = ROLE_LENIENCY[role] + self.leniency[rater]
        for aptitude, version_id in zip(self.aptitude[ratee], core[self.people.post[ratee]], strict=True):
            value = min(5, max(1, round(rng.gauss(1.0 + 4.0 * aptitude + bias, RATING_NOISE))))
            yield {
                "cycle_id": cycle,
                "ratee_id": ids[ratee],
                "rater_id": ids[rater],
                "role": role,
                "indicator_version_id": version_id,
                "value": float(value),
                "comment": None,
                "submitted_at": at,
            }
