"""Seeds the demo organisation: the white paper's administration & logistics department, end to end.

``seed_demo`` writes departments, the 12 posts, employees with managers and post history, versioned
indicators and schemes, a past cycle full of 360 ratings and business-system metrics, and a current
cycle part-way through its ratings, in one transaction. Same seed and same ``today``, same rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tqdm import tqdm

from hub.db.models import (
    Base,
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
    CORE_INDICATORS,
    DEPARTMENT_HEAD_POST_CODE,
    DEPARTMENTS,
    GIVEN_NAME_CHARACTERS,
    INDICATORS,
    POSTS,
    RATER_WEIGHTS,
    ROOT_DEPARTMENT_CODE,
    SURNAMES,
    SchemePlan,
    demo_metric_value,
    latent_performance,
    metric_checksum,
    quarter_of,
    scheme_plans,
)
from hub.domain import CycleState, IndicatorCategory, RaterRole

CHUNK_SIZE = 5_000
SEED_ACTOR = "seed"
MIN_EMPLOYEES = len(POSTS) + 1  # one per post, plus the department's head
TEAM_SIZE = 8
EARLIER_POST_SHARE = 0.10
CURRENT_SUBMITTED_SHARE = 1 / 3
ROOT, SECTION_HEAD, TEAM_LEAD, STAFF = range(4)
# Days of service before the past cycle, by level: heads have been around longer than their staff.
SERVICE_DAYS = {ROOT: (3650, 9000), SECTION_HEAD: (1825, 7300), TEAM_LEAD: (730, 5000), STAFF: (120, 3650)}
# Raters are not equally strict: self-ratings run highest, managers are the reference.
ROLE_LENIENCY = {RaterRole.SELF: 0.4, RaterRole.MANAGER: 0.0, RaterRole.PEER: 0.1, RaterRole.SUBORDINATE: 0.2}
RATING_NOISE = 0.55

Relation = tuple[int, int, RaterRole]  # (ratee, rater, role), by employee index
_T = TypeVar("_T")
_DAY = dt.timedelta(days=1)


class DatabaseNotEmpty(RuntimeError):
    """Raised when the database already has an organisation: the demo never mixes into real data."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """How many rows the seed wrote, and the two cycles it opened."""

    departments: int
    posts: int
    employees: int
    post_assignments: int
    indicators: int
    indicator_versions: int
    scheme_versions: int
    cycles: int
    rater_assignments: int
    ratings: int
    metric_values: int
    past_cycle_id: int
    current_cycle_id: int


@dataclass(slots=True)
class People:
    """The generated organisation, by employee index (0 is the department's head)."""

    post: list[int]  # index into POSTS
    level: list[int]
    manager: list[int | None]
    hired_on: list[dt.date]
    history: list[tuple[int, int, dt.date, dt.date | None]]  # (employee, post, start, end)


def _headcounts(total: int) -> list[int]:
    # One per post, the rest shared by headcount_share with the largest remainders rounding up.
    rest, shares = total - len(POSTS), [p.headcount_share for p in POSTS]
    exact = [rest * s / sum(shares) for s in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(POSTS)), key=lambda i: (counts[i] - exact[i], i))[: rest - sum(counts)]:
        counts[i] += 1
    return [c + 1 for c in counts]


