"""The organisation import's checks against the organisation: every problem of a file, each with its line.

They look at the organisation as the file would leave it (the stored one with the file laid over it), so
that a file which moves a department and its parent, or swaps two people's e-mails, passes, and one that
closes a loop or gives an address to two people does not. What they pass, the change methods of
``hub.operations.org_changes`` accept: the import then writes without a refusal half-way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from hub.domain import EmployeeStatus
from hub.operations.errors import RowProblem
from hub.operations.org_changes import Organisation
from hub.operations.org_csv import DepartmentDefinition, OrgRow, PostDefinition

D = TypeVar("D", DepartmentDefinition, PostDefinition)


class _Problems:
    def __init__(self) -> None:
        self.by_line: defaultdict[int, list[str]] = defaultdict(list)

    def add(self, line: int, message: str) -> None:
        self.by_line[line].append(message)

    def listed(self) -> list[RowProblem]:
        return [RowProblem(line, "; ".join(messages)) for line, messages in sorted(self.by_line.items())]


def check_rows(org: Organisation, rows: list[OrgRow], today: dt.date) -> list[RowProblem]:
    """Every problem of the rows against ``org``, sorted by line; none for a file that applies cleanly."""
    problems = _Problems()
    _check_definitions(org, rows, problems)
    _check_managers(org, rows, problems)
    _check_emails(org, rows, problems)
    for row in rows:
        _check_dates(org, row, today, problems)
    return problems.listed()


def _loops(start: str, up: Callable[[str], str | None]) -> bool:
    """Whether walking up from ``start`` comes back to it."""
    seen: set[str] = set()
    key = up(start)
    while key is not None and key not in seen:
        if key == start:
            return True
        seen.add(key)
        key = up(key)
    return False


def _first_definitions(
    rows: list[OrgRow], defined: Callable[[OrgRow], tuple[str, D] | None], kind: str, problems: _Problems
) -> dict[str, tuple[int, D]]:
    """What the file defines (departments or posts), by code, with the first line that does; a later row
    that defines the same code otherwise is a problem."""
    first_seen: dict[str, tuple[int, D]] = {}
    for row in rows:
        found = defined(row)
        if found is not None:
            code, definition = found
            line, first = first_seen.setdefault(code, (row.line, definition))
            if first != definition:
                problems.add(row.line, f"{kind} {code} is defined otherwise on line {line}")
    return first_seen


def _check_case(stored: Iterable[str], defined: dict[str, tuple[int, D]], kind: str, problems: _Problems) -> None:
    """A code the file defines that differs only in case from a stored one or one defined earlier in the file is
    refused (as ``org_changes`` refuses it): two departments to the hub would be one to people."""
    spelled = {code.casefold(): code for code in stored}
    for code, (line, _) in defined.items():
        other = spelled.setdefault(code.casefold(), code)
        if other != code:
            problems.add(line, f"{kind} code {code} differs from {other} only in case: codes are spelled one way")


def _check_definitions(org: Organisation, rows: list[OrgRow], problems: _Problems) -> None:
    departments = _first_definitions(
        rows,
        lambda row: None if row.department is None else (row.department_code, row.department),
        "department",
        problems,
    )
    posts = _first_definitions(
        rows, lambda row: None if row.post is None else (row.post_code, row.post), "post", problems
    )
    _check_case(org.department_codes, departments, "department", problems)
    _check_case(org.post_codes, posts, "post", problems)
    known_departments, known_posts = set(org.department_codes) | set(departments), set(org.post_codes) | set(posts)
    spelled = {code.casefold(): code for code in known_departments | known_posts}
    for row in rows:
        named = [(row.department_code, known_departments, "department_name"), (row.post_code, known_posts, "post_name")]
        if row.department is not None and row.department.parent_code is not None:
            named.append((row.department.parent_code, known_departments, "department_name"))
        if row.post is not None:
            named.append((row.post.department_code, known_departments, "department_name"))
        for code, known, defining in named:
            if code not in known:
                meant = spelled.get(code.casefold())
                hint = f" ({meant} differs only in case: codes are spelled one way)" if meant else ""
                problems.add(row.line, f"no department or post {code}{hint}: a row with its {defining} creates it")
    # The tree as the file leaves it: the stored parents, with the file's over them.
    parents = {
        code: None if department.parent_id is None else org.departments[department.parent_id].code
        for code, department in org.department_codes.items()
    }
    parents.update(
        (code, definition.parent_code)
        for code, (_, definition) in departments.items()
        if definition.has_parent or code not in parents
    )
    for code, (line, _) in departments.items():
        if _loops(code, parents.get):
            problems.add(line, f"department {code} would be below itself: the tree would loop")


def _final(org: Organisation, rows: list[OrgRow]) -> tuple[dict[str, str | None], dict[str, EmployeeStatus]]:
    """Each employee's manager (by number) and status as the file leaves them."""
    managers = {
        number: None if employee.manager_id is None else org.employees[employee.manager_id].employee_no
        for number, employee in org.employee_numbers.items()
    }
    statuses = {number: employee.status for number, employee in org.employee_numbers.items()}
    for row in rows:
        if row.has_manager or row.employee_no not in managers:
            managers[row.employee_no] = row.manager_no
        if statuses.get(row.employee_no) is not EmployeeStatus.INACTIVE:
            statuses[row.employee_no] = row.status
    return managers, statuses


