"""Two served hubs on one database, racing conflicting mutations over HTTP: every answer is typed, and what
the answers say is what the database holds.

Two `perfhub serve` processes run on the same fresh copy of the 120-employee demo. Each round fires a
pair of conflicting mutations at once, one to each hub (which hub gets which alternates, and the second
is sometimes sent a few milliseconds after the first, so that both orders and the overlap happen), then
checks the outcome in the database:

- a rating or a metric import racing the scoring of its cycle is either in the scored result or refused
  with WRONG_CYCLE_STATE, never accepted and left out;
- two first writes of one rating, or of one metric value, give a success and a typed answer (the upsert
  makes both successes), and one row;
- a calibration racing a reopen of its cycle, and two publishes of one cycle, give typed answers only; the
  publish that lost gets ILLEGAL_TRANSITION and the outbox holds exactly one event per result.

Every call has exactly one access audit entry, naming the mutation and the outcome the caller was told.
The answers of each round are printed (pytest -s) to show which interleavings happened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import Employee, IndicatorScore, MetricValue, RaterAssignment, Rating
from hub.domain import MANUAL_SOURCE, CycleState
from tests.races.conftest import Pair
from tests.races.harness import (
    announced_once,
    audited,
    call,
    code_of,
    data,
    events_of,
    indicator_scores_of,
    needs_postgres,
    new_calibrated_cycle,
    reopen,
    request_id,
    results_of,
    state_of,
    step,
    transitions_of,
    typed,
)
from tests.stored import indicator_score, metric_value

pytestmark = needs_postgres

T = TypeVar("T")
U = TypeVar("U")

OFFSETS = (0.0, 0.0, 0.002, 0.02, -0.02)
"""One round per entry: how long after the first mutation the second is sent (negative: before it)."""

RATE = """
mutation($input: RatingSubmitInput!) {
  ratingSubmit(input: $input) {
    __typename ... on RatingSubmitted { rating { value } } ... on MutationError { code message }
  }
}
"""
IMPORT = """
mutation($id: ID!, $csv: String!) {
  metricValuesImport(cycleId: $id, csv: $csv) {
    __typename ... on MetricValuesImported { imported replaced } ... on MutationError { code message }
  }
}
"""
SCORE = "mutation($id: ID!) { cycleScore(cycleId: $id) { __typename ... on MutationError { code message } } }"
ASSIGN = """
mutation($input: RaterAssignInput!) {
  raterAssign(input: $input) { __typename ... on MutationError { code message } }
}
"""
CALIBRATE = """
mutation($input: ResultCalibrateInput!) {
  resultCalibrate(input: $input) { __typename ... on MutationError { code message } }
}
"""
REOPEN = """
mutation($id: ID!) {
  cycleReopen(cycleId: $id, reason: "late data") { __typename ... on MutationError { code message } }
}
"""
PUBLISH = "mutation($id: ID!) { cyclePublish(cycleId: $id) { __typename ... on MutationError { code message } } }"
SCORED_RESULTS = """
query($id: ID!) {
  results(cycleId: $id, first: 200) {
    edges { node {
      employee { id employeeNo manager { id } }
      indicatorScores { rawValue provenance { system } indicatorVersion { id sourceSystem indicator { code } } }
    } }
  }
}
"""
CYCLES = "{ cycles { id state } }"
COLLECT = """
mutation($id: ID!) {
  cycleCollectMetrics(cycleId: $id) {
    __typename ... on MetricsCollected { stored } ... on MutationError { code message }
  }
}
"""


@dataclass(frozen=True)
class Rated:
    """A scored ratee, a rater assigned to them, and a people-rated indicator version of their scheme."""

    ratee_id: int
    rater_id: int
    role: str
    version_id: int


@dataclass(frozen=True)
class Measured:
    """A measured value that counts in a scored result."""

    employee_id: int
    employee_no: str
    version_id: int
    code: str
    value: float


@dataclass
class Demo:
    """The demo's OPEN cycle and, from scoring it once, inputs that count in its results."""

    cycle_id: str
    rated: list[Rated]
    measured: list[Measured]


async def race(first: Awaitable[T], second: Awaitable[U], offset: float) -> tuple[T, U]:
    """Both requests in flight at once; the second sent ``offset`` seconds after the first (before it when
    negative)."""

    async def after(delay: float, work: Awaitable[Any]) -> Any:
        await asyncio.sleep(delay)
        return await work

    answers = await asyncio.gather(after(max(0.0, -offset), first), after(max(0.0, offset), second))
    return answers[0], answers[1]


