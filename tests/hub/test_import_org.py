"""Importing the organisation from CSV: all or nothing with every problem's line, idempotent by employee
number, transfers that keep the history, leavers who keep their results and join no later cycle."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Department, Employee, Post, PostAssignment, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import EmployeeStatus
from hub.operations import org_import
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, CycleOpen, create_cycle, open_cycle
from hub.operations.errors import ImportRejected, RowProblem
from hub.operations.org_import import (
    EmployeeImportCounts,
    ImportCounts,
    OrganisationImport,
    OrganisationImported,
    import_organisation,
)
from tests.conftest import TODAY

Sessions = async_sessionmaker[AsyncSession]
CALLER = Caller("test", now=dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC))

NEW_ORGANISATION = """\
employee_no,name,email,hired_on,department_code,department_name,parent_department_code,post_code,post_name,post_family,manager_employee_no,status,effective_date
IT-1,Grace,grace@example.com,2024-01-08,IT,Information technology,,IT-HEAD,Head of IT,IT support,,ACTIVE,
IT-2,Linus,linus@example.com,2025-03-01,IT-SD,Service desk,IT,IT-AGENT,Support agent,IT support,IT-3,,
IT-3,Ken,ken@example.com,2024-06-01,IT-SD,Service desk,IT,IT-LEAD,Service desk lead,IT support,IT-1,,
"""


async def run(sessionmaker: Sessions, text: str, *, dry_run: bool = False) -> OrganisationImported:
    return await import_organisation(sessionmaker, OrganisationImport(csv=text, dry_run=dry_run), CALLER)


async def rejected(sessionmaker: Sessions, text: str) -> list[RowProblem]:
    with pytest.raises(ImportRejected) as refused:
        await run(sessionmaker, text)
    return refused.value.problems


async def counts(sessionmaker: Sessions) -> tuple[int, ...]:
    async with sessionmaker() as session:
        return tuple(
            [
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
                for model in (Department, Post, Employee, PostAssignment)
            ]
        )


async def demo_csv(sessionmaker: Sessions) -> str:
    """The seeded organisation as an import file: what the database already holds."""
    async with sessionmaker() as session:
        departments = {d.id: d.code for d in await session.scalars(select(Department))}
        posts = {p.id: p.code for p in await session.scalars(select(Post))}
        employees = list(await session.scalars(select(Employee).order_by(Employee.id)))
    numbers = {e.id: e.employee_no for e in employees}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["employee_no", "name", "hired_on", "department_code", "post_code", "manager_employee_no"])
    for e in employees:
        manager = "" if e.manager_id is None else numbers[e.manager_id]
        writer.writerow([e.employee_no, e.name, e.hired_on, departments[e.department_id], posts[e.post_id], manager])
    return out.getvalue()


async def test_a_new_organisation_is_created_then_reimported_unchanged(sessionmaker: Sessions) -> None:
    first = await run(sessionmaker, NEW_ORGANISATION)
    assert (first.departments, first.posts, first.employees) == (
        ImportCounts(created=2),
        ImportCounts(created=3),
        EmployeeImportCounts(created=3),
    )
    async with sessionmaker() as session:
        ken = (await session.scalars(select(Employee).where(Employee.employee_no == "IT-3"))).one()
        linus = (await session.scalars(select(Employee).where(Employee.employee_no == "IT-2"))).one()
        service_desk = (await session.scalars(select(Department).where(Department.code == "IT-SD"))).one()
    assert linus.manager_id == ken.id and ken.email == "ken@example.com"
    assert service_desk.parent_id is not None

    again = await run(sessionmaker, NEW_ORGANISATION)
    assert (again.departments, again.posts, again.employees) == (
        ImportCounts(unchanged=2),
        ImportCounts(unchanged=3),
        EmployeeImportCounts(unchanged=3),
    )


async def test_the_demo_organisation_as_a_file_is_unchanged(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    before = await counts(sessionmaker)
    report = await run(sessionmaker, await demo_csv(sessionmaker))
    assert report.employees == EmployeeImportCounts(unchanged=seeded.employees)
    assert await counts(sessionmaker) == before


async def test_every_problem_is_reported_with_its_line_and_nothing_is_written(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    text = NEW_ORGANISATION + (
        "IT-4,Barbara,,2025-13-01,IT,,,IT-AGENT,,,,,\n"  # line 5: a bad date
        "IT-5,Dennis,grace@example.com,2025-01-01,IT,,,NO-SUCH-POST,,,,,\n"  # line 6: e-mail taken, unknown post
        "IT-2,Linus again,,2025-01-01,IT,,,IT-AGENT,,,,,\n"  # line 7: the same employee twice
        "IT-6,Alan,,2025-01-01,IT,Other name,,IT-AGENT,,,,,\n"  # line 8: IT defined otherwise
        "IT-7,Edsger,,2025-01-01,IT,,,IT-AGENT,,,IT-8,,\n"  # line 9: a manager loop with line 10
        "IT-8,Tony,,2025-01-01,IT,,,IT-AGENT,,,IT-7,,\n"
    )
    before = await counts(sessionmaker)
    problems = {problem.line: problem.message for problem in await rejected(sessionmaker, text)}
    assert sorted(problems) == [2, 5, 6, 7, 8, 9, 10]
    assert "IT-5" in problems[2]  # both rows that claim the address are named
    assert "hired_on '2025-13-01' is not a date" in problems[5]
    assert "NO-SUCH-POST" in problems[6] and "grace@example.com" in problems[6]
    assert "line 3" in problems[7]
    assert "defined otherwise on line 2" in problems[8]
    assert "loop" in problems[9] and "loop" in problems[10]
    assert await counts(sessionmaker) == before


async def test_codes_that_differ_only_in_case_are_refused(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    """ "it-sd" beside "IT-SD" would be a second department to the hub and the same one to people: a definition
    is refused, and a reference that matches a code but for its case says which."""
    await run(sessionmaker, NEW_ORGANISATION)
    before = await counts(sessionmaker)
    text = (
        NEW_ORGANISATION.splitlines()[0]
        + "\n"
        + (
            "IT-4,Barbara,,2025-01-01,it-sd,Service desk,IT,IT-AGENT,,,,,\n"  # line 2: IT-SD again, in lower case
            "IT-5,Dennis,,2025-01-01,IT-SD,,,it-agent,,,,,\n"  # line 3: a post named in the wrong case
            "IT-6,Alan,,2025-01-01,IT,,,OPS-1,Ops,Ops,,,\n"  # line 4: a new post OPS-1 ...
            "IT-7,Edsger,,2025-01-01,IT,,,ops-1,Ops,Ops,,,\n"  # line 5: ... and ops-1
        )
    )
    problems = {problem.line: problem.message for problem in await rejected(sessionmaker, text)}
    assert sorted(problems) == [2, 3, 5]
    assert "department code it-sd differs from IT-SD only in case" in problems[2]
    assert "no department or post it-agent (IT-AGENT differs only in case" in problems[3]
    assert "post code ops-1 differs from OPS-1 only in case" in problems[5]
    assert await counts(sessionmaker) == before


async def test_a_bad_header_is_line_one(sessionmaker: Sessions) -> None:
    problems = await rejected(sessionmaker, "employee_no,name,hired\nA,B,2025-01-01\n")
    assert len(problems) == 1 and problems[0].line == 1
    assert "missing column(s) department_code, post_code" in problems[0].message
    assert "unknown column(s) 'hired'" in problems[0].message


async def test_a_dry_run_counts_and_writes_nothing(sessionmaker: Sessions) -> None:
    before = await counts(sessionmaker)
    report = await run(sessionmaker, NEW_ORGANISATION, dry_run=True)
    assert report.dry_run and report.employees == EmployeeImportCounts(created=3)
    assert await counts(sessionmaker) == before


async def test_a_transfer_keeps_history_and_old_results_keep_their_post(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    async with sessionmaker() as session:
        scored = await session.scalar(
            select(Employee)
            .join(AppraisalResult, AppraisalResult.employee_id == Employee.id)
            .where(AppraisalResult.cycle_id == seeded.past_cycle_id)
            .order_by(Employee.id)
            .limit(1)
        )
        assert scored is not None
        old_post = await session.get(Post, scored.post_id)
        new_post = await session.scalar(select(Post).where(Post.id != scored.post_id).order_by(Post.id).limit(1))
        department = await session.get(Department, scored.department_id)
    assert old_post is not None and new_post is not None and department is not None
    header = "employee_no,name,department_code,post_code,effective_date\n"
    row = f"{scored.employee_no},{scored.name},{department.code},{new_post.code},2026-12-01\n"

    report = await run(sessionmaker, header + row)
    assert report.employees == EmployeeImportCounts(updated=1, transferred=1)
    async with sessionmaker() as session:
        history = (
            await session.scalars(
                select(PostAssignment)
                .where(PostAssignment.employee_id == scored.id)
                .order_by(PostAssignment.start_date.desc())
            )
        ).all()
        kept = await session.scalar(
            select(AppraisalResult.post_id).where(
                AppraisalResult.employee_id == scored.id, AppraisalResult.cycle_id == seeded.past_cycle_id
            )
        )
    assert [(a.post_id, a.start_date, a.end_date) for a in history[:2]] == [
        (new_post.id, dt.date(2026, 12, 1), None),
        (old_post.id, history[1].start_date, dt.date(2026, 11, 30)),
    ]
    assert kept == old_post.id
    assert (await run(sessionmaker, header + row)).employees == EmployeeImportCounts(unchanged=1)

    early = row.replace("2026-12-01", "2026-11-30")
    problems = await rejected(sessionmaker, header + early.replace(new_post.code, old_post.code))
    assert problems[0].line == 2 and "before the current post assignment" in problems[0].message


async def test_a_leaver_keeps_results_and_is_in_no_cycle_opened_later(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    text = await demo_csv(sessionmaker)
    lines = text.splitlines()
    header, leaver = lines[0] + ",status,effective_date", lines[5]
    number = leaver.split(",")[0]
    # Their last day is the day before the period's last: working to its end (2026-12-31) would take part.
    report = await run(sessionmaker, f"{header}\n{leaver},INACTIVE,2026-12-30\n")
    assert report.employees == EmployeeImportCounts(updated=1, deactivated=1)
    again = await run(sessionmaker, f"{header}\n{leaver},INACTIVE,2026-12-30\n")
    assert again.employees == EmployeeImportCounts(unchanged=1)
    rehire = await rejected(sessionmaker, f"{header}\n{leaver},ACTIVE,\n")
    assert "does not re-hire" in rehire[0].message

    cycle = await create_cycle(
        sessionmaker,
        CycleCreateInput(name="After the leaver", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31)),
        CALLER,
    )
    await open_cycle(sessionmaker, CycleOpen(cycle.id), CALLER)
    async with sessionmaker() as session:
        employee = (await session.scalars(select(Employee).where(Employee.employee_no == number))).one()
        ratees = set(
            await session.scalars(select(RaterAssignment.ratee_id).where(RaterAssignment.cycle_id == cycle.id))
        )
        results = await session.scalar(
            select(func.count()).select_from(AppraisalResult).where(AppraisalResult.employee_id == employee.id)
        )
    assert employee.status is EmployeeStatus.INACTIVE and employee.left_on == dt.date(2026, 12, 30)
    assert ratees and employee.id not in ratees
    assert results


async def test_two_people_swap_emails_and_a_manager_trades_places(sessionmaker: Sessions) -> None:
    await run(sessionmaker, NEW_ORGANISATION)
    swapped = (
        NEW_ORGANISATION.replace("linus@example.com", "TMP")
        .replace("ken@example.com", "linus@example.com")
        .replace("TMP", "ken@example.com")
        .replace(",IT-3,,\n", ",,,\n")  # Linus manages Ken now
        .replace(",IT-1,,\n", ",IT-2,,\n")
    )
    swapped = swapped.replace(
        "IT-2,Linus,ken@example.com,2025-03-01,IT-SD,Service desk,IT,IT-AGENT,Support agent,IT support,,",
        "IT-2,Linus,ken@example.com,2025-03-01,IT-SD,Service desk,IT,IT-AGENT,Support agent,IT support,IT-1,",
    )
    report = await run(sessionmaker, swapped)
    assert report.employees == EmployeeImportCounts(updated=2, unchanged=1)
    async with sessionmaker() as session:
        found = {
            e.employee_no: e for e in await session.scalars(select(Employee).where(Employee.employee_no.like("IT-%")))
        }
    assert (found["IT-2"].email, found["IT-3"].email) == ("ken@example.com", "linus@example.com")
    assert found["IT-3"].manager_id == found["IT-2"].id


async def test_progress_is_reported_in_steps(sessionmaker: Sessions, monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []

    class Counting:
        def begin(self, task: str, total: int | None, unit: str) -> None:
            steps.append(-(total or 0))

        def advance(self, done: int = 1, note: str | None = None) -> None:
            steps.append(done)

        def end(self) -> None:
            pass

    monkeypatch.setattr(org_import, "PROGRESS_EVERY", 2)
    await import_organisation(sessionmaker, OrganisationImport(csv=NEW_ORGANISATION), CALLER, progress=Counting())
    assert steps == [-3, 2, 1]


async def test_a_file_without_the_parent_column_renames_and_keeps_the_tree(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    lines = (await demo_csv(sessionmaker)).splitlines()
    header = lines[0] + ",department_name"
    async with sessionmaker() as session:
        child = await session.scalar(select(Department).where(Department.parent_id.is_not(None)).limit(1))
    assert child is not None
    row = next(line for line in lines[1:] if line.split(",")[3] == child.code)
    report = await run(sessionmaker, f"{header}\n{row},Renamed section\n")
    assert (report.departments, report.employees) == (ImportCounts(updated=1), EmployeeImportCounts(unchanged=1))
    async with sessionmaker() as session:
        renamed = await session.get(Department, child.id)
    assert renamed is not None and (renamed.name, renamed.parent_id) == ("Renamed section", child.parent_id)
