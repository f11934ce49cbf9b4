"""The access audit as resolvers write it: mutations, reads of compensation and of others' ratings.

A mutation's entry travels to its operation as an :class:`AuditRecorder`, which the operation writes in
the transaction of its change. ``schema.permissions.Audited`` makes the recorder (:func:`mutation_audit`)
and, when the operation committed none, writes the entry of the denial or failure (:func:`settle`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from hub.db.models import AuditEntry
from hub.operations import audit as audit_log
from hub.operations.audit import AuditRecorder
from hub.operations.errors import Refused
from resolvers.context import Context
from resolvers.loaders.base import select_rows
from resolvers.pagination import Connection, check_page_size, decode_cursor, make_connection, read_page

OK = audit_log.OK
DENIED = audit_log.DENIED
ERROR = audit_log.ERROR
bounded = audit_log.bounded

# The recorder of the mutation field being resolved. A context variable, not a Context attribute: a
# WebSocket's operations share one Context and may run side by side, each in its own task, while
# the fields of one mutation run one after another in one task.
_pending: ContextVar[AuditRecorder | None] = ContextVar("perfhub_mutation_audit", default=None)


@contextlib.contextmanager
def mutation_audit(context: Context, operation: str, ids: list[str]) -> Iterator[AuditRecorder]:
    """The recorder of one mutation call, handed to its operation (:func:`pending`) while it runs."""
    recorder = AuditRecorder.for_principal(
        context.principal,
        operation=operation,
        request_id=context.request_id,
        client_request_id=context.client_request_id,
        ids=ids,
    )
    token = _pending.set(recorder)
    try:
        yield recorder
    finally:
        _pending.reset(token)


def pending() -> AuditRecorder | None:
    """The recorder an operation of the current mutation writes its entry with; None outside one."""
    return _pending.get()


async def settle(context: Context, recorder: AuditRecorder, outcome: str, ids: list[str]) -> None:
    """Writes the entry of a call whose operation committed none: denied, failed or errored (or an
    operation that writes nothing). A committed change already has its entry; it gets no second."""
    if not recorder.committed:
        await recorder.record_alone(context.writer, outcome, ids)


def outcome_of(result: object) -> str:
    """``ok`` for a success record, the error's code for an expected failure (a mutation answers it)."""
    return result.code if isinstance(result, Refused) else OK


def _ids_in(name: str, value: object) -> Iterator[str]:
    """``kind:id`` for every ``*_id`` argument or input field, recursing into input objects and lists of them;
    an id as the caller sent it, so bounded (``audit_log.bounded``): what does not parse is kept in part, with
    its length."""
    if value is None:
        return
    if name.endswith("_id") and isinstance(value, str | int):
        yield f"{name[:-3]}:{audit_log.bounded(str(value))}"
    elif name.endswith("_ids") and isinstance(value, list | tuple):
        yield from (f"{name[:-4]}:{audit_log.bounded(str(item))}" for item in value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _ids_in(field.name, getattr(value, field.name))
    elif isinstance(value, list | tuple):  # a list of input objects (a scheme's items) names ids too
        for item in value:
            yield from _ids_in(name, item)


def touched_ids(arguments: Mapping[str, object], result: object) -> list[str]:
    """The ids a mutation was asked to touch, and those of the rows its success record carries."""
    ids = audit_log.bounded_ids(found for name, value in arguments.items() for found in _ids_in(name, value))
    if dataclasses.is_dataclass(result) and not isinstance(result, Refused | type):
        for field in dataclasses.fields(result):
            row_id = getattr(getattr(result, field.name), "id", None)
            if isinstance(row_id, int):
                ids.append(f"{field.name}:{row_id}")
    return ids


async def audit_log_page(
    context: Context,
    first: int | None,
    after: str | None,
    subject: str | None,
    operation: str | None,
    count_total: bool = True,
) -> Connection:
    """Audit entries newest first, a page at a time (counted when ``count_total``)."""
    first = check_page_size(first, context.settings.max_page_size)
    before_id = decode_cursor("audit", after)
    conditions = []
    if subject is not None:
        conditions.append(AuditEntry.subject == subject)
    if operation is not None:
        conditions.append(AuditEntry.operation == operation)
    page = select_rows(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc()).limit(first + 1)
    if before_id is not None:
        page = page.where(AuditEntry.id < before_id)
    async with context.sessionmaker() as session:
        rows, total = await read_page(session, page, AuditEntry, conditions, count_total)
    return make_connection("audit", rows, first, total)
