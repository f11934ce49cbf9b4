"""360 ratings: assigning raters, submitting and resubmitting ratings, and peer anonymity."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import NotAScalePoint
from hub.db.models import Cycle, CycleScheme, Employee, Indicator, IndicatorVersion, RaterAssignment, Rating, SchemeItem
from hub.demo.organisation import SeedSummary
from hub.domain import CycleState, IndicatorCategory, RaterRole
from hub.operations.commands import Caller
from hub.operations.errors import InvalidInput, NotARater, NotFound, WrongCycleState, WrongRaterRelation
from hub.operations.ratings import RaterAssignInput, RatingRecord, RatingSubmitInput, assign_rater, submit_rating
from tests.conftest import TODAY

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime.combine(TODAY, dt.time(10), tzinfo=dt.UTC)


async def _pair(sessionmaker: Sessions, cycle_id: int, role: RaterRole) -> tuple[int, int]:
    """A (ratee, rater) pair related in ``role`` in the cycle."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(RaterAssignment.ratee_id, RaterAssignment.rater_id)
                .where(RaterAssignment.cycle_id == cycle_id, RaterAssignment.role == role)
                .order_by(RaterAssignment.id)
                .limit(1)
            )
        ).one()
    return row.ratee_id, row.rater_id


async def _stranger(sessionmaker: Sessions, cycle_id: int, ratee_id: int) -> int:
    """An employee who does not rate ``ratee_id`` in the cycle."""
    async with sessionmaker() as session:
        raters = select(RaterAssignment.rater_id).where(
            RaterAssignment.cycle_id == cycle_id, RaterAssignment.ratee_id == ratee_id
        )
        stranger = await session.scalar(
            select(Employee.id).where(Employee.id.not_in(raters)).order_by(Employee.id).limit(1)
        )
    assert stranger is not None
    return stranger


async def _version(sessionmaker: Sessions, cycle_id: int, ratee_id: int, category: IndicatorCategory) -> int:
    """An indicator version of ``category`` in the ratee's pinned scheme for the cycle."""
    async with sessionmaker() as session:
        version_id = await session.scalar(
            select(IndicatorVersion.id)
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
            .join(SchemeItem, SchemeItem.indicator_version_id == IndicatorVersion.id)
            .join(CycleScheme, CycleScheme.scheme_version_id == SchemeItem.scheme_version_id)
            .join(Employee, Employee.post_id == CycleScheme.post_id)
            .where(CycleScheme.cycle_id == cycle_id, Employee.id == ratee_id, Indicator.category == category)
            .order_by(IndicatorVersion.id)
            .limit(1)
        )
    assert version_id is not None
    return version_id


async def _stored(sessionmaker: Sessions, cycle_id: int, ratee_id: int, rater_id: int) -> list[Rating]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Rating).where(Rating.cycle_id == cycle_id, Rating.ratee_id == ratee_id, Rating.rater_id == rater_id)
        )
        return list(found)


async def _count_ratings(sessionmaker: Sessions) -> int:
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(Rating))) or 0


async def _set_state(sessionmaker: Sessions, cycle_id: int, state: CycleState) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Cycle).where(Cycle.id == cycle_id).values(state=state))


async def _rate(
    sessionmaker: Sessions,
    cycle_id: int,
    ratee_id: int,
    rater_id: int,
    indicator_version_id: int,
    value: float = 3,
    comment: str | None = None,
    now: dt.datetime = NOW,
) -> RatingRecord:
    """submit_rating, by default a 3 without a comment at NOW: the tests name only what they vary."""
    return await submit_rating(
        sessionmaker,
        RatingSubmitInput(
            cycle_id=cycle_id,
            ratee_id=ratee_id,
            rater_id=rater_id,
            indicator_version_id=indicator_version_id,
            value=value,
            comment=comment,
        ),
        Caller("test", now=now),
    )