async def bring(client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine, cycle_id: str, state: CycleState) -> None:
    """Moves the demo cycle between OPEN and SCORED as a round needs it."""
    current = await state_of(engine, cycle_id)
    if current is state:
        return
    if state is CycleState.SCORED:
        await step(client, pair.hubs[0], "cycleScore", cycle_id, "CycleScored")
    else:
        await reopen(client, pair.hubs[0], cycle_id)
    assert await state_of(engine, cycle_id) is state


async def racing_scoring(
    client: httpx.AsyncClient,
    pair: Pair,
    round_: int,
    offset: float,
    mutation: tuple[str, dict[str, Any], str],
    what: str,
) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """``mutation`` (its document, variables and field) raced against a scoring of the demo cycle on the other
    hub: the request id and typed answer of each; the mutation's outcome is counted in ``pair.seen``."""
    document, variables, field_name = mutation
    assert pair.demo is not None
    rid, score_rid = request_id(), request_id()
    body, score_body = await race(
        call(client, pair.hub(round_, 0), document, variables, rid=rid),
        call(client, pair.hub(round_, 1), SCORE, {"id": pair.demo.cycle_id}, rid=score_rid),
        offset,
    )
    answer, scored = typed(body, field_name), typed(score_body, "cycleScore")
    pair.seen[f"{what} vs score: {what} {code_of(answer)}"] += 1
    return (rid, answer), (score_rid, scored)


async def raced_twice(
    client: httpx.AsyncClient,
    pair: Pair,
    round_: int,
    offset: float,
    mutation: tuple[str, str],
    variables: tuple[dict[str, Any], dict[str, Any]],
) -> tuple[tuple[str, str], list[dict[str, Any]]]:
    """One mutation (its document and field) sent to both hubs at once, with each of ``variables``: the
    request ids and the typed answers."""
    document, field_name = mutation
    rids = request_id(), request_id()
    bodies = await race(
        call(client, pair.hub(round_, 0), document, variables[0], rid=rids[0]),
        call(client, pair.hub(round_, 1), document, variables[1], rid=rids[1]),
        offset,
    )
    return rids, [typed(body, field_name) for body in bodies]


async def rounds_in(
    state: CycleState, client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine
) -> AsyncIterator[tuple[str, Demo, int, float]]:
    """The demo cycle's id, the demo, and each round's number and offset, with the cycle brought to ``state``
    before the round."""
    demo = await demo_of(client, pair, engine)
    for round_, offset in enumerate(OFFSETS):
        await bring(client, pair, engine, demo.cycle_id, state)
        yield demo.cycle_id, demo, round_, offset


async def demo_of(client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine) -> Demo:
    """The OPEN cycle, scored once to find inputs that count in results (one per round of each test)."""
    if pair.demo is not None:
        return pair.demo
    cycles = (await data(client, pair.hubs[0], CYCLES))["cycles"]
    cycle_id = next(cycle["id"] for cycle in cycles if cycle["state"] == "OPEN")
    # The measured values come from the demo's business systems, as an operator would collect them.
    collected = typed(await call(client, pair.hubs[0], COLLECT, {"id": cycle_id}), "cycleCollectMetrics")
    assert collected["__typename"] == "MetricsCollected" and collected["stored"] > 0, collected
    await bring(client, pair, engine, cycle_id, CycleState.SCORED)
    nodes = [
        edge["node"]
        for edge in (await data(client, pair.hubs[0], SCORED_RESULTS, {"id": cycle_id}))["results"]["edges"]
    ]
    await bring(client, pair, engine, cycle_id, CycleState.OPEN)
    async with engine.connect() as connection:
        assignments = {
            (ratee_id, rater_id): role.value
            for ratee_id, rater_id, role in await connection.execute(
                select(RaterAssignment.ratee_id, RaterAssignment.rater_id, RaterAssignment.role).where(
                    RaterAssignment.cycle_id == int(cycle_id)
                )
            )
        }
    rated, measured = [], []
    for node in nodes:
        employee = node["employee"]
        ratee = int(employee["id"])
        manager = int(employee["manager"]["id"]) if employee["manager"] else None
        for score in node["indicatorScores"]:
            version = score["indicatorVersion"]
            if version["sourceSystem"] == MANUAL_SOURCE and (ratee, manager) in assignments and manager is not None:
                rated.append(Rated(ratee, manager, assignments[(ratee, manager)], int(version["id"])))
            elif score["provenance"] is not None and score["rawValue"] is not None:
                code = version["indicator"]["code"]
                measured.append(Measured(ratee, employee["employeeNo"], int(version["id"]), code, score["rawValue"]))
    # One pick per ratee (or employee): rounds must not meet on one key.
    rated = list({pick.ratee_id: pick for pick in rated}.values())
    measured = list({pick.employee_id: pick for pick in measured}.values())
    assert len(rated) >= 2 * len(OFFSETS) and len(measured) >= 2 * len(OFFSETS), (len(rated), len(measured))
    pair.demo = Demo(cycle_id, rated, measured)
    return pair.demo


