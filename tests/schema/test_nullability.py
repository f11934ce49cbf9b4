"""Denied means null, and only that field: the schema's side of the promise.

A FORBIDDEN (or a business system's failure) on a non-null field nulls its parent, and so on up to
the nearest nullable field; on `Employee.name` that was the whole page. So every field that a rule
may deny to an authenticated caller, and every field fed by a business system, must be nullable.
Fields whose rule is "any authenticated role" cannot be denied during execution: anonymous callers
are refused with 401 before it starts.
"""

from __future__ import annotations

from graphql import GraphQLField, GraphQLObjectType, is_non_null_type
from strawberry.permission import PermissionExtension

from schema import build_schema
from schema.limits import SYSTEM_FIELDS
from schema.permissions import AUTHENTICATED, RuleCheck


def fields() -> list[tuple[str, str, GraphQLField]]:
    graphql_schema = build_schema()._schema
    return [
        (type_name, field_name, field)
        for type_name, named in graphql_schema.type_map.items()
        if isinstance(named, GraphQLObjectType) and not type_name.startswith("__")
        for field_name, field in named.fields.items()
    ]


def deniable(field: GraphQLField) -> bool:
    """True when the field's permission rule refuses some authenticated principal."""
    definition = (field.extensions or {}).get("strawberry-definition")
    extensions = getattr(definition, "extensions", None) or []
    checks = [
        permission
        for extension in extensions
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
        if isinstance(permission, RuleCheck)
    ]
    return any(check.rule != AUTHENTICATED for check in checks)


def test_every_field_a_rule_may_deny_is_nullable() -> None:
    guarded = [(t, f) for t, f, field in fields() if deniable(field)]
    non_null = [(t, f) for t, f, field in fields() if deniable(field) and is_non_null_type(field.type)]
    # The walk finds the rules it is meant to: names, ratings, linked records, HR-only queries, mutations.
    assert {("Employee", "name"), ("Employee", "ratingsReceived"), ("Query", "auditLog")} <= set(guarded)
    assert ("Mutation", "cyclePublish") in guarded
    assert non_null == []


def test_every_field_fed_by_a_business_system_is_nullable() -> None:
    fed = [(t, f, field) for t, f, field in fields() if f in SYSTEM_FIELDS]
    assert {f for _t, f, _field in fed} == SYSTEM_FIELDS
    assert [(t, f) for t, f, field in fed if is_non_null_type(field.type)] == []
