"""The demo seed: the white paper's department, its schemes and cycles, deterministic per seed."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.appraisal.rules import parse_rule
from hub.appraisal.scoring import compile_rule
from hub.db import models
from hub.db.engine import create_engine, create_sessionmaker
from hub.db.migrate import upgrade
from hub.demo.catalogue import POST_FAMILIES, quarter_of
from hub.demo.indicators import INDICATORS, METRICS
from hub.demo.organisation import DatabaseNotEmpty, SeedSummary, seed_demo
from hub.demo.values import demo_metric_value, latent_performance, metric_checksum
from hub.domain import CycleState, IndicatorCategory, RaterRole

TODAY = dt.date(2026, 11, 16)
QUARTER_3 = dt.date(2026, 7, 1), dt.date(2026, 9, 30)  # the past cycle's period, seen from TODAY
Sessionmaker = async_sessionmaker[AsyncSession]
MakeDatabase = Callable[[str], Awaitable[Sessionmaker]]


@pytest.fixture
async def make_database(tmp_path: Path) -> AsyncIterator[MakeDatabase]:
    engines: list[AsyncEngine] = []

    async def make(name: str) -> Sessionmaker:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/{name}.db")
        engines.append(engine)
        await upgrade(engine)
        return create_sessionmaker(engine)

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def blank(make_database: MakeDatabase) -> Sessionmaker:
    return await make_database("t")


@pytest.fixture
async def seeded(blank: Sessionmaker) -> tuple[Sessionmaker, SeedSummary]:
    return blank, await seed_demo(blank, today=TODAY)


async def _all(sessionmaker: Sessionmaker, statement: Any) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(statement)).all())


async def _counts(sessionmaker: Sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            name: (await session.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in models.Base.metadata.tables.items()
        }


async def test_seed_builds_twelve_posts_in_four_families_under_the_department_tree(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """The root department has four sections, and each family's three posts sit in its own section."""
    sessionmaker, summary = seeded
    departments = {d.id: d for (d,) in await _all(sessionmaker, select(models.Department))}
    (root,) = [d for d in departments.values() if d.parent_id is None]
    assert (root.code, root.name) == ("ALD", "Administration & Logistics Department")
    assert {d.code for d in departments.values() if d.parent_id == root.id} == set(POST_FAMILIES.values())
    posts = [p for (p,) in await _all(sessionmaker, select(models.Post))]
    assert summary.posts == len(posts) == 12
    assert Counter(p.family for p in posts) == {family: 3 for family in POST_FAMILIES}
    assert all(departments[p.department_id].code == POST_FAMILIES[p.family] for p in posts)
    assert "财务人员" in next(p.name for p in posts if p.code == "FIN-03")