def build_people(rng: random.Random, count: int, before: dt.date) -> People:
    """Spread ``count`` employees over the posts, with a management line, hire dates and post history."""
    post = [p for p, n in enumerate(_headcounts(count - 1)) for _ in range(n)]
    rng.shuffle(post)
    post.insert(0, [p.code for p in POSTS].index(DEPARTMENT_HEAD_POST_CODE))
    level, manager = [STAFF] * count, [None if i == 0 else 0 for i in range(count)]
    level[0] = ROOT
    heads: dict[str, int] = {}  # section -> its head: the section's first employee
    members: list[list[int]] = [[] for _ in POSTS]
    for i in range(1, count):
        if heads.setdefault(POSTS[post[i]].department_code, i) != i:
            members[post[i]].append(i)
    for head in heads.values():
        level[head] = SECTION_HEAD
    for p, staff in enumerate(members):
        for first in range(0, len(staff), TEAM_SIZE):
            lead, *team = staff[first : first + TEAM_SIZE]
            level[lead], manager[lead] = TEAM_LEAD, heads[POSTS[p].department_code]
            for i in team:
                manager[i] = lead
    hired_on = [before - dt.timedelta(days=rng.randrange(*SERVICE_DAYS[level[i]])) for i in range(count)]
    siblings = [[q for q, o in enumerate(POSTS) if o.family == p.family and o != p] for p in POSTS]
    history: list[tuple[int, int, dt.date, dt.date | None]] = []
    for i in range(count):
        start, tenure = hired_on[i], (before - hired_on[i]).days
        # Some moved within their family before the past cycle, e.g. cashier -> accountant.
        if rng.random() < EARLIER_POST_SHARE and tenure >= 180:
            moved = start + dt.timedelta(days=rng.randrange(90, tenure - 30))
            history.append((i, rng.choice(siblings[post[i]]), start, moved - _DAY))
            start = moved
        history.append((i, post[i], start, None))
    return People(post, level, manager, hired_on, history)


def _pick(rng: random.Random, pool: list[int], k: int, excluded: set[int]) -> list[int]:
    if len(pool) <= 4 * k + len(excluded):
        options = [c for c in pool if c not in excluded]
        return rng.sample(options, min(k, len(options)))
    chosen: list[int] = []
    for _ in range(8 * k):  # a big pool rarely rejects, so a few draws find k without scanning it
        candidate = pool[rng.randrange(len(pool))]
        if candidate not in excluded and candidate not in chosen:
            chosen.append(candidate)
            if len(chosen) == k:
                break
    return chosen


def rater_assignments(rng: random.Random, people: People) -> list[Relation]:
    """One cycle's 360 relations: self, the manager, 2 peers and up to 2 direct reports per employee."""
    count = len(people.post)
    reports: list[list[int]] = [[] for _ in range(count)]
    for i, m in enumerate(people.manager):
        if m is not None:
            reports[m].append(i)
    # Peers work at the same level: in the same post first, then the same section, then anywhere.
    scopes = [(people.post[i], POSTS[people.post[i]].department_code, None) for i in range(count)]
    pools: dict[tuple[int, object], list[int]] = {}
    for i in range(count):
        for scope in scopes[i]:
            pools.setdefault((people.level[i], scope), []).append(i)
    relations: list[Relation] = []
    for i in range(count):
        boss = people.manager[i]
        relations.append((i, i, RaterRole.SELF))
        if boss is not None:
            relations.append((i, boss, RaterRole.MANAGER))
        excluded = {i, *reports[i]} | ({boss} if boss is not None else set())
        peers: list[int] = []
        for scope in scopes[i]:
            found = _pick(rng, pools[(people.level[i], scope)], 2 - len(peers), excluded)
            peers += found
            excluded.update(found)
            if len(peers) == 2:
                break
        relations.extend((i, peer, RaterRole.PEER) for peer in peers)
        subordinates = rng.sample(reports[i], min(2, len(reports[i])))
        relations.extend((i, s, RaterRole.SUBORDINATE) for s in subordinates)
    return relations


def _chunks(rows: Iterable[_T]) -> Iterator[list[_T]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_SIZE)):
        yield chunk


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


