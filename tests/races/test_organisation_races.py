"""The organisation's write paths raced on two served hubs, and an import killed mid-way (PostgreSQL only).

- two hires of one employee number, one to each hub: one is stored, the other is refused with a typed
  error, and the database holds one such employee;
- two imports of overlapping files (the same new people, different names and e-mails): each answer is typed,
  and the organisation holds one file or the other entirely, never rows of both;
- two corrections of one published result, one to each hub: both are kept, each starting from the other's
  total (no lost update), and each has its result.revised event;
- an import of 800 new people, its hub killed (SIGKILL) at several points (the last as its rows commit):
  after the database has let go of the dead hub's session, all 800 are there or none, and the import's
  audit entry exists exactly when they do; the hub restarted on the same database imports the file again
  and reports what it finds.

Every call has exactly one access audit entry with the outcome its caller was told.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.models import AppraisalResult, Employee, ResultAdjustment, ResultEvent
from tests.races.conftest import Pair
from tests.races.harness import (
    WITHIN,
    Hubs,
    audited,
    call,
    code_of,
    data,
    kill,
    needs_postgres,
    reader,
    request_id,
    typed,
    until_alone,
)
from tests.races.test_kill import JITTER, restarted, send_and_kill
from tests.races.test_two_hubs import OFFSETS, raced_twice
from tests.served.hub_process import ServedHub

pytestmark = needs_postgres

HIRE = """mutation($input: EmployeeCreateInput!) { employeeCreate(input: $input) {
  __typename ... on EmployeeChanged { employee { id employeeNo } } ... on MutationError { code message } } }"""
IMPORT = """mutation($csv: String!) { organisationImport(csv: $csv) {
  __typename ... on OrganisationImported { employees { created updated unchanged } }
  ... on MutationError { code message } } }"""
POSTS = "{ posts { id code department { code } } }"
CYCLES = "{ cycles { id state } }"
RESULTS = "query($id: ID!) { results(cycleId: $id, first: 1) { edges { node { id } } } }"
PEOPLE = 800
"""New people in each killed import."""


async def a_post(client: httpx.AsyncClient, hub: ServedHub) -> tuple[str, str, str]:
    """(post id, post code, department code) of one of the demo's posts."""
    post = (await data(client, hub, POSTS))["posts"][0]
    return post["id"], post["code"], post["department"]["code"]


