"""Field rules: who may read a field or run a mutation, enforced by strawberry and stated in the SDL.

The rules themselves are the access policy's (``hub.policy``); this module is their strawberry side. Each
rule is a strawberry permission (denial is a ``FORBIDDEN`` error on that field alone; the rest of
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

from hub import policy
from hub.policy import FieldRule, Row
from resolvers import audit
from resolvers.scope import MANAGED
from schema import fields
from schema.fields import FieldDecorator
from schema.info import Info


@dataclass(frozen=True, slots=True)
class Rule:
    """A field rule of the access policy (``hub.policy.FieldRule``) as a field applies it: to the row the
    field belongs to, for the request's principal."""

    field_rule: FieldRule

    def allows(self, source: object, info: Info) -> bool:
        return self.field_rule.admits(info.context.principal, None if source is None else _row(source))

    def describe(self, description: str | None) -> str:
        sentence = self.field_rule.sentence
        return f"{description} Access: {sentence}" if description else f"Access: {sentence}"


def _row(source: object) -> Row:
    # Scoped employee rows carry their employee number and the ``managed`` column (resolvers.scope).
    return Row(employee_number=getattr(source, "employee_no", None), managed=bool(getattr(source, MANAGED, False)))


class RuleCheck(BasePermission):
    """The strawberry side of a Rule."""

    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, rule: Rule, field_name: str) -> None:
        self.rule = rule
        self.message = f"not allowed: {field_name} requires {rule.field_rule.sentence.rstrip('.')}"

    def has_permission(self, source: object, info: Info, **kwargs: object) -> bool:
        return self.rule.allows(source, info)


# The policy's field rules under the names the schema's fields are declared with.
AUTHENTICATED = Rule(policy.AUTHENTICATED)
NAMES = Rule(policy.NAMES)
ORG_CHART = Rule(policy.ORG_CHART)
COMPENSATION = Rule(policy.COMPENSATION)
TRAINING_RECORDS = Rule(policy.TRAINING_RECORDS)
TRAINING_NEEDS = Rule(policy.TRAINING_NEEDS)
RATINGS = Rule(policy.RATINGS)
STATISTICS = Rule(policy.STATISTICS)
GROUPED_FIGURES = Rule(policy.GROUPED_FIGURES)
INDICATOR_STATISTICS = Rule(policy.INDICATOR_STATISTICS)
DIAGNOSTICS = Rule(policy.DIAGNOSTICS)
INSIGHTS = Rule(policy.INSIGHTS)
ATTRITION_SIGNALS = Rule(policy.ATTRITION_SIGNALS)
AUDIT = Rule(policy.AUDIT)
HR_ONLY = Rule(policy.HR_ONLY)
RATERS = Rule(policy.RATERS)
RATING_TASKS = Rule(policy.RATING_TASKS)
EXPECTED_RATERS = Rule(policy.EXPECTED_RATERS)
RATING_PROGRESS = Rule(policy.RATING_PROGRESS)
PEER_NOMINATIONS = Rule(policy.PEER_NOMINATIONS)
NOMINATES_PEERS = Rule(policy.NOMINATES_PEERS)
DECIDES_NOMINATIONS = Rule(policy.DECIDES_NOMINATIONS)
EMPLOYEE_SCOPE = policy.EMPLOYEE_SCOPE
RESULT_SCOPE = policy.RESULT_SCOPE


class Audited(FieldExtension):
    """Audits every call of a mutation, allowed or not.

    The entry of a change is written by the operation, in the change's own transaction (it receives
    the recorder through ``resolvers.audit.pending``); a denial, an expected failure or an unexpected
    error changed nothing and gets its entry here, in a transaction of its own.
    """

    def __init__(self, operation: str) -> None:
        self.operation = operation

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: object, info: Info, **kwargs: object
    ) -> object:
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

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: object, info: Info, **kwargs: object
    ) -> object:
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
    return [*permission, AuditedDenial()] if rule.field_rule.audit_denials else permission


def guarded(
    rule: Rule, name: str, description: str | None = None, *, graphql_type: object | None = None
) -> FieldDecorator:
    """A resolver's ``strawberry.field`` with the rule enforced and stated; ``name`` is the GraphQL field name."""
    return fields.field(
        description=rule.describe(description), extensions=enforce(rule, name), graphql_type=graphql_type
    )


# Returns what strawberry.field returns without a resolver: the attribute's annotation is the field's type,
# so the value must be whatever the annotation says.
def guarded_attribute(rule: Rule, name: str, description: str | None = None) -> Any:
    """``guarded`` for a field without a resolver, read from the record by name."""
    return strawberry.field(description=rule.describe(description), extensions=enforce(rule, name))


def guarded_mutation(rule: Rule, name: str, description: str | None = None) -> FieldDecorator:
    """``strawberry.mutation`` with the rule enforced and stated, and every call audited (denials too)."""
    return fields.mutation(
        description=rule.describe(description),
        # The last extension is the outermost: the audit sees the permission's denial.
        extensions=[*enforce(rule, name), Audited(name)],
    )