class _Writer:
    """Bulk inserts in chunks inside the caller's transaction, counting rows per table."""

    def __init__(self, session: AsyncSession, progress: bool) -> None:
        self._session = session
        self._bar = tqdm(desc="seeding demo", unit=" rows", unit_scale=True, disable=not progress)
        self.counts: Counter[str] = Counter()

    def _done(self, table: Table, rows: int) -> None:
        self.counts[table.name] += rows
        self._bar.set_postfix_str(table.name, refresh=False)
        self._bar.update(rows)

    async def ids(self, model: type[Base], rows: list[dict[str, Any]], key: str | None = None) -> list[int]:
        """Insert rows and return their ids in the rows' order; big tables name a unique ``key``."""
        table = Base.metadata.tables[model.__tablename__]
        # SQLite cannot batch an ordered RETURNING (SQLAlchemy then sends one statement per row), so
        # a big table returns its natural key beside the id and the order is restored here.
        if key is None:
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        else:
            statement = insert(table).returning(table.c.id, table.c[key])
        ids: list[int] = []
        for chunk in _chunks(rows):
            result = await self._session.execute(statement, chunk)
            if key is None:
                ids.extend(result.scalars())
            else:
                by_key = {k: i for i, k in result}
                ids.extend(by_key[row[key]] for row in chunk)
            self._done(table, len(chunk))
        return ids

    async def rows(self, model: type[Base], rows: Iterable[dict[str, Any]]) -> None:
        table = Base.metadata.tables[model.__tablename__]
        for chunk in _chunks(rows):
            await self._session.execute(insert(table), chunk)
            self._done(table, len(chunk))

    async def set_managers(self, pairs: Iterable[dict[str, int]]) -> None:
        table = Base.metadata.tables[Employee.__tablename__]
        statement = update(table).where(table.c.id == bindparam("b_id")).values(manager_id=bindparam("b_mgr"))
        for chunk in _chunks(pairs):
            await self._session.execute(statement, chunk)
            self._bar.update(len(chunk))

    def close(self) -> None:
        self._bar.close()


async def seed_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    seed: int = 7,
    employees: int = 120,
    today: dt.date,
    progress: bool = False,
) -> SeedSummary:
    """Seed an empty database with the demo organisation and two open cycles, all or nothing."""
    if employees < MIN_EMPLOYEES:
        raise ValueError(f"the demo needs at least {MIN_EMPLOYEES} employees (one per post and a head)")
    async with sessionmaker() as session, session.begin():
        if (await session.execute(select(Department.id).limit(1))).first() is not None:
            raise DatabaseNotEmpty("the database already has departments; seed_demo only seeds an empty one")
        writer = _Writer(session, progress)
        try:
            past_id, current_id = await _Seeder(writer, seed, employees, today).run()
        finally:
            writer.close()
    n = writer.counts
    return SeedSummary(
        departments=n["departments"],
        posts=n["posts"],
        employees=n["employees"],
        post_assignments=n["post_assignments"],
        indicators=n["indicators"],
        indicator_versions=n["indicator_versions"],
        scheme_versions=n["scheme_versions"],
        cycles=n["cycles"],
        rater_assignments=n["rater_assignments"],
        ratings=n["ratings"],
        metric_values=n["metric_values"],
        past_cycle_id=past_id,
        current_cycle_id=current_id,
    )


class _Seeder:
    """One seeding run: draws everything from one random.Random(seed), in a fixed order."""

    def __init__(self, writer: _Writer, seed: int, employees: int, today: dt.date) -> None:
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

        ratings = _Ratings(self, people, employee_ids)
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
    ) -> Iterator[dict[str, Any]]:
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


class _Ratings:
    """Draws 1-5 ratings that scatter around each ratee's latent performance."""

    def __init__(self, seeder: _Seeder, people: People, employee_ids: list[int]) -> None:
        rng = self.rng = seeder.rng
        self.people, self.employee_ids, self.version_ids = people, employee_ids, seeder.version_ids
        latent = [latent_performance(seeder.seed, number) for number in seeder.numbers]
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
    ) -> Iterator[dict[str, Any]]:
        rng, ids = self.rng, self.employee_ids
        core = [
            [self.version_ids[(s.code, v)] for s, v, _ in plan.items if s.category is IndicatorCategory.CORE]
            for plan in plans_of
        ]
        for ratee, rater, role in relations:
            if share < 1.0 and rng.random() >= share:
                continue  # this rater has not submitted yet
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


def _json_copy(value: Any) -> Any:
    # The catalogue's rules are shared constants; every row gets its own plain-JSON copy.
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value
