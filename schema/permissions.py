"""Field rules: who may read a field or run a mutation, enforced by strawberry and stated in the SDL.

Each rule is a strawberry permission (denial is a ``FORBIDDEN`` error on that field alone; the rest of
the response is intact) and a sentence appended to the field's description, so that the rules a
consumer reads in ``schema.graphql`` are the rules the server applies. Which rows a field reaches is
the other half, decided in SQL by ``resolvers.scope``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.permission import BasePermission, PermissionExtension

from hub.auth import Role
from resolvers import audit
from resolvers.scope import MANAGED
from schema import fields
from schema.fields import FieldDecorator
from schema.info import Info


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may use a field.

    ``roles`` may use it on every row they reach. ``own`` roles may use it on their own rows only: an
    employee (or manager) on their own employee row, a manager also on the rows of the people they
    manage. The check reads the row (the ``managed`` column every scoped employee row carries), so a
    token with several roles never lends one role's field rights to the rows another role reaches.
    """

    roles: frozenset[Role]
    sentence: str
    own: frozenset[Role] = frozenset()
    names: bool = False
    """Also admits whoever sees every name (analysts with the names grant)."""
    audit_denials: bool = False
    """A refused read of the field is written to the access audit (compensation, ratings)."""

    def allows(self, source: Any, info: Info) -> bool:
        context = info.context
        principal = context.principal
        if not principal.roles.isdisjoint(self.roles) or (self.names and context.scope.sees_every_name):
            return True
        if source is None or principal.roles.isdisjoint(self.own):
            return False
        if principal.employee_number is not None and getattr(source, "employee_no", None) == principal.employee_number:
            return True
        return Role.MANAGER in self.own and Role.MANAGER in principal.roles and bool(getattr(source, MANAGED, False))

    def describe(self, description: str | None) -> str:
        return f"{description} Access: {self.sentence}" if description else f"Access: {self.sentence}"


class RuleCheck(BasePermission):
    """The strawberry side of a Rule."""

    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, rule: Rule, field_name: str) -> None:
        self.rule = rule
        self.message = f"not allowed: {field_name} requires {rule.sentence.rstrip('.')}"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return self.rule.allows(source, info)


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


AUTHENTICATED = Rule(_roles(*Role), "any authenticated role.")
NAMES = Rule(
    _roles(Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING),
    "hr_admin, payroll, training; an employee their own, a manager their people's; analyst only with the "
    "'names' grant.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
    names=True,
)
ORG_CHART = Rule(
    NAMES.roles,
    "as for names: an analyst without the 'names' grant may not draw the org chart, whose links identify people.",
    own=NAMES.own,
    names=True,
)
COMPENSATION = Rule(
    _roles(Role.HR_ADMIN, Role.PAYROLL),
    "hr_admin and payroll only; every read, and every refused attempt, is audited.",
    audit_denials=True,
)
TRAINING_RECORDS = Rule(
    _roles(Role.HR_ADMIN, Role.TRAINING),
    "hr_admin, training; an employee their own, a manager their people's.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
)
RATINGS = Rule(
    _roles(Role.HR_ADMIN),
    "hr_admin; a manager their people's; an employee their own once the cycle is published. Peer and "
    "subordinate raters stay anonymous, and only hr_admin sees their ratings when fewer than "
    "PERFHUB_MIN_ANONYMOUS_RATERS rated or the cycle is OPEN; reading another person's ratings is audited, "
    "and so is every refused attempt.",
    own=_roles(Role.EMPLOYEE, Role.MANAGER),
    audit_denials=True,
)
STATISTICS = Rule(
    _roles(Role.HR_ADMIN, Role.ANALYST, Role.MANAGER),
    "hr_admin, analyst, manager (own scope). Except for hr_admin, a group is left out (count included) when "
    "it has fewer people than the minimum group size (PERFHUB_MIN_GROUP_SIZE, default 5), when the score "
    "filters removed fewer than that from it (but some), or when what remains of a parent group (the group "
    "without one of its dimensions) once the released groups are taken away would be such a small group; "
    "filter.departmentId is refused (group by DEPARTMENT instead).",
)
DIAGNOSTICS = Rule(_roles(Role.HR_ADMIN, Role.ANALYST), "hr_admin and analyst.")
AUDIT = Rule(_roles(Role.HR_ADMIN), "hr_admin only.")
HR_ONLY = Rule(_roles(Role.HR_ADMIN), "hr_admin only; audited.")
RATERS = Rule(
    _roles(Role.HR_ADMIN, Role.MANAGER, Role.EMPLOYEE),
    "hr_admin, or the assigned rater themselves (employee, manager); audited.",
)


