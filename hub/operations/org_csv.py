"""The organisation import's file: one row per employee, with their department and post, read and checked.

Columns (header on line 1, any order; names are case-insensitive):

- required: ``employee_no``, ``name``, ``department_code``, ``post_code``;
- optional: ``email``, ``hired_on``, ``department_name``, ``parent_department_code``, ``post_name``,
  ``post_family``, ``post_department_code``, ``manager_employee_no``, ``status``, ``effective_date``.

A row with ``department_name`` defines its department (name and parent: a blank parent is a root); without
it the row only names a department that exists or that another row defines. The same holds for posts:
``post_name`` and ``post_family`` define the post, in ``post_department_code`` (default: the row's
department). A column left out of the header leaves that attribute as stored; a blank ``email`` or
``manager_employee_no`` cell removes it. Dates are ISO (``2026-11-16``); ``status`` is ACTIVE (default) or
INACTIVE; ``effective_date`` (default: today) is when a changed post or department starts, or a leaver's
last day. This module reads the text (the stdlib ``csv`` module) and reports what shows without the
database; ``hub.operations.org_import`` checks the rows against the organisation.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from hub.domain import EmployeeStatus
from hub.operations import csv_files
from hub.operations.errors import InvalidInput, RowProblem
from hub.operations.org_changes import CODE_CHARS, FAMILY_CHARS, NAME_CHARS, checked_email, checked_text

REQUIRED_COLUMNS = ("employee_no", "name", "department_code", "post_code")
OPTIONAL_COLUMNS = (
    "email",
    "hired_on",
    "department_name",
    "parent_department_code",
    "post_name",
    "post_family",
    "post_department_code",
    "manager_employee_no",
    "status",
    "effective_date",
)


@dataclass(frozen=True, slots=True)
class DepartmentDefinition:
    name: str
    parent_code: str | None
    has_parent: bool
    """Whether the file has the parent column at all (without it, a stored department keeps its parent)."""


@dataclass(frozen=True, slots=True)
class PostDefinition:
    name: str
    family: str
    department_code: str


@dataclass(frozen=True, slots=True)
class OrgRow:
    """One well-formed row. ``email`` and ``manager_no`` are None when blank; ``has_*`` says whether the
    file has the column at all (without it, the stored value stands)."""

    line: int
    employee_no: str
    name: str
    department_code: str
    post_code: str
    department: DepartmentDefinition | None
    post: PostDefinition | None
    email: str | None
    has_email: bool
    hired_on: dt.date | None
    manager_no: str | None
    has_manager: bool
    status: EmployeeStatus
    effective_date: dt.date | None


class _Cells:
    """A row's cells by column, and what is wrong with them, collected rather than raised."""

    def __init__(self, cells: dict[str, str]) -> None:
        self.cells = cells
        self.problems: list[str] = []

    def optional(self, column: str) -> str | None:
        value = self.cells.get(column, "")
        return value or None

    def text(self, column: str, limit: int) -> str:
        try:
            return checked_text(self.cells.get(column, ""), column, column, limit)
        except InvalidInput as error:
            self.problems.append(error.message)
            return ""

    def optional_text(self, column: str, limit: int) -> str | None:
        return None if self.optional(column) is None else self.text(column, limit)

    def date(self, column: str) -> dt.date | None:
        value = self.optional(column)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.problems.append(f"{column} {value!r} is not a date (YYYY-MM-DD)")
            return None

    def email(self) -> str | None:
        value = self.optional("email")
        if value is None:
            return None
        try:
            return checked_email(value)
        except InvalidInput as error:
            self.problems.append(error.message)
            return None

    def status(self) -> EmployeeStatus:
        value = (self.optional("status") or EmployeeStatus.ACTIVE.value).upper()
        if value not in EmployeeStatus.__members__:
            self.problems.append(f"status {value!r} is neither ACTIVE nor INACTIVE")
            return EmployeeStatus.ACTIVE
        return EmployeeStatus(value)


def _definitions(cells: _Cells) -> tuple[DepartmentDefinition | None, PostDefinition | None]:
    department_name = cells.optional_text("department_name", NAME_CHARS)
    department = None
    if department_name is not None:
        parent = cells.optional_text("parent_department_code", CODE_CHARS)
        department = DepartmentDefinition(department_name, parent, "parent_department_code" in cells.cells)
    post_name, family = cells.optional_text("post_name", NAME_CHARS), cells.optional_text("post_family", FAMILY_CHARS)
    if (post_name is None) != (family is None):
        cells.problems.append("post_name and post_family go together: both define the post, neither names it")
        return department, None
    post = None
    if post_name is not None and family is not None:
        department_code = cells.optional_text("post_department_code", CODE_CHARS) or cells.cells["department_code"]
        post = PostDefinition(post_name, family, department_code)
    return department, post


def _row(line: int, header: list[str], cells: _Cells) -> OrgRow:
    keys = (line, cells.text("employee_no", CODE_CHARS), cells.text("name", NAME_CHARS))
    where = (cells.text("department_code", CODE_CHARS), cells.text("post_code", CODE_CHARS), *_definitions(cells))
    email = (cells.email(), "email" in header, cells.date("hired_on"))
    manager = (cells.optional_text("manager_employee_no", CODE_CHARS), "manager_employee_no" in header)
    fields = (*keys, *where, *email, *manager, cells.status(), cells.date("effective_date"))
    return OrgRow(*fields)  # in the order of OrgRow's fields: mypy checks each


def read_org_csv(text: str) -> tuple[list[OrgRow], list[RowProblem]]:
    """The file's rows, with every problem that shows without the database (line 1 is the header)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    rows: list[OrgRow] = []
    problems: list[RowProblem] = []
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        return [], [RowProblem(1, f"the file is empty; expected a header {','.join(REQUIRED_COLUMNS)},...")]
    except csv.Error as error:
        return [], [RowProblem(1, f"unreadable CSV: {error}")]
    header_problems = csv_files.header_problems(header, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    if header_problems:
        return [], [RowProblem(1, "; ".join(header_problems))]
    seen: dict[str, int] = {}
    line = reader.line_num
    try:
        for fields in reader:
            # A quoted cell may span lines: the record starts on the line after the previous one ended.
            line, next_line = line + 1, reader.line_num
            if any(field.strip() for field in fields):
                problem = _check_row(line, header, fields, seen, rows)
                if problem is not None:
                    problems.append(problem)
            line = next_line
    except csv.Error as error:
        problems.append(RowProblem(reader.line_num, f"unreadable CSV: {error}"))
    if not rows and not problems:
        problems.append(RowProblem(1, csv_files.NO_ROWS))
    return rows, problems


def _check_row(
    line: int, header: list[str], fields: list[str], seen: dict[str, int], rows: list[OrgRow]
) -> RowProblem | None:
    if (wrong_width := csv_files.width_problem(line, header, fields)) is not None:
        return wrong_width
    cells = _Cells(dict(zip(header, (field.strip() for field in fields), strict=True)))
    row = _row(line, header, cells)
    if row.employee_no:
        first = seen.setdefault(row.employee_no, line)
        if first != line:
            cells.problems.append(f"employee {row.employee_no} is on line {first} already")
    if cells.problems:
        return RowProblem(line, "; ".join(cells.problems))
    rows.append(row)
    return None
