"""Peer nomination: the ratee proposes, a manager of theirs decides, an approval assigns a PEER rater.

The people come from the test's own walk of ``employees.manager_id`` (tests/insider/org_chart.py): the ratee
is a team lead, with a boss above, the boss's boss above that, reports below, and colleagues elsewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Employee, PeerNomination, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import NominationState, RaterRole
from hub.operations import nominations
from hub.operations.commands import Caller
from hub.operations.errors import InvalidInput, NominationDecided, NotFound, NotTheDecider, WrongCycleState
from hub.operations.nominations import MAX_NOMINEES, Decider, PeerNominate, PeerNominationDecide
from tests.conftest import TODAY
from tests.insider.org_chart import read_chart

Sessions = async_sessionmaker[AsyncSession]
NOW = dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC)
HR = Decider(None, decides_for_anyone=True)


@dataclass(frozen=True)
class People:
    ratee: int
    boss: int
    boss_of_boss: int
    report: int
    peer_lead: int  # another team lead, outside the ratee's line and chain
    colleagues: tuple[int, ...]  # may be nominated: outside the chain, not reporting to the ratee, no rater yet


@pytest.fixture
async def people(sessionmaker: Sessions, seeded: SeedSummary) -> People:
    chart = await read_chart(sessionmaker)
    ratee = next(lead for lead in chart.team_leads() if chart.manager_of[chart.manager_of[lead] or 0] is not None)
    boss = chart.manager_of[ratee]
    assert boss is not None
    boss_of_boss = chart.manager_of[boss]
    assert boss_of_boss is not None
    chain = {ratee, boss, boss_of_boss, *[e for e in chart.manager_of if chart.manager_of.get(e) is None]}
    async with sessionmaker() as session:
        raters = set(
            await session.scalars(
                select(RaterAssignment.rater_id).where(
                    RaterAssignment.cycle_id == seeded.current_cycle_id, RaterAssignment.ratee_id == ratee
                )
            )
        )
    peer_lead = next(lead for lead in chart.team_leads() if lead != ratee and lead not in chart.below(ratee))
    reports = set(chart.reports(ratee))
    above = set()
    current = chart.manager_of[ratee]
    while current is not None:
        above.add(current)
        current = chart.manager_of[current]
    colleagues = sorted(set(chart.manager_of) - chain - above - reports - raters - {peer_lead})
    return People(ratee, boss, boss_of_boss, min(reports), peer_lead, tuple(colleagues[: MAX_NOMINEES + 1]))


async def _state(sessionmaker: Sessions, cycle_id: int, ratee: int) -> tuple[list[tuple[int, str]], int]:
    """The ratee's nominations (nominee, state) and the cycle's number of rater assignments."""
    async with sessionmaker() as session:
        mine = select(PeerNomination.nominee_id, PeerNomination.state).filter_by(cycle_id=cycle_id, ratee_id=ratee)
        found = (await session.execute(mine.order_by(PeerNomination.id))).all()
        assignments = await session.scalar(
            select(func.count()).select_from(RaterAssignment).where(RaterAssignment.cycle_id == cycle_id)
        )
    return [(nominee, state.value) for nominee, state in found], int(assignments or 0)


async def _propose(
    sessionmaker: Sessions, cycle: int, people: People, nominee: int
) -> nominations.PeerNominationRecord:
    """The ratee's nomination of one colleague."""
    (made,) = await nominations.nominate_peers(
        sessionmaker, PeerNominate(cycle_id=cycle, nominee_ids=(nominee,)), Caller("ratee"), people.ratee
    )
    return made


async def _approve(sessionmaker: Sessions, nomination_id: int, decider: Decider = HR) -> None:
    await nominations.decide_peer_nomination(
        sessionmaker, PeerNominationDecide(nomination_id=nomination_id, approve=True), Caller("decider"), decider
    )