EMPLOYEE_SCOPE = (
    "Rows: hr_admin, analyst, payroll and training see every employee; a manager their reporting line "
    "(everyone below them in the manager chain, at any depth) and themselves, never their own manager or "
    "peers; an employee themselves."
)
RESULT_SCOPE = (
    "Rows: results of employees in the caller's scope; employee, payroll and training see published cycles only; "
    "a manager sees unpublished results of their people, their own once published."
)


class Audited(FieldExtension):
    """Audits every call of a mutation, allowed or not.

    The entry of a change is written by the operation, in the change's own transaction (it receives
    the recorder through ``resolvers.audit.pending``); a denial, an expected failure or an unexpected
    error changed nothing and gets its entry here, in a transaction of its own.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation

    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        context = info.context
        asked = audit.touched_ids(kwargs, None)
        with audit.mutation_audit(context, self.operation, asked) as recorder:
            try:
                result = await next_(source, info, **kwargs)
            except GraphQLError as error:
                outcome = audit.DENIED if (error.extensions or {}).get("code") == "FORBIDDEN" else audit.ERROR
                await audit.settle(context, recorder, outcome, asked)
                raise
            except Exception:
                # An unexpected failure is masked for the caller but never missing from the audit.
                await audit.settle(context, recorder, audit.ERROR, asked)
                raise
        await audit.settle(context, recorder, audit.outcome_of(result), audit.touched_ids(kwargs, result))
        return result


class AuditedDenial(FieldExtension):
    """Writes a refused read of an audited field (compensation, ratings) to the access audit before the
    refusal is answered: who asked for whose data is what an insider probing the rules leaves behind.

    Refusals of one request join one entry per field (``Loaders.denied_read_audit``), not one per row.
    """

    async def resolve_async(self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except GraphQLError as error:
            if (error.extensions or {}).get("code") == "FORBIDDEN":
                touched = f"employee:{getattr(source, 'id', '-')}"
                cycle = kwargs.get("cycle_id")
                if cycle is not None:
                    touched += f"@cycle:{audit.bounded(str(cycle))}"
                field = f"{info.path.typename}.{info.field_name}"
                await info.context.loaders.denied_read_audit.load(f"{field}|{touched}")
            raise


def enforce(rule: Rule, name: str) -> list[FieldExtension]:
    """The field extensions that enforce ``rule`` on the field called ``name`` (the last is the outermost)."""
    permission: list[FieldExtension] = [PermissionExtension([RuleCheck(rule, name)], use_directives=False)]
    return [*permission, AuditedDenial()] if rule.audit_denials else permission


def guarded(
    rule: Rule, name: str, description: str | None = None, *, graphql_type: object | None = None
) -> FieldDecorator:
    """A resolver's ``strawberry.field`` with the rule enforced and stated; ``name`` is the GraphQL field name."""
    return fields.field(
        description=rule.describe(description), extensions=enforce(rule, name), graphql_type=graphql_type
    )


def guarded_attribute(rule: Rule, name: str, description: str | None = None) -> Any:
    """``guarded`` for a field without a resolver, read from the record by name. Typed as strawberry types
    ``strawberry.field`` here: the attribute's annotation is the field's type, so the value is whatever it says."""
    return strawberry.field(description=rule.describe(description), extensions=enforce(rule, name))


def guarded_mutation(rule: Rule, name: str, description: str | None = None, **options: Any) -> Any:
    """``strawberry.mutation`` with the rule enforced and stated, and every call audited (denials too)."""
    return strawberry.mutation(
        description=rule.describe(description),
        # The last extension is the outermost: the audit sees the permission's denial.
        extensions=[*enforce(rule, name), Audited(name)],
        **options,
    )
