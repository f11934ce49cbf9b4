"""The operations' error tree: each error has a stable machine code, the kind of refusal it is, and a
message for people.

    OperationError
    ├── NotFound                 NOT_FOUND                   an id names nothing
    ├── InvalidInput             INVALID_INPUT               a value is malformed or out of range
    │   ├── OverlappingDates     OVERLAPPING_EFFECTIVE_DATES a version would overlap an existing one
    │   ├── DuplicateName        DUPLICATE_NAME              another cycle has the name (case aside)
    │   ├── WrongRaterRelation   WRONG_RATER_RELATIONSHIP    a MANAGER or SUBORDINATE rater who is not one
    │   ├── RoleNotWeighed       RATER_ROLE_NOT_WEIGHED      a rater in a role the ratee's scheme gives no weight
    │   ├── NotAParticipant      NOT_A_PARTICIPANT           a ratee who takes no part in the cycle
    │   ├── GradeDisagrees       GRADE_DISAGREES_WITH_BANDS  a calibrated grade the bands do not give its total
    │   ├── DuplicateCode        DUPLICATE_CODE              the code (or number, e-mail) is already taken
    │   ├── CircularReference    CIRCULAR_REFERENCE          a department or manager would be its own ancestor
    │   ├── IndicatorRetired     INDICATOR_RETIRED           a new version or scheme would use a retired indicator
    │   ├── PostWithoutScheme    POST_WITHOUT_SCHEME         a post joining a cycle has no scheme in force
    │   ├── BadWebhookUrl        BAD_WEBHOOK_URL             a webhook URL that is not an absolute http(s) URL
    │   ├── UnknownEventType     UNKNOWN_EVENT_TYPE          a webhook subscribes to an event type the hub does not send
    │   └── ImportRejected       IMPORT_REJECTED             an import had bad rows; nothing was stored
    │       └── AssignmentsRejected ASSIGNMENTS_REJECTED     bulk rater assignments had bad items; none was stored
    ├── NotAllowed                                           (the caller may not do this)
    │   ├── NotARater            NOT_A_RATER                 the rater has no evaluation relationship
    │   ├── NotYourRating        NOT_YOUR_RATING             a person submits a rating as someone else
    │   └── NotTheDecider        NOT_THE_DECIDER             a nomination decided by someone outside the ratee's line
    ├── NominationDecided        NOMINATION_ALREADY_DECIDED  a peer nomination was approved or declined already
    ├── RatingsSubmitted         RATINGS_SUBMITTED           a rater to unassign has submitted ratings (discard them)
    ├── RaterRequired            RATER_REQUIRED              a SELF, or the only MANAGER, assignment to remove
    ├── IncompleteInputs         INCOMPLETE_INPUTS           scoring would leave results without any rating
    └── WrongCycleState          WRONG_CYCLE_STATE           the cycle's state does not allow it

Errors of the scoring arithmetic (``hub.appraisal.errors``) pass through unchanged: both roots derive
from ``hub.domain.CodedError``, so they carry ``code``, ``kind``, ``message`` and ``field`` the same way.
``EXPECTED`` names both trees: an operation that raises one of them wrote nothing, and the API answers
it as a typed payload error (``schema/errors.py`` derives the ``ErrorCode`` enum and the error types
from the two trees).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hub.appraisal.errors import AppraisalError
from hub.domain import CodedError, CycleState, ErrorKind, Grade, RaterRole


class OperationError(CodedError):
    """Base of every error an operation raises on purpose, before it writes anything."""

    code = "OPERATION_FAILED"


ExpectedError = OperationError | AppraisalError
"""An error an operation raises on purpose, before it writes anything."""

EXPECTED: tuple[type[Exception], ...] = (OperationError, AppraisalError)
"""The roots of the two error trees, for ``except`` and ``isinstance``."""


@dataclass(frozen=True, slots=True)
class Refused:
    """An expected error as a mutation's answer: a value, not a raise (graphql-core treats an exception a
    resolver returns as a failure of the field). It reads like the error it carries."""

    error: ExpectedError

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def kind(self) -> ErrorKind:
        return self.error.kind

    @property
    def message(self) -> str:
        return self.error.message

    @property
    def field(self) -> str | None:
        return self.error.field

    @property
    def problems(self) -> list[RowProblem]:
        """The bad rows of a rejected import; none for any other error."""
        return getattr(self.error, "problems", [])


class NotFound(OperationError):
    code = "NOT_FOUND"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, entity: str, id_: object, *, field: str | None = None, message: str | None = None) -> None:
        """``message`` stands in for "no <entity> with id <id>" where a row is known by more than an id."""
        super().__init__(message or f"no {entity} with id {id_!r}", field=field)
        self.entity = entity


class InvalidInput(OperationError):
    code = "INVALID_INPUT"


class OverlappingDates(InvalidInput):
    code = "OVERLAPPING_EFFECTIVE_DATES"


class DuplicateCode(InvalidInput):
    code = "DUPLICATE_CODE"


class DuplicateName(InvalidInput):
    code = "DUPLICATE_NAME"

    def __init__(self, other_id: int, other_name: str) -> None:
        super().__init__(f"cycle {other_id} is already called {other_name!r}", field="name")


class WrongRaterRelation(InvalidInput):
    """A MANAGER rater who is not the ratee's manager, or a SUBORDINATE rater who does not report to the ratee."""

    code = "WRONG_RATER_RELATIONSHIP"

    def __init__(self, role: RaterRole, rater_no: str, ratee_no: str) -> None:
        relation = "is not the manager of" if role is RaterRole.MANAGER else "does not report to"
        message = f"employee {rater_no} {relation} employee {ratee_no}, so cannot rate them as {role.value}"
        super().__init__(message, field="role")