def _check_managers(org: Organisation, rows: list[OrgRow], problems: _Problems) -> None:
    managers, statuses = _final(org, rows)
    for row in rows:
        manager = row.manager_no
        if manager is None:
            continue
        if manager not in statuses:
            problems.add(row.line, f"manager {manager} is neither stored nor in the file")
        elif statuses[manager] is EmployeeStatus.INACTIVE:
            problems.add(row.line, f"manager {manager} has left (or leaves in this file) and manages nobody")
        elif _loops(row.employee_no, managers.get):
            problems.add(row.line, f"manager {manager} reports to {row.employee_no}: the chain would loop")


def _emails(org: Organisation, rows: list[OrgRow]) -> Iterator[tuple[str, str]]:
    """(e-mail in lower case, employee number) as the file leaves them."""
    final = {number: employee.email for number, employee in org.employee_numbers.items()}
    final.update((row.employee_no, row.email) for row in rows if row.has_email or row.employee_no not in final)
    return ((email.lower(), number) for number, email in final.items() if email is not None)


def _check_emails(org: Organisation, rows: list[OrgRow], problems: _Problems) -> None:
    holders: defaultdict[str, list[str]] = defaultdict(list)
    for email, number in _emails(org, rows):
        holders[email].append(number)
    for row in rows:
        if row.email is not None:
            others = [number for number in holders[row.email.lower()] if number != row.employee_no]
            if others:
                problems.add(row.line, f"e-mail {row.email} would also be employee {others[0]}'s")


def _check_dates(org: Organisation, row: OrgRow, today: dt.date, problems: _Problems) -> None:
    employee = org.employee_numbers.get(row.employee_no)
    day = row.effective_date or today
    if employee is None:
        if row.hired_on is None:
            problems.add(row.line, "a new employee needs hired_on")
        elif row.status is EmployeeStatus.INACTIVE and day < row.hired_on:
            problems.add(row.line, f"effective_date {day} (the last day) is before hired_on {row.hired_on}")
        return
    if employee.status is EmployeeStatus.INACTIVE:
        if row.status is EmployeeStatus.ACTIVE:
            problems.add(row.line, f"employee {row.employee_no} left on {employee.left_on}; an import does not re-hire")
        return
    post, department = org.post_codes.get(row.post_code), org.department_codes.get(row.department_code)
    moved = (
        post is not None
        and department is not None
        and (post.id, department.id)
        != (
            employee.post_id,
            employee.department_id,
        )
    )
    current = org.current.get(employee.id)
    if (moved or row.status is EmployeeStatus.INACTIVE) and current is not None and day < current.start_date:
        problems.add(
            row.line, f"effective_date {day} is before the current post assignment's start {current.start_date}"
        )