async def test_manager_rates_a_report(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A manager's rating of a report's core indicator is stored as MANAGER and shown with the rater."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)

    record = await _rate(
        sessionmaker, cycle, ratee, manager, version, value=4, comment="Keeps the team's files in order."
    )

    assert (record.role, record.value, record.submitted_at) == (RaterRole.MANAGER, 4, NOW)
    async with sessionmaker() as session:
        stored = (
            await session.scalars(
                select(Rating).where(
                    Rating.cycle_id == cycle,
                    Rating.ratee_id == ratee,
                    Rating.rater_id == manager,
                    Rating.indicator_version_id == version,
                )
            )
        ).all()
    assert [(r.value, r.comment, r.role) for r in stored] == [
        (4, "Keeps the team's files in order.", RaterRole.MANAGER)
    ]


async def test_stranger_is_not_a_rater(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Someone without an evaluation relationship to the ratee cannot rate them."""
    cycle = seeded.current_cycle_id
    ratee, _ = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    stranger = await _stranger(sessionmaker, cycle, ratee)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)

    with pytest.raises(NotARater):
        await _rate(sessionmaker, cycle, ratee, stranger, version)


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [(6, "INVALID_INPUT", "between 1 and 5"), (3.5, "NOT_A_SCALE_POINT", "anchor points (1, 2, 3, 4, 5), got 3.5")],
    ids=["off-the-scale", "between-anchors"],
)
async def test_a_value_a_rater_may_not_give_is_rejected_and_nothing_stored(
    sessionmaker: Sessions, seeded: SeedSummary, value: float, code: str, message: str
) -> None:
    """A 6 on a 1-5 scale, or a 3.5 between the demo scale's anchors, is refused on the value field, and no
    rating is written."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    before = await _count_ratings(sessionmaker)

    with pytest.raises((InvalidInput, NotAScalePoint)) as caught:
        await _rate(sessionmaker, cycle, ratee, manager, version, value=value)

    assert (caught.value.code, caught.value.field) == (code, "value")
    assert message in caught.value.message
    assert await _count_ratings(sessionmaker) == before


async def test_a_scale_with_steps_takes_a_rating_on_a_step(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Given ``step: 0.5`` in its rule, the scale takes 3.5 and still refuses 3.25."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    async with sessionmaker() as session, session.begin():
        stored = await session.get_one(IndicatorVersion, version)
        stored.rule = {**stored.rule, "step": 0.5}

    assert (await _rate(sessionmaker, cycle, ratee, manager, version, value=3.5)).value == 3.5
    with pytest.raises(NotAScalePoint, match=r"steps of 0\.5 from 1, got 3\.25"):
        await _rate(sessionmaker, cycle, ratee, manager, version, value=3.25)


async def test_resubmission_replaces_the_rating(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Rating the same indicator again updates the one stored row with the new value, comment and time."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    later = NOW + dt.timedelta(hours=2)

    async def submit(value: float, comment: str | None, now: dt.datetime) -> RatingRecord:
        return await _rate(sessionmaker, cycle, ratee, manager, version, value=value, comment=comment, now=now)

    first = await submit(2, "first impression", NOW)
    second = await submit(5, None, later)

    stored = [r for r in await _stored(sessionmaker, cycle, ratee, manager) if r.indicator_version_id == version]
    assert len(stored) == 1
    assert (stored[0].id, stored[0].value, stored[0].comment, stored[0].submitted_at) == (
        first.id,
        5,
        None,
        later,
    )
    assert second.id == first.id


async def test_ratings_only_while_the_cycle_is_open(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Once the cycle is SCORED, a rating is refused with WrongCycleState."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    await _set_state(sessionmaker, cycle, CycleState.SCORED)

    with pytest.raises(WrongCycleState) as caught:
        await _rate(sessionmaker, cycle, ratee, manager, version)

    assert caught.value.state is CycleState.SCORED


async def test_assigned_peer_can_rate(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A stranger assigned as PEER can then rate, and the rating carries the PEER role."""
    cycle = seeded.current_cycle_id
    ratee, _ = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    stranger = await _stranger(sessionmaker, cycle, ratee)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)

    assignment = await assign_rater(
        sessionmaker,
        RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=stranger, role=RaterRole.PEER),
        Caller("test"),
    )
    rating = await _rate(sessionmaker, cycle, ratee, stranger, version, value=5)

    assert (assignment.ratee_id, assignment.rater_id, assignment.role) == (ratee, stranger, RaterRole.PEER)
    assert rating.role is RaterRole.PEER


async def test_reassigning_a_pair_replaces_its_role(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """Assigning an already related pair again keeps one relationship, with the new role."""
    cycle = seeded.current_cycle_id
    ratee, report = await _pair(sessionmaker, cycle, RaterRole.SUBORDINATE)

    record = await assign_rater(
        sessionmaker,
        RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=report, role=RaterRole.PEER),
        Caller("test"),
    )

    async with sessionmaker() as session:
        roles = list(
            await session.scalars(
                select(RaterAssignment.role).where(
                    RaterAssignment.cycle_id == cycle,
                    RaterAssignment.ratee_id == ratee,
                    RaterAssignment.rater_id == report,
                )
            )
        )
    assert roles == [RaterRole.PEER]
    assert record.role is RaterRole.PEER


@pytest.mark.parametrize(
    ("same_person", "role"),
    [(True, RaterRole.PEER), (False, RaterRole.SELF)],
    ids=["peer-self", "self-other"],
)
async def test_self_role_must_match_the_pair(
    sessionmaker: Sessions, seeded: SeedSummary, same_person: bool, role: RaterRole
) -> None:
    """SELF is for rating oneself only, and every other role is for rating someone else."""
    cycle = seeded.current_cycle_id
    ratee, other = await _pair(sessionmaker, cycle, RaterRole.MANAGER)

    with pytest.raises(InvalidInput) as caught:
        await assign_rater(
            sessionmaker,
            RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=ratee if same_person else other, role=role),
            Caller("test"),
        )

    assert caught.value.field == "role"


async def _reporting_pair(sessionmaker: Sessions) -> tuple[int, int, int]:
    """(an employee, their manager, someone who is neither of them and reports to neither)."""
    async with sessionmaker() as session:
        employee, manager = (
            await session.execute(
                select(Employee.id, Employee.manager_id).where(Employee.manager_id.is_not(None)).order_by(Employee.id)
            )
        ).first() or (0, None)
        other = await session.scalar(
            select(Employee.id)
            .where(Employee.id.not_in([employee, manager or 0]), Employee.manager_id.not_in([employee, manager or 0]))
            .order_by(Employee.id)
        )
    assert manager is not None and other is not None
    return employee, manager, other


async def _count_assignments(sessionmaker: Sessions) -> int:
    async with sessionmaker() as session:
        return (await session.scalar(select(func.count()).select_from(RaterAssignment))) or 0


@pytest.mark.parametrize("role", [RaterRole.MANAGER, RaterRole.SUBORDINATE])
async def test_manager_and_subordinate_raters_must_be_what_they_say(
    sessionmaker: Sessions, seeded: SeedSummary, role: RaterRole
) -> None:
    """A MANAGER rater who is not the ratee's manager, or a SUBORDINATE rater who does not report to the
    ratee, is WrongRaterRelation naming the role; nothing is written. The true pair is accepted."""
    cycle = seeded.current_cycle_id
    employee, manager, other = await _reporting_pair(sessionmaker)
    # MANAGER: the manager rates the employee; SUBORDINATE: the employee rates their manager.
    ratee, rater = (employee, manager) if role is RaterRole.MANAGER else (manager, employee)
    before = await _count_assignments(sessionmaker)

    with pytest.raises(WrongRaterRelation) as caught:
        await assign_rater(
            sessionmaker, RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=other, role=role), Caller("t")
        )

    assert (caught.value.code, caught.value.field) == ("WRONG_RATER_RELATIONSHIP", "role")
    assert await _count_assignments(sessionmaker) == before
    record = await assign_rater(
        sessionmaker, RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=rater, role=role), Caller("t")
    )
    assert record.role is role


async def test_a_former_manager_can_no_longer_rate_as_manager(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """The relationship is checked again at submission: after a change of manager, the old one's rating is
    WrongRaterRelation and nothing is written."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Employee).where(Employee.id == ratee).values(manager_id=None))
    before = await _count_ratings(sessionmaker)

    with pytest.raises(WrongRaterRelation):
        await _rate(sessionmaker, cycle, ratee, manager, version)

    assert await _count_ratings(sessionmaker) == before


async def test_assigning_an_unknown_rater_names_the_field(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """An unknown rater id is NotFound on raterId."""
    cycle = seeded.current_cycle_id
    ratee, _ = await _pair(sessionmaker, cycle, RaterRole.MANAGER)

    with pytest.raises(NotFound) as caught:
        await assign_rater(
            sessionmaker,
            RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=999_999, role=RaterRole.PEER),
            Caller("test"),
        )

    assert caught.value.field == "raterId"


async def test_raters_cannot_be_assigned_after_scoring(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A SCORED cycle takes no new evaluation relationships."""
    cycle = seeded.current_cycle_id
    ratee, _ = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    stranger = await _stranger(sessionmaker, cycle, ratee)
    await _set_state(sessionmaker, cycle, CycleState.SCORED)

    with pytest.raises(WrongCycleState):
        await assign_rater(
            sessionmaker,
            RaterAssignInput(cycle_id=cycle, ratee_id=ratee, rater_id=stranger, role=RaterRole.PEER),
            Caller("test"),
        )


async def test_measured_indicator_cannot_be_rated(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """An extension indicator's version in the ratee's scheme is measured, so rating it is InvalidInput."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.EXTENSION)

    with pytest.raises(InvalidInput) as caught:
        await _rate(sessionmaker, cycle, ratee, manager, version)

    assert caught.value.field == "indicatorVersionId"


async def test_overlong_comment_is_rejected(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """A comment over 2000 characters is InvalidInput on the comment field."""
    cycle = seeded.current_cycle_id
    ratee, manager = await _pair(sessionmaker, cycle, RaterRole.MANAGER)
    version = await _version(sessionmaker, cycle, ratee, IndicatorCategory.CORE)

    with pytest.raises(InvalidInput) as caught:
        await _rate(sessionmaker, cycle, ratee, manager, version, value=3, comment="x" * 2001)

    assert caught.value.field == "comment"