async def test_a_ratee_nominates_and_a_manager_approves_one_and_declines_another(
    sessionmaker: Sessions, seeded: SeedSummary, people: People
) -> None:
    """An approval assigns the nominee as a PEER rater of the ratee; a decline assigns nothing and keeps why."""
    cycle = seeded.current_cycle_id
    first, second = people.colleagues[:2]
    _, assignments_before = await _state(sessionmaker, cycle, people.ratee)
    made = await nominations.nominate_peers(
        sessionmaker, PeerNominate(cycle_id=cycle, nominee_ids=(first, second)), Caller("ratee", now=NOW), people.ratee
    )
    assert [(m.nominee_id, m.state) for m in made] == [(first, NominationState.PROPOSED), (second, "PROPOSED")]

    approved = await nominations.decide_peer_nomination(
        sessionmaker,
        PeerNominationDecide(nomination_id=made[0].id, approve=True),
        Caller("boss", now=NOW),
        Decider(people.boss, decides_for_anyone=False),
    )
    assert approved.assignment is not None and approved.assignment.role is RaterRole.PEER
    assert (approved.assignment.ratee_id, approved.assignment.rater_id) == (people.ratee, first)
    assert approved.nomination.decided_by == "boss" and approved.nomination.decided_at == NOW
    declined = await nominations.decide_peer_nomination(
        sessionmaker,
        PeerNominationDecide(nomination_id=made[1].id, approve=False, reason="works with you too rarely"),
        Caller("hr", now=NOW),
        HR,
    )
    assert declined.assignment is None and declined.nomination.reason == "works with you too rarely"

    proposed, assignments = await _state(sessionmaker, cycle, people.ratee)
    assert proposed == [(first, "APPROVED"), (second, "DECLINED")]
    async with sessionmaker() as session:
        role = await session.scalar(
            select(RaterAssignment.role).where(
                RaterAssignment.cycle_id == cycle,
                RaterAssignment.ratee_id == people.ratee,
                RaterAssignment.rater_id == first,
            )
        )
    assert role is RaterRole.PEER
    assert assignments == assignments_before + 1


@pytest.mark.parametrize(
    ("who", "error", "field"),
    [
        ("nobody", InvalidInput, "nomineeIds"),
        ("twice", InvalidInput, "nomineeIds"),
        ("themselves", InvalidInput, "nomineeIds"),
        ("their manager", InvalidInput, "nomineeIds"),
        ("their manager's manager", InvalidInput, "nomineeIds"),
        ("a report", InvalidInput, "nomineeIds"),
        ("one too many", InvalidInput, "nomineeIds"),
        # Refused as an ineligible nominee is: NOT_FOUND told which ids exist (insider review H4).
        ("an unknown id", InvalidInput, "nomineeIds"),
    ],
)
async def test_a_nomination_the_rules_refuse_writes_nothing(
    sessionmaker: Sessions, seeded: SeedSummary, people: People, who: str, error: type[Exception], field: str
) -> None:
    """Not themselves, their managers up the chain or their reports (other roles), at most eight, each once."""
    nominees = {
        "nobody": (),
        "twice": (people.colleagues[0], people.colleagues[0]),
        "themselves": (people.ratee,),
        "their manager": (people.boss,),
        "their manager's manager": (people.colleagues[0], people.boss_of_boss),
        "a report": (people.report,),
        "one too many": people.colleagues[: MAX_NOMINEES + 1],
        "an unknown id": (10**9,),
    }[who]
    assert len(people.colleagues) == MAX_NOMINEES + 1
    before = await _state(sessionmaker, seeded.current_cycle_id, people.ratee)
    with pytest.raises(error) as caught:
        await nominations.nominate_peers(
            sessionmaker,
            PeerNominate(cycle_id=seeded.current_cycle_id, nominee_ids=nominees),
            Caller("ratee", now=NOW),
            people.ratee,
        )
    assert getattr(caught.value, "field", None) == field
    assert await _state(sessionmaker, seeded.current_cycle_id, people.ratee) == before