class RoleNotWeighed(InvalidInput):
    """A rater in a role that the ratee's scheme for the cycle gives no weight: their ratings would count for
    nothing, so the assignment (or peer nomination) is refused rather than silently ignored by scoring."""

    code = "RATER_ROLE_NOT_WEIGHED"

    def __init__(
        self, role: RaterRole, ratee_no: str, weighed: Collection[RaterRole], *, field: str | None = "role"
    ) -> None:
        roles = ", ".join(r.value for r in RaterRole if r in weighed) or "no rater role"
        super().__init__(
            f"the scheme of employee {ratee_no} in this cycle gives {role.value} raters no weight "
            f"(it weighs {roles}), so their ratings would not count",
            field=field,
        )


class NotAParticipant(InvalidInput):
    """A rater assigned (or nominated) for a ratee who takes no part in the cycle: their post has no scheme in
    it, or they left it or the organisation. Nothing they were rated on would be scored."""

    code = "NOT_A_PARTICIPANT"

    def __init__(self, ratee_no: str, *, field: str | None = "rateeId") -> None:
        super().__init__(
            f"employee {ratee_no} takes no part in this cycle (their post on the period's last day has no scheme "
            "in it, or they left it or the organisation): nobody can rate them in it",
            field=field,
        )


class GradeDisagrees(InvalidInput):
    """A calibrated grade that the grade bands do not give the calibrated total, without an explicit override."""

    code = "GRADE_DISAGREES_WITH_BANDS"

    def __init__(self, total: float, banded: Grade, given: Grade) -> None:
        # A 95 graded D reads as a slip, not a decision: overriding the bands must be said, and explained.
        super().__init__(
            f"the grade bands give a total of {total:g} the grade {banded.value}, not {given.value}; "
            "set gradeOverride and explain it in the reason to override them",
            field="grade",
        )


class CircularReference(InvalidInput):
    """A move that would close a loop: a department under its own sub-department, a manager reporting
    (at any depth) to the employee they would manage."""

    code = "CIRCULAR_REFERENCE"


class IndicatorRetired(InvalidInput):
    """A new indicator version, or a new scheme version using the indicator, from its retirement on."""

    code = "INDICATOR_RETIRED"


class PostWithoutScheme(InvalidInput):
    """Posts joining a cycle that have no scheme version in force on the period's first day (nothing to pin)."""

    code = "POST_WITHOUT_SCHEME"

    def __init__(self, post_codes: list[str], day: object) -> None:
        named = ", ".join(post_codes)
        super().__init__(
            f"post(s) {named} have no scheme version in force on {day} (the period's first day): publish one first",
            field="postIds",
        )
        self.post_codes = post_codes


class BadWebhookUrl(InvalidInput):
    code = "BAD_WEBHOOK_URL"


class UnknownEventType(InvalidInput):
    code = "UNKNOWN_EVENT_TYPE"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad row of a batch: where it is and what is wrong. ``line`` is its line in an imported file
    (header = line 1), or its index in a list given to a bulk mutation (first = 0); ``code`` is the code a
    call with that row alone would have been refused with, where there is one."""

    line: int
    message: str
    code: str | None = None


class ImportRejected(InvalidInput):
    """A batch with bad rows: every problem is listed, and nothing of the batch was stored."""

    code = "IMPORT_REJECTED"
    kind = ErrorKind.IMPORT_REJECTED
    row = "line {}"
    batch_field = "csv"
    stored = "nothing was imported"

    def __init__(self, problems: list[RowProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{self.row.format(first.line)}: {first.message}{more}; {self.stored}", field=self.batch_field)
        self.problems = problems


class AssignmentsRejected(ImportRejected):
    """Bulk rater assignments with bad items, each listed by its index in the list; none was assigned."""

    code = "ASSIGNMENTS_REJECTED"
    row = "assignments[{}]"
    batch_field = "assignments"
    stored = "nothing was assigned"


class NotAllowed(OperationError):
    """The caller has no relationship that allows this (a category: it has no code of its own)."""

    kind = ErrorKind.NOT_ALLOWED


class NotARater(NotAllowed):
    code = "NOT_A_RATER"


class NotYourRating(NotAllowed):
    code = "NOT_YOUR_RATING"

    def __init__(self) -> None:
        super().__init__("you may submit only your own ratings", field="raterId")


class NotTheDecider(NotAllowed):
    """A peer nomination decided by someone who is not the ratee's manager (their reporting line) or hr_admin."""

    code = "NOT_THE_DECIDER"


class NominationDecided(OperationError):
    code = "NOMINATION_ALREADY_DECIDED"
    kind = ErrorKind.STATE


class RatingsSubmitted(OperationError):
    """An assignment to remove whose rater has already rated the ratee: removing it must say so."""

    code = "RATINGS_SUBMITTED"
    kind = ErrorKind.STATE

    def __init__(self, rater_no: str, ratee_no: str, count: int) -> None:
        super().__init__(
            f"employee {rater_no} has submitted {count} rating(s) of employee {ratee_no}: give discardRatings: "
            "true and a reason to delete them with the assignment",
            field="discardRatings",
        )


class RaterRequired(OperationError):
    """An assignment the cycle needs: the ratee's SELF rating, or their only MANAGER rater."""

    code = "RATER_REQUIRED"
    kind = ErrorKind.STATE


class IncompleteInputs(OperationError):
    """Scoring would leave a result without its whole people-rated part (no rating at all)."""

    code = "INCOMPLETE_INPUTS"
    kind = ErrorKind.STATE


class WrongCycleState(OperationError):
    code = "WRONG_CYCLE_STATE"
    kind = ErrorKind.STATE

    def __init__(self, state: CycleState, needed: str) -> None:
        super().__init__(f"the cycle is {state.value}; {needed}", field="cycleId")
        self.state = state
