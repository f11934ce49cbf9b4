"""The access audit as HR reads it (``Query.auditLog``); ``schema.permissions.Audited`` writes it."""

from __future__ import annotations

import datetime as dt

import strawberry

from schema.pagination import PageInfo


@strawberry.type(description="One audited access: a mutation, or a read of compensation or of others' ratings.")
class AuditEntry:
    id: strawberry.ID
    at: dt.datetime
    subject: str = strawberry.field(description="The token's subject: who acted.")
    roles: str = strawberry.field(description="The roles the subject held, comma-separated.")
    operation: str = strawberry.field(
        description="A mutation's name, or the field read, e.g. Employee.compensationRecords."
    )
    ids: list[str] = strawberry.field(description="What was touched, as kind:id.")
    outcome: str = strawberry.field(description="ok, denied, or the failure's code.")
    request_id: str = strawberry.field(
        description="The hub's own id of the request, as its X-Request-Id answer, logs and error messages name it."
    )
    client_request_id: str | None = strawberry.field(
        description="The X-Request-Id the caller sent, if any (at most 64 characters): the caller's own label, "
        "which may name anything; null without one."
    )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo
    total_count: int