async def test_nominations_count_toward_the_cap_across_calls_and_a_colleague_is_nominated_once(
    sessionmaker: Sessions, seeded: SeedSummary, people: People
) -> None:
    cycle, caller = seeded.current_cycle_id, Caller("ratee", now=NOW)
    await nominations.nominate_peers(
        sessionmaker, PeerNominate(cycle_id=cycle, nominee_ids=people.colleagues[:MAX_NOMINEES]), caller, people.ratee
    )
    for again in (people.colleagues[0], people.colleagues[MAX_NOMINEES]):
        with pytest.raises(InvalidInput):
            await nominations.nominate_peers(
                sessionmaker, PeerNominate(cycle_id=cycle, nominee_ids=(again,)), caller, people.ratee
            )
    proposed, _ = await _state(sessionmaker, cycle, people.ratee)
    assert len(proposed) == MAX_NOMINEES


async def test_a_published_cycle_takes_no_nominations(
    sessionmaker: Sessions, seeded: SeedSummary, people: People
) -> None:
    before = await _state(sessionmaker, seeded.past_cycle_id, people.ratee)
    with pytest.raises(WrongCycleState):
        await nominations.nominate_peers(
            sessionmaker,
            PeerNominate(cycle_id=seeded.past_cycle_id, nominee_ids=people.colleagues[:1]),
            Caller("ratee", now=NOW),
            people.ratee,
        )
    assert await _state(sessionmaker, seeded.past_cycle_id, people.ratee) == before == ([], before[1])


@pytest.mark.parametrize("decider", ["the ratee", "a peer lead", "a person without an employee row"])
async def test_only_a_manager_of_the_ratee_or_hr_decides_and_nobody_their_own(
    sessionmaker: Sessions, seeded: SeedSummary, people: People, decider: str
) -> None:
    cycle = seeded.current_cycle_id
    made = await _propose(sessionmaker, cycle, people, people.colleagues[0])
    acting = {
        "the ratee": Decider(people.ratee, decides_for_anyone=True),  # even with hr_admin's right: not their own
        "a peer lead": Decider(people.peer_lead, decides_for_anyone=False),
        "a person without an employee row": Decider(None, decides_for_anyone=False),
    }[decider]
    before = await _state(sessionmaker, cycle, people.ratee)
    with pytest.raises(NotTheDecider) as caught:
        await _approve(sessionmaker, made.id, acting)
    assert caught.value.code == "NOT_THE_DECIDER"
    assert await _state(sessionmaker, cycle, people.ratee) == before


async def test_a_manager_up_the_chain_decides_once_and_a_second_decision_is_refused(
    sessionmaker: Sessions, seeded: SeedSummary, people: People
) -> None:
    cycle = seeded.current_cycle_id
    made = await _propose(sessionmaker, cycle, people, people.colleagues[0])
    skip_level = Decider(people.boss_of_boss, decides_for_anyone=False)
    decide = PeerNominationDecide(nomination_id=made.id, approve=False)
    await nominations.decide_peer_nomination(sessionmaker, decide, Caller("skip"), skip_level)
    with pytest.raises(NominationDecided):
        await _approve(sessionmaker, made.id)
    assert (await _state(sessionmaker, cycle, people.ratee))[0] == [(people.colleagues[0], "DECLINED")]


async def test_an_approval_checks_the_nominee_again_and_writes_nothing_when_they_no_longer_fit(
    sessionmaker: Sessions, seeded: SeedSummary, people: People
) -> None:
    """A nominee who has come to report to the ratee since the proposal is a SUBORDINATE now, not a peer."""
    cycle, nominee = seeded.current_cycle_id, people.colleagues[0]
    made = await _propose(sessionmaker, cycle, people, nominee)
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Employee).where(Employee.id == nominee).values(manager_id=people.ratee))
    before = await _state(sessionmaker, cycle, people.ratee)
    with pytest.raises(InvalidInput) as caught:
        await _approve(sessionmaker, made.id)
    assert caught.value.field == "nomineeIds"
    assert await _state(sessionmaker, cycle, people.ratee) == before
    with pytest.raises(NotFound):
        await _approve(sessionmaker, 10**9)