async def employees_numbered(engine: AsyncEngine, prefix: str) -> dict[str, tuple[str, str | None]]:
    """employee number -> (name, e-mail) of the employees whose number starts with ``prefix``."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Employee.employee_no, Employee.name, Employee.email).where(Employee.employee_no.like(f"{prefix}%"))
        )
        return {number: (name, email) for number, name, email in rows}


async def expect_one_audit(engine: AsyncEngine, rid: str, operation: str, payload: dict[str, Any]) -> None:
    assert await audited(engine, rid) == [(operation, code_of(payload))]


async def test_two_hires_of_one_number_store_one(client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine) -> None:
    post_id, _, _ = await a_post(client, pair.hubs[0])
    for round_, offset in enumerate(OFFSETS):
        number = f"RACE-HIRE-{round_}"
        inputs = [
            {"employeeNo": number, "name": f"Hire {side}", "hiredOn": "2026-11-02", "postId": post_id}
            for side in ("a", "b")
        ]
        variables = ({"input": inputs[0]}, {"input": inputs[1]})
        rids, answers = await raced_twice(client, pair, round_, offset, (HIRE, "employeeCreate"), variables)
        kinds = sorted(answer["__typename"] for answer in answers)
        assert kinds == ["EmployeeChanged", "InvalidInputError"], answers
        refused = next(answer for answer in answers if answer["__typename"] == "InvalidInputError")
        assert refused["code"] == "DUPLICATE_CODE" and number in refused["message"], refused
        stored = await employees_numbered(engine, number)
        winner = next(inputs[i] for i, answer in enumerate(answers) if answer["__typename"] == "EmployeeChanged")
        assert stored == {number: (winner["name"], None)}
        for rid, answer in zip(rids, answers, strict=True):
            await expect_one_audit(engine, rid, "employeeCreate", answer)
        pair.seen[f"hire vs hire: {kinds}"] += 1


def import_file(department: str, post: str, prefix: str, people: int, side: str) -> str:
    lines = ["employee_no,name,email,department_code,post_code,hired_on"]
    lines += [
        f"{prefix}{n:05d},Person {side}{n},{side}{n}.{prefix.lower()}@example.test,{department},{post},2026-11-02"
        for n in range(people)
    ]
    return "\n".join(lines) + "\n"


async def test_two_overlapping_imports_leave_one_file_whole(
    client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine
) -> None:
    _, post, department = await a_post(client, pair.hubs[0])
    for round_, offset in enumerate(OFFSETS):
        prefix = f"RACE-IMP{round_}-"
        files = [import_file(department, post, prefix, 40, side) for side in ("a", "b")]
        variables = ({"csv": files[0]}, {"csv": files[1]})
        rids, answers = await raced_twice(client, pair, round_, offset, (IMPORT, "organisationImport"), variables)
        assert all(answer["__typename"] == "OrganisationImported" for answer in answers), answers
        # Serialised by the organisation's lock: the first creates 40, the second updates the same 40.
        counts = sorted((answer["employees"]["created"], answer["employees"]["updated"]) for answer in answers)
        assert counts == [(0, 40), (40, 0)], answers
        stored = await employees_numbered(engine, prefix)
        assert len(stored) == 40
        sides = {name.split(" ")[1][0] for name, _ in stored.values()}
        assert len(sides) == 1, f"rows of both files: {sides}"
        side = sides.pop()
        assert all(email is not None and email.startswith(side) for _, email in stored.values())
        for rid, answer in zip(rids, answers, strict=True):
            await expect_one_audit(engine, rid, "organisationImport", answer)
        pair.seen[f"import vs import: last {side}"] += 1


async def kill_once_committed(
    client: httpx.AsyncClient, hub: ServedHub, engine: AsyncEngine, csv: str, rid: str, prefix: str
) -> dict[str, Any] | None:
    """Sends the import and kills its hub as soon as its rows are visible to another session."""
    sent = asyncio.create_task(call(client, hub, IMPORT, {"csv": csv}, rid=rid))
    deadline = time.monotonic() + WITHIN
    while len(await employees_numbered(engine, prefix)) < PEOPLE and not sent.done():
        assert time.monotonic() < deadline, "the import neither committed nor answered"
        await asyncio.sleep(0.005)
    await kill(hub)
    try:
        return await sent
    except httpx.TransportError:
        return None


async def test_a_hub_killed_while_importing_leaves_all_or_nothing(demo_hubs: Hubs) -> None:
    engine = reader(demo_hubs.database_url)
    rounds: list[str] = []
    try:
        async with httpx.AsyncClient(timeout=120.0) as client:
            hub = await demo_hubs.restart("hub-0")
            _, post, department = await a_post(client, hub)
            # An undisturbed import of as many people: how long one takes, so that kills land inside its
            # transaction and after its commit (the delays are printed; the assertions hold for any).
            started = time.monotonic()
            reference = await call(
                client, hub, IMPORT, {"csv": import_file(department, post, "KILL-REF-", PEOPLE, "r")}
            )
            took = time.monotonic() - started
            assert typed(reference, "organisationImport")["employees"]["created"] == PEOPLE
            # None: the kill comes the moment the rows are committed, before or as the answer is sent.
            delays: tuple[float | None, ...] = (0.0, 0.05, JITTER.uniform(0.2, 0.9) * took, None)
            for round_, delay in enumerate(delays):
                prefix = f"KILL-IMP{round_}-"
                csv = import_file(department, post, prefix, PEOPLE, "k")
                rid = request_id()
                if delay is None:
                    answer = await kill_once_committed(client, hub, engine, csv, rid, prefix)
                else:
                    answer = await send_and_kill(client, hub, IMPORT, {"csv": csv}, rid, delay)
                await until_alone(engine)
                stored = await employees_numbered(engine, prefix)
                entries = await audited(engine, rid)
                assert len(stored) in (0, PEOPLE), f"round {round_}: {len(stored)} of {PEOPLE} stored"
                assert entries == ([("organisationImport", "ok")] if stored else []), entries
                if answer is not None:  # an answer received before the kill is never contradicted
                    assert typed(answer, "organisationImport")["employees"]["created"] == PEOPLE and stored
                rounds.append(
                    f"round {round_}: killed {'at commit' if delay is None else f'after {delay:.2f}s'} of {took:.2f}s, "
                    f"stored {len(stored)}, "
                    f"answered {answer is not None}"
                )
                hub = await restarted(demo_hubs, engine, f"hub-{round_ + 1}")
                again = typed(await call(client, hub, IMPORT, {"csv": csv}), "organisationImport")
                expected = (0, 0, PEOPLE) if stored else (PEOPLE, 0, 0)
                employees = again["employees"]
                assert (employees["created"], employees["updated"], employees["unchanged"]) == expected, again
            async with engine.connect() as connection:
                total = await connection.scalar(select(func.count()).where(Employee.employee_no.like("KILL-IMP%")))
            assert total == len(delays) * PEOPLE
    finally:
        await engine.dispose()
        print("\n" + "\n".join(rounds))


CORRECT = """mutation($input: ResultCorrectInput!) { resultCorrect(input: $input) {
  __typename ... on ResultCorrected { result { totalScore } } ... on MutationError { code message } } }"""


async def corrections_of(engine: AsyncEngine, result_id: int) -> list[tuple[float, float]]:
    """(total before, total after) of the result's adjustments, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ResultAdjustment.total_before, ResultAdjustment.total_after)
            .where(ResultAdjustment.result_id == result_id)
            .order_by(ResultAdjustment.id)
        )
        return [(before, after) for before, after in rows]


