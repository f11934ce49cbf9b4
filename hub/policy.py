"""The access policy: every rule of who may read or do what, by name, in one place.

Each rule here is a decision over a principal and plain facts (a row's owner, a group's size, a setting),
asked through one idiom, ``Principal.has``. The rest of the code enforces these decisions and decides
nothing about access itself: ``resolvers.scope`` turns the row scope into SQL, ``schema.permissions``
turns the field rules into strawberry permissions (and prints their sentences into ``schema.graphql``),
``resolvers.anonymity``, ``resolvers.disclosure``, ``resolvers.small_groups`` and ``resolvers.ids`` apply
the exceptions below to ratings, statistics tables, grouping fields and pseudonymous lists. A new rule,
or a new role, starts here; ``tests/hub/test_policy.py`` pins the list.

The rules, in the order below: row scope (which employees and results a principal reaches), field rules
(what it may read of them, and which mutations it may run), and the named exceptions (ratings after
publication, an employee's own rating, peer nominations, anonymous raters, the minimum group size,
pseudonymous analysts, introspection).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

from hub.auth import Grant, Principal, Role
from hub.config import Introspection, Settings
from hub.domain import RaterRole

# --- Row scope ---------------------------------------------------------------------------------------


class EmployeeScope(enum.Enum):
    """Which employee rows a principal reaches (what it may read of them is the field rules' business)."""

    EVERY_EMPLOYEE = "every employee"
    SELF_AND_REPORTING_LINE = "themselves and everyone below them in the manager chain, at any depth"
    SELF = "themselves"
    NOBODY = "nobody"


def employee_scope(principal: Principal) -> EmployeeScope:
    """Row scope: hr_admin, analyst, payroll and training reach every employee; a manager themselves and their
    reporting line (never their own manager or peers); an employee themselves; a principal without an
    employee number and none of the first roles, or with the scim role alone, nobody."""
    if principal.has(Role.HR_ADMIN, Role.ANALYST, Role.PAYROLL, Role.TRAINING):
        return EmployeeScope.EVERY_EMPLOYEE
    if principal.employee_number is None or provisions_only(principal):
        return EmployeeScope.NOBODY
    return EmployeeScope.SELF_AND_REPORTING_LINE if manages_reporting_line(principal) else EmployeeScope.SELF


def manages_reporting_line(principal: Principal) -> bool:
    """Row scope: a manager (with an employee number) manages everyone below them in the manager chain, and
    only them: not their department, which also holds their own boss and peers."""
    return principal.has(Role.MANAGER) and principal.employee_number is not None


def sees_unpublished_results(principal: Principal) -> bool:
    """Row scope of results: hr_admin and analyst see every result of a cycle before it is published; a
    manager only their people's (their own reaches them on publication); everyone else published ones only."""
    return principal.has(Role.HR_ADMIN, Role.ANALYST)


def sees_every_name(principal: Principal) -> bool:
    """hr_admin, payroll and training see the name of every employee they reach; an analyst only with the
    names grant."""
    return principal.has(Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING) or (
        principal.has(Role.ANALYST) and principal.has(Grant.NAMES)
    )


MEMBERSHIP_STEPS = (
    "hr_admin sees every step with its note; every other role sees the state changes without notes, and no "
    "join, leave or leaver step (they name people, their last day and HR's reasons)."
)
"""What ``Cycle.transitions`` shows below hr_admin, as the schema states it (``sees_cycle_membership``)."""


def sees_cycle_membership(principal: Principal) -> bool:
    """hr_admin only reads who joined or left a cycle, and the notes of its steps: they name people, their last
    day and HR's reasons for taking someone out (``MEMBERSHIP_STEPS``)."""
    return principal.has(Role.HR_ADMIN)


def is_pseudonymous(principal: Principal) -> bool:
    """An analyst without the names grant: answers free of anything that maps to a person (keyed ids,
    cursors and checksums, no manager links, no grouping fields or filters of small groups, no result
    events). A person's groupings are shown (and matched by a filter) only when every (department, post)
    cell of theirs is large: their current one and that of each of their results the analyst sees, so that
    after a transfer no row shows one cell beside another row of theirs withholding the other."""
    return principal.has(Role.ANALYST) and not sees_every_name(principal)


def may_search_names(principal: Principal) -> bool:
    """Searching by name, or looking an employee up by number, reveals names: only for those who see the name
    of every row they reach (or reach only rows whose names they see: themselves and their reporting line)."""
    return sees_every_name(principal) or employee_scope(principal) is not EmployeeScope.EVERY_EMPLOYEE


EMPLOYEE_SCOPE = (
    "Rows: hr_admin, analyst, payroll and training see every employee; a manager their reporting line "
    "(everyone below them in the manager chain, at any depth) and themselves, never their own manager or "
    "peers; an employee themselves."
)
"""The row scope of employees as ``schema.graphql`` states it."""
RESULT_SCOPE = (
    "Rows: results of employees in the caller's scope; employee, payroll and training see published cycles only; "
    "a manager sees unpublished results of their people, their own once published."
)
"""The row scope of results as ``schema.graphql`` states it."""


# --- Field rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """What a field rule reads of the row its field belongs to."""

    employee_number: str | None
    """The employee the row is about (``employee_no``), if it is about one."""
    managed: bool
    """Whether the principal manages that employee (the ``managed`` column of scoped employee rows)."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Who may use a field (or run a mutation).

    ``roles`` may use it on every row they reach. ``own`` roles may use it on their own rows only: an
    employee (or manager) on their own employee row, a manager also on the rows of the people they
    manage. The decision reads the row, so a token with several roles never lends one role's field rights
    to the rows another role reaches.
    """

    roles: frozenset[Role]
    sentence: str
    """The rule as ``schema.graphql`` states it, appended to the field's description."""
    own: frozenset[Role] = frozenset()
    names: bool = False
    """Also admits whoever sees every name (analysts with the names grant)."""
    audit_denials: bool = False
    """A refused read of the field is written to the access audit (compensation, ratings)."""
    own_row: bool = True
    """``own`` roles may use it on their own row (False: only on their people's, e.g. who rates them)."""
    peoples_rows: bool = True
    """A manager among ``own`` may use it on their people's rows (False: only on their own, e.g. their tasks)."""

    def admits(self, principal: Principal, row: Row | None) -> bool:
        """Whether ``principal`` may use the field on ``row`` (None: a root field, no row)."""
        if self.admits_every_row(principal):
            return True
        if row is None or not principal.has(*self.own):
            return False
        if principal.employee_number is not None and row.employee_number == principal.employee_number:
            return self.own_row
        return self.peoples_rows and Role.MANAGER in self.own and principal.has(Role.MANAGER) and row.managed

    def admits_every_row(self, principal: Principal) -> bool:
        """Whether ``principal`` may use the field whatever the row: its roles or grants decide, not the row."""
        return principal.has(*self.roles) or (self.names and sees_every_name(principal))


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


AUTHENTICATED = FieldRule(_roles(*Role), "any authenticated role.")
"""Every principal with a role; what it reaches is its row scope."""
NAMES = FieldRule(
    _roles(Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING),
    "hr_admin, payroll, training; an employee their own, a manager their people's; analyst only with the "
    "'names' grant.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
    names=True,
)
"""Names and employee numbers: whoever sees every name, and a person their own and their people's."""
ORG_CHART = FieldRule(
    NAMES.roles,
    "as for names: an analyst without the 'names' grant may not draw the org chart, whose links identify people.",
    own=NAMES.own,
    names=True,
)
"""Manager and report links: as for names, since the links identify people."""
COMPENSATION = FieldRule(
    _roles(Role.HR_ADMIN, Role.PAYROLL),
    "hr_admin and payroll only; every read, and every refused attempt, is audited.",
    audit_denials=True,
)
"""Compensation records: hr_admin and payroll only, refusals audited."""
TRAINING_RECORDS = FieldRule(
    _roles(Role.HR_ADMIN, Role.TRAINING),
    "hr_admin, training; an employee their own, a manager their people's.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
)
"""Training records: hr_admin and training, and a person their own and their people's."""
TRAINING_NEEDS = FieldRule(
    _roles(Role.HR_ADMIN, Role.TRAINING, Role.MANAGER, Role.EMPLOYEE),
    "hr_admin and training (every published result's, hr_admin any cycle's); a manager their people's and "
    "their own, an employee their own (the row scope of results); never an analyst: a need is joined with "
    "training records, which analysts do not read.",
)
"""Training needs (``trainingNeeds``): whoever reads both the results and the training records of the row."""
RATINGS = FieldRule(
    _roles(Role.HR_ADMIN),
    "hr_admin; a manager their people's; an employee their own once the cycle is published. Peer and "
    "subordinate raters stay anonymous, and only hr_admin sees their ratings when fewer than "
    "PERFHUB_MIN_ANONYMOUS_RATERS rated or the cycle is OPEN; reading another person's ratings is audited, "
    "and so is every refused attempt.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
    audit_denials=True,
)
"""Ratings received: hr_admin, a manager their people's, a ratee their own (see the exceptions below)."""
STATISTICS = FieldRule(
    _roles(Role.HR_ADMIN, Role.ANALYST, Role.MANAGER),
    "hr_admin, analyst, manager (own scope). Except for hr_admin, a group's figures are withheld (the group "
    "listed with its size and the reason in `withheld`) when it has fewer people than the minimum group size "
    "(PERFHUB_MIN_GROUP_SIZE, default 5), when the score "
    "filters removed fewer than that from it (but some), or when what remains of a parent group (the group "
    "without one or more of its dimensions, down to the whole cycle) once the released groups are taken away "
    "would be such a small group; "
    "filter.departmentId is refused (group by DEPARTMENT instead).",
)
"""Score statistics: hr_admin, analyst and manager, groups below the minimum size withheld but for hr_admin."""
GROUPED_FIGURES = FieldRule(
    STATISTICS.roles,
    "hr_admin, analyst, manager (own scope). Except for hr_admin, a group's figures are withheld (the group "
    "listed with the reason in `withheld`) when it has fewer people than the minimum group size "
    "(PERFHUB_MIN_GROUP_SIZE, default 5), or when what remains of a parent group (the group without one or more "
    "of its dimensions, down to the whole cycle) once the released groups are taken away would be such a small "
    "group.",
)
"""Statistics without score filters (groupTrainingNeeds, the trends): STATISTICS' rule, less its filters' words."""
INDICATOR_STATISTICS = FieldRule(
    _roles(Role.HR_ADMIN, Role.ANALYST, Role.MANAGER),
    "hr_admin, analyst, manager (own scope). Except for hr_admin, a value's figures are null, the group keeping "
    "its key and saying why, when fewer results than the minimum group size (PERFHUB_MIN_GROUP_SIZE, default 5) "
    "have the value, or when a coarser group less the released groups would leave such a small group.",
)
"""Indicator statistics: as score statistics, each value's figures withheld below the minimum size but for hr_admin."""
DIAGNOSTICS = FieldRule(_roles(Role.HR_ADMIN, Role.ANALYST), "hr_admin and analyst.")
"""Scheme diagnostics: hr_admin and analyst (posts below the minimum group size refused but for hr_admin)."""
INSIGHTS = FieldRule(
    _roles(Role.HR_ADMIN, Role.ANALYST, Role.MANAGER),
    "hr_admin, analyst, manager (own scope). Except for hr_admin, a figure about fewer people than the minimum "
    "group size (PERFHUB_MIN_GROUP_SIZE, default 5) is null with the reason, and so is a figure from which one "
    "would follow by subtraction.",
)
"""The high-performer profile: as the statistics, groups below the minimum size withheld but for hr_admin."""
ATTRITION_SIGNALS = FieldRule(
    _roles(Role.HR_ADMIN, Role.MANAGER),
    "hr_admin (every employee) or a manager (their reporting line, never themselves); never an analyst, with "
    "the 'names' grant or without, nor an employee.",
)
"""Attrition signals name people for a conversation: hr_admin and the manager line (``attrition_reach``)."""
AUDIT = FieldRule(_roles(Role.HR_ADMIN), "hr_admin only.")
"""The access audit: hr_admin only."""
HR_ONLY = FieldRule(_roles(Role.HR_ADMIN), "hr_admin only; audited.")
"""Mutations that change schemes, cycles, metrics and results: hr_admin only, every call audited."""
RATERS = FieldRule(
    _roles(Role.HR_ADMIN, Role.MANAGER, Role.EMPLOYEE),
    "hr_admin, or the assigned rater themselves (employee, manager); audited.",
)
"""Submitting a rating: hr_admin, employees and managers (their own rating only: ``rates_for_anyone``)."""
RATING_TASKS = FieldRule(
    _roles(Role.HR_ADMIN),
    "hr_admin; the rater their own tasks (employee, manager), never anyone else's: a task lists what its rater "
    "submitted, anonymous ratings included.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
    peoples_rows=False,
)
"""Rating tasks: hr_admin, and each rater their own (a manager's people's tasks would show their anonymous ratings)."""
EXPECTED_RATERS = FieldRule(
    _roles(Role.HR_ADMIN),
    "hr_admin; a manager their people's (not their own). Only hr_admin is told who an anonymous rater (peer, "
    "subordinate) is; a manager gets the role's counts, and its submitted count only once the cycle takes no "
    "more ratings.",
    own=_roles(Role.MANAGER),
    own_row=False,
)
"""Who rates a ratee: hr_admin, and a manager for their people (anonymous raters counted, never named)."""
RATING_PROGRESS = FieldRule(
    _roles(Role.HR_ADMIN, Role.MANAGER),
    "hr_admin (every ratee); a manager over their people only. A manager gets an anonymous role's submitted "
    "count (peer, subordinate) only once the cycle takes no more ratings.",
)
"""Rating progress of a cycle: hr_admin, and a manager over their reporting line."""
PEER_NOMINATIONS = FieldRule(
    _roles(Role.HR_ADMIN),
    "hr_admin; the ratee their own, their managers their people's; never the nominee, who learns of a "
    "nomination only as a rating task once it is approved.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
)
"""Peer nominations of a ratee: hr_admin, the ratee and their managers (a nominee is never one of those)."""
NOMINATES_PEERS = FieldRule(
    _roles(Role.EMPLOYEE, Role.MANAGER), "the ratee themselves (employee, manager), for their own raters; audited."
)
"""Proposing peer raters: a person for themselves only (the ratee is always the caller's own employee row)."""
DECIDES_NOMINATIONS = FieldRule(
    _roles(Role.HR_ADMIN, Role.MANAGER),
    "hr_admin, or a manager for the people of their reporting line, never for their own nomination; audited.",
)
"""Deciding a peer nomination: hr_admin, and a manager within their line (``decides_any_nomination``)."""


# --- The named exceptions ----------------------------------------------------------------------------


def reads_ratings_before_publication(principal: Principal, *, ratee_managed: bool) -> bool:
    """Ratings after publication: hr_admin and the ratee's managers read a ratee's ratings at any time; the
    ratee reads theirs once the cycle is published."""
    return principal.has(Role.HR_ADMIN) or (principal.has(Role.MANAGER) and ratee_managed)


def rates_for_anyone(principal: Principal) -> bool:
    """Own rating: hr_admin submits a rating in any assigned rater's name; everyone else only their own."""
    return principal.has(Role.HR_ADMIN)


def decides_any_nomination(principal: Principal) -> bool:
    """Peer nominations: hr_admin decides any ratee's nominations; a manager only those of their reporting
    line; nobody their own."""
    return principal.has(Role.HR_ADMIN)


ANONYMOUS_RATER_ROLES = frozenset({RaterRole.PEER, RaterRole.SUBORDINATE})
"""Anonymous raters: peers and subordinates, shown to nobody as raters (no rater, no submission time)."""


def names_anonymous_raters(principal: Principal) -> bool:
    """Anonymous raters: only hr_admin is told who rates a ratee as a peer or subordinate (to chase them)."""
    return principal.has(Role.HR_ADMIN)


def counts_anonymous_submissions(principal: Principal, *, cycle_open: bool) -> bool:
    """Anonymous raters: how many of a role's raters have submitted grows as ratings arrive, which times each
    of them; hr_admin sees it at any time, everyone else once the cycle takes no more ratings."""
    return principal.has(Role.HR_ADMIN) or not cycle_open


def follows_every_ratee(principal: Principal) -> bool:
    """Rating progress: hr_admin follows every ratee of a cycle; a manager (whatever other roles their token
    holds) only their people."""
    return principal.has(Role.HR_ADMIN)


def sees_every_rating(principal: Principal) -> bool:
    """Anonymous raters: hr_admin sees every rating it may read; for everyone else an anonymous role's
    ratings are withheld while too few rated or the cycle takes ratings (``anonymous_role_released``)."""
    return principal.has(Role.HR_ADMIN)


def anonymous_role_released(distinct_raters: int, settings: Settings, *, cycle_open: bool) -> bool:
    """Anonymous raters: an anonymous role's ratings reach the ratee and their managers once the cycle takes
    no more ratings, and only when at least PERFHUB_MIN_ANONYMOUS_RATERS distinct raters of the role rated."""
    return not cycle_open and distinct_raters >= settings.min_anonymous_raters


def sees_small_groups(principal: Principal) -> bool:
    """Minimum group size: hr_admin sees statistics and diagnostics of groups of any size (it sees every
    individual score anyway); everyone else only of groups of at least PERFHUB_MIN_GROUP_SIZE."""
    return principal.has(Role.HR_ADMIN)


def minimum_group_size(principal: Principal, settings: Settings) -> int:
    """Minimum group size: the fewest people a statistic may be about, for this principal."""
    return 1 if sees_small_groups(principal) else settings.min_group_size


def large_enough_group(people: int, settings: Settings) -> bool:
    """Minimum group size: a group (a statistics cell, a (department, post) cell shown to a pseudonymous
    analyst, a pseudonymous filtered list) is about nobody in particular from PERFHUB_MIN_GROUP_SIZE people."""
    return people >= settings.min_group_size


def releasable_cell(members: int, unfiltered: int, minimum: int) -> bool:
    """Minimum group size: a statistics cell is released when it has at least ``minimum`` members and the
    score filters removed none of them or at least ``minimum`` (a narrowing filter leaves no small group on
    either side)."""
    removed = unfiltered - members
    return members >= minimum and (removed == 0 or removed >= minimum)


def reads_from_replica(principal: Principal) -> bool:
    """Read replica: a principal that is an analyst and nothing else (it may change nothing) reads through
    PERFHUB_READ_DATABASE_URL when one is set; every other principal reads and writes the primary."""
    return principal.has(Role.ANALYST) and not principal.has(*(role for role in Role if role is not Role.ANALYST))


def statement_limited(principal: Principal) -> bool:
    """Analyst statement timeout: an analyst's queries (unless it is also hr_admin) run under
    PERFHUB_ANALYST_STATEMENT_TIMEOUT_SECONDS, ad-hoc questions being the ones that can run long; everyone else's
    under the read statement timeout."""
    return principal.has(Role.ANALYST) and not principal.has(Role.HR_ADMIN)


def reads_every_attrition_signal(principal: Principal) -> bool:
    """Attrition signals: hr_admin reads those of every employee; a manager (whatever other roles their token
    holds) only those of their reporting line, never their own. Analysts do not, even with the names grant:
    a signal is about one person, for the people who talk to them, not a figure about a group."""
    return principal.has(Role.HR_ADMIN)


def nobody_may_introspect(settings: Settings) -> bool:
    """Introspection: switched off for every caller (PERFHUB_INTROSPECTION=false); the schema then refuses
    ``__schema`` and ``__type`` when it validates a document."""
    return settings.introspection is Introspection.OFF


def may_introspect(principal: Principal, settings: Settings) -> bool:
    """Introspection: nobody when switched off (PERFHUB_INTROSPECTION=false), callers with a token by default,
    anyone when it is public."""
    match settings.introspection:
        case Introspection.OFF:
            return False
        case Introspection.TOKEN:
            return not principal.is_anonymous
        case Introspection.PUBLIC:
            return True
        case unknown:
            assert_never(unknown)


# --- Provisioning (SCIM 2.0, hub/scim) ---------------------------------------------------------------


def may_provision(principal: Principal) -> bool:
    """Provisioning over ``/scim/v2``: the scim system principal and hr_admin; nobody else."""
    return principal.has(Role.SCIM, Role.HR_ADMIN)


def provisions_only(principal: Principal) -> bool:
    """A scim token is for ``/scim/v2`` alone: ``/graphql`` refuses a principal whose only role is scim."""
    return principal.roles == frozenset({Role.SCIM})