async def test_seed_writes_the_requested_employees_each_in_one_current_post(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """Each employee holds one open assignment, to their current post; a few moved within the family."""
    sessionmaker, summary = seeded
    employees = {e.id: e for (e,) in await _all(sessionmaker, select(models.Employee))}
    assert summary.employees == len(employees) == 120
    assert sorted(e.employee_no for e in employees.values())[:2] == ["E000001", "E000002"]
    family = {p.id: p.family for (p,) in await _all(sessionmaker, select(models.Post))}
    assignments = [a for (a,) in await _all(sessionmaker, select(models.PostAssignment))]
    current = [a for a in assignments if a.end_date is None]
    assert sorted(a.employee_id for a in current) == sorted(employees)
    assert all(employees[a.employee_id].post_id == a.post_id for a in current)
    ended = [a for a in assignments if a.end_date is not None]
    assert 3 <= len(ended) <= 25
    assert all(family[a.post_id] == family[employees[a.employee_id].post_id] for a in ended)


async def test_every_employee_but_the_department_head_has_a_manager(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """Only the root's head lacks a manager, and every management line ends at them within four steps."""
    sessionmaker, _ = seeded
    employees = {e.id: e for (e,) in await _all(sessionmaker, select(models.Employee))}
    is_root = models.Department.parent_id.is_(None)
    root_id = (await _all(sessionmaker, select(models.Department.id).where(is_root)))[0][0]
    (head,) = [e for e in employees.values() if e.manager_id is None]
    assert (head.employee_no, head.department_id) == ("E000001", root_id)
    for employee in employees.values():
        steps, current = 0, employee
        while current.manager_id is not None:
            current, steps = employees[current.manager_id], steps + 1
            assert steps <= 3
        assert current is head
    section_heads = [e for e in employees.values() if e.manager_id == head.id]
    assert len(section_heads) == 4


async def test_every_scheme_version_weighs_core_30_of_100_and_raters_100(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """Each scheme version's items sum to exactly 100, 30 of it core, and its rater weights to 100."""
    sessionmaker, summary = seeded
    rows = await _all(
        sessionmaker,
        select(models.SchemeItem.scheme_version_id, models.SchemeItem.weight, models.Indicator.category)
        .join(models.IndicatorVersion, models.IndicatorVersion.id == models.SchemeItem.indicator_version_id)
        .join(models.Indicator, models.Indicator.id == models.IndicatorVersion.indicator_id),
    )
    total: defaultdict[int, float] = defaultdict(float)
    core: defaultdict[int, float] = defaultdict(float)
    for scheme_id, weight, category in rows:
        total[scheme_id] += weight
        if category is IndicatorCategory.CORE:
            core[scheme_id] += weight
    assert summary.scheme_versions == len(total) == 15  # 12 posts, the 3 finance posts twice
    assert set(total.values()) == {100.0}
    assert set(core.values()) == {30.0}
    raters: defaultdict[int, dict[RaterRole, float]] = defaultdict(dict)
    rater_weight = models.SchemeRaterWeight
    for scheme_id, role, weight in await _all(
        sessionmaker, select(rater_weight.scheme_version_id, rater_weight.role, rater_weight.weight)
    ):
        raters[scheme_id][role] = weight
    assert all(sum(weights.values()) == 100.0 and len(weights) == 4 for weights in raters.values())


async def test_two_open_cycles_pin_every_post_to_the_scheme_in_force(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """The past and current quarters are OPEN, audited, and pin all 12 posts; finance moves to scheme v2."""
    sessionmaker, summary = seeded
    cycles = {c.id: c for (c,) in await _all(sessionmaker, select(models.Cycle))}
    past, current = cycles[summary.past_cycle_id], cycles[summary.current_cycle_id]
    assert (past.name, past.period_start, past.period_end) == ("2026 Q3", *QUARTER_3)
    assert (current.name, current.period_start) == ("2026 Q4", dt.date(2026, 10, 1))
    assert {c.state for c in cycles.values()} == {CycleState.OPEN}
    transitions = [t for (t,) in await _all(sessionmaker, select(models.CycleTransition))]
    assert {(t.cycle_id, t.from_state, t.to_state, t.actor) for t in transitions} == {
        (c, CycleState.DRAFT, CycleState.OPEN, "seed") for c in cycles
    }
    pins = await _all(
        sessionmaker,
        select(models.CycleScheme.cycle_id, models.Post.family, models.SchemeVersion.version)
        .join(models.Post, models.Post.id == models.CycleScheme.post_id)
        .join(models.SchemeVersion, models.SchemeVersion.id == models.CycleScheme.scheme_version_id),
    )
    assert Counter(cycle for cycle, _, _ in pins) == {past.id: 12, current.id: 12}
    finance = {(cycle, version) for cycle, family, version in pins if family == "FINANCE"}
    assert finance == {(past.id, 1), (current.id, 2)}


async def test_past_cycle_is_fully_rated_and_measured_while_the_current_one_is_partly_rated(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """Past assignments all carry 1-5 integer ratings and metrics match the demo systems; now ~1/3 rated."""
    sessionmaker, summary = seeded
    past, current = summary.past_cycle_id, summary.current_cycle_id
    roles = Counter(
        r
        for (r,) in await _all(
            sessionmaker, select(models.RaterAssignment.role).where(models.RaterAssignment.cycle_id == past)
        )
    )
    assert roles[RaterRole.SELF] == 120 and roles[RaterRole.MANAGER] == 119
    assert roles[RaterRole.PEER] >= 200 and roles[RaterRole.SUBORDINATE] > 0
    values = [v for (v,) in await _all(sessionmaker, select(models.Rating.value).where(models.Rating.cycle_id == past))]
    assert len(values) == 3 * roles.total()
    assert set(values) == {1.0, 2.0, 3.0, 4.0, 5.0}
    current_ratings = (await _all(sessionmaker, select(func.count()).where(models.Rating.cycle_id == current)))[0][0]
    current_assignments = (
        await _all(sessionmaker, select(func.count()).where(models.RaterAssignment.cycle_id == current))
    )[0][0]
    assert 0.2 < current_ratings / (3 * current_assignments) < 0.5

    metrics = await _all(
        sessionmaker,
        select(models.MetricValue, models.Employee.employee_no, models.IndicatorVersion.source_metric)
        .join(models.Employee, models.Employee.id == models.MetricValue.employee_id)
        .join(models.IndicatorVersion, models.IndicatorVersion.id == models.MetricValue.indicator_version_id),
    )
    assert {m.cycle_id for m, _, _ in metrics} == {past}
    assert 0.9 * 240 <= len(metrics) < 240  # two extension indicators each, ~2% missing
    for metric, number, source_metric in metrics:
        assert metric.metric == source_metric and metric.system == METRICS[source_metric].system
        assert metric.value == demo_metric_value(7, number, metric.metric, QUARTER_3[0])
        checksum = metric_checksum(metric.system, metric.metric, number, *QUARTER_3, metric.value)
        assert metric.checksum == checksum
        assert metric.fetched_at == dt.datetime(2026, 10, 1, 2, tzinfo=dt.UTC) and not metric.stale


async def _fingerprint(sessionmaker: Sessionmaker) -> tuple[list[Any], list[Any]]:
    names = await _all(
        sessionmaker, select(models.Employee.employee_no, models.Employee.name).order_by(models.Employee.employee_no)
    )
    metrics = await _all(
        sessionmaker,
        select(models.Employee.employee_no, models.MetricValue.metric, models.MetricValue.value)
        .join(models.Employee, models.Employee.id == models.MetricValue.employee_id)
        .order_by(models.Employee.employee_no, models.MetricValue.metric),
    )
    return names, metrics


async def test_same_seed_gives_identical_data_in_two_databases(make_database: MakeDatabase) -> None:
    """Two databases seeded with the same seed and day get the same names, metric values and row counts."""
    first, second = await make_database("a"), await make_database("b")
    await seed_demo(first, seed=11, today=TODAY)
    await seed_demo(second, seed=11, today=TODAY)
    assert await _fingerprint(first) == await _fingerprint(second)
    assert await _counts(first) == await _counts(second)


async def test_different_seed_gives_different_data(make_database: MakeDatabase) -> None:
    """Another seed draws other names and other metric values."""
    first, second = await make_database("a"), await make_database("b")
    await seed_demo(first, seed=1, today=TODAY)
    await seed_demo(second, seed=2, today=TODAY)
    (names_1, metrics_1), (names_2, metrics_2) = await _fingerprint(first), await _fingerprint(second)
    assert names_1 != names_2
    assert metrics_1 != metrics_2


async def test_seeding_twice_raises_database_not_empty_and_changes_nothing(
    seeded: tuple[Sessionmaker, SeedSummary],
) -> None:
    """A second seed refuses with DatabaseNotEmpty and leaves every table as it was."""
    sessionmaker, _ = seeded
    before = await _counts(sessionmaker)
    with pytest.raises(DatabaseNotEmpty):
        await seed_demo(sessionmaker, seed=8, today=TODAY)
    assert await _counts(sessionmaker) == before


async def test_seed_scales_to_2000_employees(blank: Sessionmaker) -> None:
    """A 2,000-employee organisation seeds in bulk and its summary matches the rows written."""
    summary = await seed_demo(blank, employees=2000, today=TODAY)
    counts = await _counts(blank)
    assert summary.employees == counts["employees"] == 2000
    assert (summary.ratings, summary.metric_values) == (counts["ratings"], counts["metric_values"])
    assert summary.rater_assignments == counts["rater_assignments"] > 2 * 4 * 2000
    managed = (await _all(blank, select(func.count()).where(models.Employee.manager_id.is_not(None))))[0][0]
    assert managed == 1999


async def test_seed_refuses_too_few_employees(blank: Sessionmaker) -> None:
    """Fewer employees than posts plus a head is a clear ValueError, before anything is written."""
    with pytest.raises(ValueError, match="at least 13"):
        await seed_demo(blank, employees=5, today=TODAY)
    assert (await _counts(blank))["departments"] == 0


def test_every_catalogue_rule_compiles_for_its_indicators_direction() -> None:
    """The engine accepts each indicator version's rule in the direction the indicator declares."""
    for spec in INDICATORS:
        for version in spec.versions:
            compile_rule(parse_rule(version.rule), spec.direction)
        assert (spec.source is None) == (spec.category is IndicatorCategory.CORE)


def test_demo_metric_values_follow_latent_performance_and_are_order_free() -> None:
    """A metric value depends only on its arguments, and stronger performers report better values."""
    period = dt.date(2026, 7, 1)
    numbers = [f"E{i:06d}" for i in range(1, 401)]
    forward = [demo_metric_value(7, n, "voucher_error_rate", period) for n in numbers]
    backward = [demo_metric_value(7, n, "voucher_error_rate", period) for n in reversed(numbers)]
    assert forward == backward[::-1]
    assert 0 < forward.count(None) < 25
    latent = {n: latent_performance(7, n) for n in numbers}
    assert all(0.0 < p < 1.0 for p in latent.values())
    ranked = sorted((latent[n], v) for n, v in zip(numbers, forward, strict=True) if v is not None)
    weakest, strongest = ranked[:100], ranked[-100:]
    # Lower is better for the voucher error rate: strong performers make fewer errors.
    assert sum(v for _, v in strongest) < sum(v for _, v in weakest) / 2
    with pytest.raises(ValueError, match="unknown demo metric"):
        demo_metric_value(7, "E000001", "no_such_metric", period)


def test_quarters_are_named_and_shifted_across_years() -> None:
    """Quarter arithmetic crosses year boundaries: the quarter before 2026 Q1 is 2025 Q4."""
    first = quarter_of(dt.date(2026, 2, 10))
    assert (first.name, first.start, first.end) == ("2026 Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    previous = first.shifted(-1)
    assert (previous.name, previous.start) == ("2025 Q4", dt.date(2025, 10, 1))
    assert previous.end == dt.date(2025, 12, 31)