async def revisions_of(engine: AsyncEngine, result_id: int) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(ResultEvent.result_id == result_id, ResultEvent.type == "result.revised")
        )
    return int(count or 0)


async def test_two_corrections_of_one_result_lose_neither(
    client: httpx.AsyncClient, pair: Pair, engine: AsyncEngine
) -> None:
    """Each correction's "before" is the previous one's "after" (no lost update), the stored total is the last
    one's, and every correction has its result.revised event."""
    published = next(
        cycle for cycle in (await data(client, pair.hubs[0], CYCLES))["cycles"] if cycle["state"] == "PUBLISHED"
    )
    page = await data(client, pair.hubs[0], RESULTS, {"id": published["id"]})
    result_id = page["results"]["edges"][0]["node"]["id"]
    for round_, offset in enumerate(OFFSETS):
        totals = (40.0 + round_, 60.0 + round_)
        first, second = [
            {"input": {"resultId": result_id, "totalScore": total, "reason": f"race {round_}"}} for total in totals
        ]
        rids, answers = await raced_twice(client, pair, round_, offset, (CORRECT, "resultCorrect"), (first, second))
        assert all(answer["__typename"] == "ResultCorrected" for answer in answers), answers
        for rid, answer in zip(rids, answers, strict=True):
            await expect_one_audit(engine, rid, "resultCorrect", answer)
    chain = await corrections_of(engine, int(result_id))
    assert len(chain) == 2 * len(OFFSETS)
    assert all(chain[i][0] == chain[i - 1][1] for i in range(1, len(chain))), chain
    async with engine.connect() as connection:
        stored = await connection.scalar(
            select(AppraisalResult.total_score).where(AppraisalResult.id == int(result_id))
        )
    assert stored == chain[-1][1]
    assert await revisions_of(engine, int(result_id)) == len(chain)
