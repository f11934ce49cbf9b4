"""One run of the demo seed: every table of the demo organisation written in a fixed order.

``Seeder.run`` draws everything from one ``random.Random(seed)``; the order of the draws is what
makes the same seed and the same ``today`` write the same rows, so keep it when changing anything.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from hub.db.models import (
    Cycle,
    CycleScheme,
    CycleTransition,
    Department,
    Employee,
    Indicator,
    IndicatorVersion,
    MetricValue,
    Post,
    PostAssignment,
    RaterAssignment,
    Rating,
    SchemeItem,
    SchemeRaterWeight,
    SchemeVersion,
)
from hub.demo.catalogue import (
    DEPARTMENTS,
    GIVEN_NAME_CHARACTERS,
    POSTS,
    RATER_WEIGHTS,
    ROOT_DEPARTMENT_CODE,
    SURNAMES,
    SchemePlan,
    quarter_of,
    scheme_plans,
)
from hub.demo.indicators import INDICATORS
from hub.demo.people import People, build_people, rater_assignments
from hub.demo.ratings import Ratings
from hub.demo.values import demo_metric_value, metric_checksum
from hub.demo.writer import SeedWriter
from hub.domain import CycleState

SEED_ACTOR = "seed"
CURRENT_SUBMITTED_SHARE = 1 / 3

_DAY = dt.timedelta(days=1)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


class Seeder:
    """One seeding run: draws everything from one random.Random(seed), in a fixed order."""

    def __init__(self, writer: SeedWriter, seed: int, employees: int, today: dt.date) -> None:
        self.writer, self.seed, self.count, self.today = writer, seed, employees, today
        self.rng = random.Random(seed)
        self.current = quarter_of(today)
        self.past = self.current.shifted(-1)
        self.numbers = [f"E{i + 1:06d}" for i in range(employees)]
        self.version_ids: dict[tuple[str, int], int] = {}  # (indicator code, version) -> id

    async def run(self) -> tuple[int, int]:
        departments = await self.departments()
        post_ids = await self.writer.ids(
            Post,
            [
                {
                    "code": p.code,
                    "name": p.name,
                    "family": p.family,
                    "department_id": departments[p.department_code],
                }
                for p in POSTS
            ],
        )
        people = build_people(self.rng, self.count, self.past.start)
        employee_ids = await self.employees(people, departments, post_ids)
        await self.indicators()
        plans = scheme_plans(self.current)
        scheme_ids = dict(zip(plans, await self.schemes(plans, post_ids), strict=True))

        quarters = (self.past, self.current)
        cycle_ids = await self.writer.ids(
            Cycle,
            [
                {
                    "name": q.name,
                    "period_start": q.start,
                    "period_end": q.end,
                    "state": CycleState.OPEN,
                    "created_at": _at(q.start - 7 * _DAY, 9),
                }
                for q in quarters
            ],
        )
        await self.writer.rows(
            CycleTransition,
            (
                {
                    "cycle_id": c,
                    "from_state": CycleState.DRAFT,
                    "to_state": CycleState.OPEN,
                    "actor": SEED_ACTOR,
                    "reason": "Demo cycle opened by the seed.",
                    "at": _at(q.start, 8),
                }
                for c, q in zip(cycle_ids, quarters, strict=True)
            ),
        )
        # Each cycle pins, per post, the scheme version in force when the cycle's period starts.
        pinned = [
            [next(s for s in plans if s.post == p and s.covers(q.start)) for p in range(len(POSTS))] for q in quarters
        ]
        await self.writer.rows(
            CycleScheme,
            (
                {"cycle_id": c, "post_id": post_ids[p], "scheme_version_id": scheme_ids[plan]}
                for c, plans_of in zip(cycle_ids, pinned, strict=True)
                for p, plan in enumerate(plans_of)
            ),
        )

        ratings = Ratings(self.rng, self.seed, self.numbers, self.version_ids, people, employee_ids)
        submit_from = (_at(self.past.end - 13 * _DAY, 8), _at(self.current.start, 8))
        submit_days = (14, max(1, (self.today - self.current.start).days))
        for c, plans_of, start, days, share in zip(
            cycle_ids, pinned, submit_from, submit_days, (1.0, CURRENT_SUBMITTED_SHARE), strict=True
        ):
            relations = rater_assignments(self.rng, people)
            await self.writer.rows(
                RaterAssignment,
                (
                    {
                        "cycle_id": c,
                        "ratee_id": employee_ids[ratee],
                        "rater_id": employee_ids[rater],
                        "role": role,
                    }
                    for ratee, rater, role in relations
                ),
            )
            await self.writer.rows(Rating, ratings.rows(c, plans_of, relations, share, start, days))
        await self.writer.rows(MetricValue, self.metric_rows(cycle_ids[0], pinned[0], people, employee_ids))
        return cycle_ids[0], cycle_ids[1]

    async def departments(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        # The root first, so that the sections can point at it.
        for is_root in (True, False):
            level = [d for d in DEPARTMENTS if (d.parent_code is None) == is_root]
            rows = [
                {"code": d.code, "name": d.name, "parent_id": None if is_root else ids[str(d.parent_code)]}
                for d in level
            ]
            ids.update(zip([d.code for d in level], await self.writer.ids(Department, rows), strict=True))
        return ids

    async def employees(self, people: People, departments: dict[str, int], post_ids: list[int]) -> list[int]:
        rng = self.rng
        rows = []
        for i, number in enumerate(self.numbers):
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN_NAME_CHARACTERS, k=rng.choice((1, 2, 2))))
            section = ROOT_DEPARTMENT_CODE if i == 0 else POSTS[people.post[i]].department_code
            rows.append(
                {
                    "employee_no": number,
                    "name": name,
                    "department_id": departments[section],
                    "post_id": post_ids[people.post[i]],
                    "manager_id": None,
                    "hired_on": people.hired_on[i],
                }
            )
        ids = await self.writer.ids(Employee, rows, key="employee_no")
        # Managers are set afterwards: a row cannot name an id that its own chunk has not returned yet.
        await self.writer.set_managers(
            {"b_id": ids[i], "b_mgr": ids[m]} for i, m in enumerate(people.manager) if m is not None
        )
        await self.writer.rows(
            PostAssignment,
            (
                {"employee_id": ids[i], "post_id": post_ids[p], "start_date": start, "end_date": end}
                for i, p, start, end in people.history
            ),
        )
        return ids

    async def indicators(self) -> None:
        indicator_ids = await self.writer.ids(
            Indicator,
            [
                {
                    "code": s.code,
                    "name": s.name,
                    "category": s.category,
                    "unit": s.unit,
                    "direction": s.direction,
                }
                for s in INDICATORS
            ],
        )
        keys, rows = [], []
        for spec, indicator_id in zip(INDICATORS, indicator_ids, strict=True):
            starts = [self.current.shifted(-v.quarters_back).start for v in spec.versions]
            for n, version in enumerate(spec.versions):
                keys.append((spec.code, n + 1))
                rows.append(
                    {
                        "indicator_id": indicator_id,
                        "version": n + 1,
                        "effective_from": starts[n],
                        "effective_to": starts[n + 1] - _DAY if n + 1 < len(starts) else None,
                        "change_note": version.change_note,
                        "author": SEED_ACTOR,
                        "created_at": _at(starts[n] - 14 * _DAY, 9),
                        "rule": _json_copy(version.rule),
                        "missing_policy": spec.missing_policy,
                        "source_system": spec.source_system,
                        "source_metric": spec.source_metric,
                    }
                )
        self.version_ids = dict(zip(keys, await self.writer.ids(IndicatorVersion, rows), strict=True))

    async def schemes(self, plans: list[SchemePlan], post_ids: list[int]) -> list[int]:
        ids = await self.writer.ids(
            SchemeVersion,
            [
                {
                    "post_id": post_ids[plan.post],
                    "version": plan.version,
                    "effective_from": plan.start,
                    "effective_to": plan.end,
                    "change_note": plan.note,
                    "author": SEED_ACTOR,
                    "created_at": _at(plan.start - 14 * _DAY, 9),
                }
                for plan in plans
            ],
        )
        await self.writer.rows(
            SchemeItem,
            (
                {
                    "scheme_version_id": scheme_id,
                    "indicator_version_id": self.version_ids[(spec.code, version)],
                    "weight": float(weight),
                    "position": position,
                }
                for plan, scheme_id in zip(plans, ids, strict=True)
                for position, (spec, version, weight) in enumerate(plan.items)
            ),
        )
        await self.writer.rows(
            SchemeRaterWeight,
            (
                {"scheme_version_id": scheme_id, "role": role, "weight": float(weight)}
                for scheme_id in ids
                for role, weight in RATER_WEIGHTS.items()
            ),
        )
        return ids

    def metric_rows(
        self, cycle: int, plans_of: list[SchemePlan], people: People, employee_ids: list[int]
    ) -> Iterator[dict[str, object]]:
        period, fetched_at = self.past, _at(self.past.end + _DAY, 2)
        for i, number in enumerate(self.numbers):
            for spec, version, _ in plans_of[people.post[i]].items:
                if spec.source is None:
                    continue
                system, metric = spec.source.system, spec.source.metric
                value = demo_metric_value(self.seed, number, metric, period.start)
                if value is None:  # the system has no record: scoring applies the missing policy
                    continue
                yield {
                    "cycle_id": cycle,
                    "employee_id": employee_ids[i],
                    "indicator_version_id": self.version_ids[(spec.code, version)],
                    "value": value,
                    "system": system,
                    "metric": metric,
                    "fetched_at": fetched_at,
                    "stale": False,
                    "checksum": metric_checksum(system, metric, number, period.start, period.end, value),
                }


def _json_copy(value: object) -> object:
    # The catalogue's rules are shared constants; every row gets its own plain-JSON copy.
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value
