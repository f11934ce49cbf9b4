"""Organisation master data: typed refusals that write nothing, a department tree and a manager chain
without loops, transfers that keep the history, leavers who keep their results and join no later cycle."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, Department, Employee, Post, PostAssignment, RaterAssignment
from hub.demo.organisation import SeedSummary
from hub.domain import EmployeeStatus
from hub.operations import organisation as ops
from hub.operations.commands import Caller
from hub.operations.cycles import CycleCreateInput, CycleOpen, create_cycle, open_cycle
from hub.operations.errors import CircularReference, DuplicateCode, InvalidInput, NotFound
from tests.conftest import TODAY

Sessions = async_sessionmaker[AsyncSession]
CALLER = Caller("test")


async def _count(sessionmaker: Sessions, model: type[Department | Post | Employee | PostAssignment]) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _scored(sessionmaker: Sessions, cycle_id: int) -> Employee:
    """An employee with a manager and a result in the cycle."""
    async with sessionmaker() as session:
        employee = await session.scalar(
            select(Employee)
            .join(AppraisalResult, AppraisalResult.employee_id == Employee.id)
            .where(AppraisalResult.cycle_id == cycle_id, Employee.manager_id.is_not(None))
            .order_by(Employee.id)
            .limit(1)
        )
    assert employee is not None
    return employee


async def test_the_department_tree_takes_moves_and_refuses_loops(sessionmaker: Sessions) -> None:
    top = await ops.create_department(sessionmaker, ops.DepartmentCreateInput(code="IT", name="IT"), CALLER)
    below = await ops.create_department(
        sessionmaker, ops.DepartmentCreateInput(code="IT-SUP", name="Support", parent_id=top.id), CALLER
    )
    before = await _count(sessionmaker, Department)

    for parent in (below.id, top.id):  # below itself, then under itself
        with pytest.raises(CircularReference) as loop:
            await ops.update_department(
                sessionmaker, ops.DepartmentUpdateInput(department_id=top.id, parent_id=parent), CALLER
            )
        assert loop.value.field == "parentId"
    with pytest.raises(DuplicateCode):
        await ops.create_department(sessionmaker, ops.DepartmentCreateInput(code="IT", name="Again"), CALLER)
    with pytest.raises(DuplicateCode, match="'it-sup' differs from 'IT-SUP' only in case"):
        await ops.create_department(sessionmaker, ops.DepartmentCreateInput(code="it-sup", name="Again"), CALLER)
    with pytest.raises(NotFound) as unknown:
        await ops.create_department(
            sessionmaker, ops.DepartmentCreateInput(code="X", name="X", parent_id=999999), CALLER
        )
    assert unknown.value.field == "parentId"
    assert await _count(sessionmaker, Department) == before

    moved = await ops.update_department(
        sessionmaker, ops.DepartmentUpdateInput(department_id=below.id, name="Service desk", to_root=True), CALLER
    )
    assert (moved.name, moved.parent_id) == ("Service desk", None)


async def test_posts_are_created_and_updated_in_known_departments(sessionmaker: Sessions) -> None:
    department = await ops.create_department(sessionmaker, ops.DepartmentCreateInput(code="IT", name="IT"), CALLER)
    post = await ops.create_post(
        sessionmaker,
        ops.PostCreateInput(code="IT-1", name="Support agent", family="IT", department_id=department.id),
        CALLER,
    )
    with pytest.raises(NotFound):
        await ops.update_post(sessionmaker, ops.PostUpdateInput(post_id=post.id, department_id=999999), CALLER)
    with pytest.raises(DuplicateCode):
        await ops.create_post(
            sessionmaker,
            ops.PostCreateInput(code="IT-1", name="Other", family="IT", department_id=department.id),
            CALLER,
        )
    with pytest.raises(DuplicateCode, match="only in case"):
        await ops.create_post(
            sessionmaker,
            ops.PostCreateInput(code="it-1", name="Other", family="IT", department_id=department.id),
            CALLER,
        )
    changed = await ops.update_post(sessionmaker, ops.PostUpdateInput(post_id=post.id, family="IT support"), CALLER)
    assert (changed.name, changed.family) == ("Support agent", "IT support")


async def test_a_hire_opens_the_first_assignment_and_numbers_and_emails_are_unique(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        post = (await session.scalars(select(Post).order_by(Post.id).limit(1))).one()
        taken = (await session.scalars(select(Employee.employee_no).order_by(Employee.id).limit(1))).one()
    hire = ops.EmployeeCreateInput(
        employee_no="N-1", name="Ada", email="ada@example.com", hired_on=TODAY, post_id=post.id
    )
    employee = await ops.create_employee(sessionmaker, hire, CALLER)
    assert (employee.department_id, employee.status) == (post.department_id, EmployeeStatus.ACTIVE)
    async with sessionmaker() as session:
        history = (await session.scalars(select(PostAssignment).where(PostAssignment.employee_id == employee.id))).all()
    assert [(a.post_id, a.start_date, a.end_date) for a in history] == [(post.id, TODAY, None)]

    employees = await _count(sessionmaker, Employee)
    for duplicate, field in (
        (ops.EmployeeCreateInput(employee_no=taken, name="B", hired_on=TODAY, post_id=post.id), "employeeNo"),
        (
            ops.EmployeeCreateInput(
                employee_no="N-2", name="B", email="ADA@example.com", hired_on=TODAY, post_id=post.id
            ),
            "email",
        ),
    ):
        with pytest.raises(DuplicateCode) as refused:
            await ops.create_employee(sessionmaker, duplicate, CALLER)
        assert refused.value.field == field
    with pytest.raises(InvalidInput) as malformed:
        await ops.create_employee(
            sessionmaker,
            ops.EmployeeCreateInput(employee_no="N-3", name="C", email="nobody", hired_on=TODAY, post_id=post.id),
            CALLER,
        )
    assert malformed.value.field == "email"
    with pytest.raises(NotFound):
        await ops.create_employee(
            sessionmaker, ops.EmployeeCreateInput(employee_no="N-4", name="D", hired_on=TODAY, post_id=999999), CALLER
        )
    assert await _count(sessionmaker, Employee) == employees


async def test_a_manager_chain_never_loops(sessionmaker: Sessions, seeded: SeedSummary) -> None:
    employee = await _scored(sessionmaker, seeded.past_cycle_id)
    assert employee.manager_id is not None
    # Their manager under them, and themselves as their own manager: both would close a loop.
    for managed, manager in ((employee.manager_id, employee.id), (employee.id, employee.id)):
        change = ops.EmployeeUpdateInput(employee_id=managed, manager_id=manager)
        with pytest.raises(CircularReference) as loop:
            await ops.update_employee(sessionmaker, change, CALLER)
        assert loop.value.field == "managerId"
    cleared = await ops.update_employee(
        sessionmaker,
        ops.EmployeeUpdateInput(employee_id=employee.id, clear_manager=True, email="x@example.com"),
        CALLER,
    )
    assert (cleared.manager_id, cleared.email) == (None, "x@example.com")


async def test_a_transfer_keeps_the_history_and_results_keep_their_post(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    employee = await _scored(sessionmaker, seeded.past_cycle_id)
    async with sessionmaker() as session:
        other = await session.scalar(select(Post).where(Post.id != employee.post_id).order_by(Post.id).limit(1))
        current = await session.scalar(
            select(PostAssignment).where(PostAssignment.employee_id == employee.id, PostAssignment.end_date.is_(None))
        )
    assert other is not None and current is not None
    with pytest.raises(InvalidInput) as early:
        await ops.transfer_employee(
            sessionmaker,
            ops.EmployeeTransferInput(
                employee_id=employee.id, effective_date=current.start_date - dt.timedelta(days=1), post_id=other.id
            ),
            CALLER,
        )
    assert early.value.field == "effectiveDate"

    moved = await ops.transfer_employee(
        sessionmaker, ops.EmployeeTransferInput(employee_id=employee.id, effective_date=TODAY, post_id=other.id), CALLER
    )
    assert (moved.post_id, moved.department_id) == (other.id, other.department_id)
    async with sessionmaker() as session:
        history = (
            await session.scalars(
                select(PostAssignment)
                .where(PostAssignment.employee_id == employee.id)
                .order_by(PostAssignment.start_date)
            )
        ).all()
        result_post = await session.scalar(
            select(AppraisalResult.post_id).where(
                AppraisalResult.employee_id == employee.id, AppraisalResult.cycle_id == seeded.past_cycle_id
            )
        )
    assert [(a.post_id, a.end_date) for a in history[-2:]] == [
        (employee.post_id, TODAY - dt.timedelta(days=1)),
        (other.id, None),
    ]
    assert result_post == employee.post_id


async def test_a_leaver_keeps_results_and_joins_no_cycle_opened_later(
    sessionmaker: Sessions, seeded: SeedSummary
) -> None:
    employee = await _scored(sessionmaker, seeded.past_cycle_id)
    period_end = dt.date(2026, 12, 31)
    # Their last day is the day before the new cycle's last: they do not work its period to the end (on its last
    # day they would: see tests/schema/test_cycle_membership.py).
    last_day = period_end - dt.timedelta(days=1)
    left = await ops.deactivate_employee(
        sessionmaker, ops.EmployeeDeactivateInput(employee_id=employee.id, left_on=last_day), CALLER
    )
    assert (left.status, left.left_on) == (EmployeeStatus.INACTIVE, last_day)
    with pytest.raises(InvalidInput):
        await ops.deactivate_employee(
            sessionmaker, ops.EmployeeDeactivateInput(employee_id=employee.id, left_on=TODAY), CALLER
        )
    with pytest.raises(InvalidInput):
        await ops.transfer_employee(
            sessionmaker,
            ops.EmployeeTransferInput(employee_id=employee.id, effective_date=TODAY, post_id=employee.post_id + 1),
            CALLER,
        )

    cycle = await create_cycle(
        sessionmaker,
        CycleCreateInput(name="Q4 again", period_start=dt.date(2026, 10, 1), period_end=period_end),
        CALLER,
    )
    await open_cycle(sessionmaker, CycleOpen(cycle.id), CALLER)
    async with sessionmaker() as session:
        ratees = set(
            await session.scalars(select(RaterAssignment.ratee_id).where(RaterAssignment.cycle_id == cycle.id))
        )
        results = await session.scalar(
            select(func.count()).select_from(AppraisalResult).where(AppraisalResult.employee_id == employee.id)
        )
        still_open = await session.scalar(
            select(func.count())
            .select_from(PostAssignment)
            .where(PostAssignment.employee_id == employee.id, PostAssignment.end_date.is_(None))
        )
    assert ratees and employee.id not in ratees
    assert results and still_open == 0


async def test_two_hires_of_one_number_at_once_answer_one_duplicate(sessionmaker: Sessions) -> None:
    """The organisation's lock orders concurrent changes: the second sees the first's employee and refuses."""
    async with sessionmaker() as session:
        post = (await session.scalars(select(Post).order_by(Post.id).limit(1))).one()
    hire = ops.EmployeeCreateInput(employee_no="TWICE", name="Ada", hired_on=TODAY, post_id=post.id)
    outcomes = await asyncio.gather(
        ops.create_employee(sessionmaker, hire, CALLER),
        ops.create_employee(sessionmaker, hire, CALLER),
        return_exceptions=True,
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["DuplicateCode", "Employee"]