async def rating_of(engine: AsyncEngine, cycle_id: str, ratee_id: int, rater_id: int, version_id: int) -> list[float]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Rating.value).where(
                Rating.cycle_id == int(cycle_id),
                Rating.ratee_id == ratee_id,
                Rating.rater_id == rater_id,
                Rating.indicator_version_id == version_id,
            )
        )
        return [value for (value,) in rows]


async def expect_audited(engine: AsyncEngine, rid: str, operation: str, payload: dict[str, Any]) -> None:
    """Exactly one entry for the call, with the outcome its caller was told."""
    assert await audited(engine, rid) == [(operation, code_of(payload))]


async def test_a_rating_racing_scoring_is_scored_or_refused(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async for cycle_id, demo, round_, offset in rounds_in(CycleState.OPEN, client, pair, engine):
        pick = demo.rated[round_]
        before = await rating_of(engine, cycle_id, pick.ratee_id, pick.rater_id, pick.version_id)
        value = next(value for value in (5.0, 1.0, 3.0) if value not in before)
        rating = {
            "cycleId": cycle_id,
            "rateeId": str(pick.ratee_id),
            "raterId": str(pick.rater_id),
            "indicatorVersionId": str(pick.version_id),
            "value": value,
        }
        (rate_rid, rated), (score_rid, scored) = await racing_scoring(
            client, pair, round_, offset, (RATE, {"input": rating}, "ratingSubmit"), "rating"
        )

        assert scored["__typename"] == "CycleScored", scored
        assert await state_of(engine, cycle_id) is CycleState.SCORED
        stored = await rating_of(engine, cycle_id, pick.ratee_id, pick.rater_id, pick.version_id)
        if rated["__typename"] == "RatingSubmitted":
            assert stored == [value]
        else:
            assert (rated["__typename"], rated["code"]) == ("StateError", "WRONG_CYCLE_STATE"), rated
            assert stored == before, "a refused rating was stored"
        # Whatever the order, the result was computed from the ratings the database holds now.
        async with engine.connect() as connection:
            inputs = await connection.scalar(
                indicator_score(IndicatorScore.inputs, int(cycle_id), pick.ratee_id, pick.version_id)
            )
            mean = await connection.scalar(
                select(func.avg(Rating.value)).where(
                    Rating.cycle_id == int(cycle_id),
                    Rating.ratee_id == pick.ratee_id,
                    Rating.indicator_version_id == pick.version_id,
                    Rating.role == pick.role,
                )
            )
        # (no rating of the role: the role is not among the inputs)
        expected = None if mean is None else pytest.approx(float(mean))
        assert (inputs or {}).get(pick.role) == expected, (inputs, mean)
        await expect_audited(engine, rate_rid, "ratingSubmit", rated)
        await expect_audited(engine, score_rid, "cycleScore", scored)
    print("\n", dict(pair.seen))


async def measured_at(
    engine: AsyncEngine, cycle_id: str, pick: Measured
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When the stored value was fetched, and the fetch time the result was scored from."""
    async with engine.connect() as connection:
        key = (int(cycle_id), pick.employee_id, pick.version_id)
        stored = await connection.scalar(metric_value(MetricValue.fetched_at, *key))
        scored_from = await connection.scalar(indicator_score(IndicatorScore.provenance_fetched_at, *key))
    return stored, scored_from


async def test_an_import_racing_scoring_is_scored_or_refused(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async for cycle_id, demo, round_, offset in rounds_in(CycleState.OPEN, client, pair, engine):
        pick = demo.measured[round_]
        before, _ = await measured_at(engine, cycle_id, pick)
        fetched_at = dt.datetime(2026, 11, 16, 7, round_, 17, tzinfo=dt.UTC)
        assert before != fetched_at
        row = f"{pick.employee_no},{pick.code},{pick.value},{fetched_at.isoformat()}"
        csv = f"employee_no,indicator,value,fetched_at\n{row}\n"
        (import_rid, imported), (score_rid, scored) = await racing_scoring(
            client, pair, round_, offset, (IMPORT, {"id": cycle_id, "csv": csv}, "metricValuesImport"), "import"
        )

        assert scored["__typename"] == "CycleScored", scored
        assert await state_of(engine, cycle_id) is CycleState.SCORED
        stored, scored_from = await measured_at(engine, cycle_id, pick)
        assert scored_from == stored, "the result was not computed from the value the database holds"
        if imported["__typename"] == "MetricValuesImported":
            assert (imported["imported"], imported["replaced"]) == (1, 1)
            assert stored == fetched_at
        else:
            assert (imported["__typename"], imported["code"]) == ("StateError", "WRONG_CYCLE_STATE"), imported
            assert stored == before, "a refused import was stored"
        await expect_audited(engine, import_rid, "metricValuesImport", imported)
        await expect_audited(engine, score_rid, "cycleScore", scored)
    print("\n", dict(pair.seen))


async def stranger_to(engine: AsyncEngine, cycle_id: str, ratee_id: int) -> int:
    """An employee who is no rater of the ratee in the cycle (and has rated nothing of theirs)."""
    async with engine.connect() as connection:
        raters = select(RaterAssignment.rater_id).where(
            RaterAssignment.cycle_id == int(cycle_id), RaterAssignment.ratee_id == ratee_id
        )
        rated = select(Rating.rater_id).where(Rating.cycle_id == int(cycle_id), Rating.ratee_id == ratee_id)
        stranger = await connection.scalar(
            select(Employee.id)
            .where(Employee.id != ratee_id, Employee.id.not_in(raters), Employee.id.not_in(rated))
            .order_by(Employee.id.desc())
            .limit(1)
        )
    assert stranger is not None
    return int(stranger)


def rating(cycle_id: str, pick: Rated, rater_id: int, value: float) -> dict[str, Any]:
    """The variables of a ratingSubmit of the pick's ratee and indicator version by ``rater_id``."""
    return {
        "input": {
            "cycleId": cycle_id,
            "rateeId": str(pick.ratee_id),
            "raterId": str(rater_id),
            "indicatorVersionId": str(pick.version_id),
            "value": value,
        }
    }


async def test_two_first_ratings_of_one_key_give_a_success_and_a_typed_answer(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async for cycle_id, demo, round_, offset in rounds_in(CycleState.OPEN, client, pair, engine):
        pick = demo.rated[len(OFFSETS) + round_]
        rater = await stranger_to(engine, cycle_id, pick.ratee_id)
        assignment = {"cycleId": cycle_id, "rateeId": str(pick.ratee_id), "raterId": str(rater), "role": "PEER"}
        assigned = typed(await call(client, pair.hubs[0], ASSIGN, {"input": assignment}), "raterAssign")
        assert assigned["__typename"] == "RaterAssigned", assigned
        assert await rating_of(engine, cycle_id, pick.ratee_id, rater, pick.version_id) == []
        twice = (rating(cycle_id, pick, rater, 2.0), rating(cycle_id, pick, rater, 4.0))
        rids, answers = await raced_twice(client, pair, round_, offset, (RATE, "ratingSubmit"), twice)
        pair.seen["first ratings: " + " + ".join(sorted(code_of(answer) for answer in answers))] += 1

        accepted = [answer["rating"]["value"] for answer in answers if answer["__typename"] == "RatingSubmitted"]
        assert accepted, answers
        assert all(answer["__typename"] == "RatingSubmitted" or answer.get("code") for answer in answers), answers
        stored = await rating_of(engine, cycle_id, pick.ratee_id, rater, pick.version_id)
        assert len(stored) == 1 and stored[0] in accepted, (stored, answers)
        for rid, answer in zip(rids, answers, strict=True):
            await expect_audited(engine, rid, "ratingSubmit", answer)
    print("\n", dict(pair.seen))


def one_value(cycle_id: str, pick: Measured, value: float) -> dict[str, Any]:
    """The variables of a metricValuesImport of one value of the pick's key."""
    return {"id": cycle_id, "csv": f"employee_no,indicator,value\n{pick.employee_no},{pick.code},{value}\n"}


async def test_two_first_imports_of_one_key_give_a_success_and_a_typed_answer(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async for cycle_id, demo, round_, offset in rounds_in(CycleState.OPEN, client, pair, engine):
        pick = demo.measured[len(OFFSETS) + round_]
        key = (
            MetricValue.cycle_id == int(cycle_id),
            MetricValue.employee_id == pick.employee_id,
            MetricValue.indicator_version_id == pick.version_id,
        )
        async with engine.begin() as connection:  # the key has no value yet: both imports are first writes
            await connection.execute(delete(MetricValue).where(*key))
        values = (pick.value, pick.value + 1)
        twice = (one_value(cycle_id, pick, values[0]), one_value(cycle_id, pick, values[1]))
        rids, answers = await raced_twice(client, pair, round_, offset, (IMPORT, "metricValuesImport"), twice)
        pair.seen["first imports: " + " + ".join(sorted(code_of(answer) for answer in answers))] += 1

        accepted = [
            (value, answer)
            for value, answer in zip(values, answers, strict=True)
            if answer["__typename"] == "MetricValuesImported"
        ]
        assert accepted, answers
        assert all(answer["__typename"] == "MetricValuesImported" or answer.get("code") for answer in answers), answers
        if len(accepted) == 2:  # one stored the value, the other replaced it
            assert sorted(answer["replaced"] for _, answer in accepted) == [0, 1], answers
        async with engine.connect() as connection:
            stored = [value for (value,) in await connection.execute(select(MetricValue.value).where(*key))]
        assert len(stored) == 1 and stored[0] in [value for value, _ in accepted], (stored, answers)
        for rid, answer in zip(rids, answers, strict=True):
            await expect_audited(engine, rid, "metricValuesImport", answer)
    print("\n", dict(pair.seen))


async def test_a_calibration_racing_a_reopen_gives_typed_answers(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async for cycle_id, _demo, round_, offset in rounds_in(CycleState.SCORED, client, pair, engine):
        result_id = min((await results_of(engine, cycle_id)).values())
        calibration = {
            "input": {"resultId": str(result_id), "grade": "A", "gradeOverride": True, "reason": "led the audit"}
        }
        calibrate_rid, reopen_rid = request_id(), request_id()
        calibrate_body, reopen_body = await race(
            call(client, pair.hub(round_, 0), CALIBRATE, calibration, rid=calibrate_rid),
            call(client, pair.hub(round_, 1), REOPEN, {"id": cycle_id}, rid=reopen_rid),
            offset,
        )
        calibrated, reopened = typed(calibrate_body, "resultCalibrate"), typed(reopen_body, "cycleReopen")
        pair.seen[f"calibrate vs reopen: calibrate {code_of(calibrated)}"] += 1

        assert reopened["__typename"] == "CycleChanged", reopened
        assert calibrated["__typename"] == "ResultCalibrated" or (calibrated["__typename"], calibrated["code"]) in {
            ("StateError", "WRONG_CYCLE_STATE"),
            ("NotFoundError", "NOT_FOUND"),
        }, calibrated
        # Reopened: the unpublished scores are gone, calibrated or not.
        assert await state_of(engine, cycle_id) is CycleState.OPEN
        assert await results_of(engine, cycle_id) == {}
        assert await indicator_scores_of(engine, cycle_id) == 0
        await expect_audited(engine, calibrate_rid, "resultCalibrate", calibrated)
        await expect_audited(engine, reopen_rid, "cycleReopen", reopened)
    print("\n", dict(pair.seen))


async def test_two_publishes_of_one_cycle_publish_once(
    pair: Pair, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    for round_, offset in enumerate(OFFSETS):
        cycle_id = await new_calibrated_cycle(client, pair.hubs[0], f"Publish race {round_}")
        results = await results_of(engine, cycle_id)
        assert results, "the cycle has results to announce"
        rids = request_id(), request_id()
        bodies = await race(
            call(client, pair.hub(round_, 0), PUBLISH, {"id": cycle_id}, rid=rids[0]),
            call(client, pair.hub(round_, 1), PUBLISH, {"id": cycle_id}, rid=rids[1]),
            offset,
        )
        answers = [typed(body, "cyclePublish") for body in bodies]
        pair.seen["publish vs publish: " + " + ".join(sorted(code_of(answer) for answer in answers))] += 1

        assert sorted(code_of(answer) for answer in answers) == ["ILLEGAL_TRANSITION", "ok"], answers
        loser = next(answer for answer in answers if answer["__typename"] != "CycleChanged")
        assert loser["__typename"] == "StateError", loser
        assert await state_of(engine, cycle_id) is CycleState.PUBLISHED
        events = await events_of(engine, cycle_id)
        assert sorted(result for _, result in events) == sorted(results.values()), "not one event per result"
        assert len({event for event, _ in events}) == len(events)
        transitions = await transitions_of(engine, cycle_id)
        assert transitions.count((CycleState.CALIBRATED, CycleState.PUBLISHED)) == 1, transitions
        await announced_once(engine)
        for rid, answer in zip(rids, answers, strict=True):
            await expect_audited(engine, rid, "cyclePublish", answer)
    print("\n", dict(pair.seen))
