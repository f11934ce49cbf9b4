"""The operations' error tree: each error has a stable machine code and a message for people.

    OperationError
    ├── NotFound                 NOT_FOUND                  an id names nothing
    ├── InvalidInput             INVALID_INPUT              a value is malformed or out of range
    │   ├── OverlappingDates     OVERLAPPING_EFFECTIVE_DATES a version would overlap an existing one
    │   ├── DuplicateCode        DUPLICATE_CODE             the code is already taken
    │   └── ImportRejected       IMPORT_REJECTED            an import had bad rows; nothing was stored
    ├── NotARater                NOT_A_RATER                the rater has no evaluation relationship
    └── WrongCycleState          WRONG_CYCLE_STATE          the cycle's state does not allow it

Errors of the scoring arithmetic (``hub.appraisal.errors``) pass through unchanged: they carry
``code`` and ``message`` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hub.domain import CycleState


class OperationError(Exception):
    code: ClassVar[str] = "OPERATION_FAILED"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(OperationError):
    code = "NOT_FOUND"

    def __init__(self, entity: str, id_: object, *, field: str | None = None) -> None:
        super().__init__(f"no {entity} with id {id_!r}", field=field)
        self.entity = entity


class InvalidInput(OperationError):
    code = "INVALID_INPUT"


class OverlappingDates(InvalidInput):
    code = "OVERLAPPING_EFFECTIVE_DATES"


class DuplicateCode(InvalidInput):
    code = "DUPLICATE_CODE"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad row of an import: its line number in the file (header = line 1) and what is wrong."""

    line: int
    message: str


class ImportRejected(InvalidInput):
    code = "IMPORT_REJECTED"

    def __init__(self, problems: list[RowProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"line {first.line}: {first.message}{more}; nothing was imported")
        self.problems = problems


class NotARater(OperationError):
    code = "NOT_A_RATER"


class WrongCycleState(OperationError):
    code = "WRONG_CYCLE_STATE"

    def __init__(self, state: CycleState, needed: str) -> None:
        super().__init__(f"the cycle is {state.value}; {needed}", field="cycleId")
        self.state = state
