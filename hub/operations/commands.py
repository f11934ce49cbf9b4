"""What an operation receives: one typed command (the caller's input, as the API declares it) and the
``Caller`` (who asks, when, under which settings).

A command is a frozen dataclass next to its operation. Its fields are the mutation's input: the API
derives its GraphQL input type (or arguments) from the dataclass (``schema/mutations/declare.py``), so a
field is written once here and used once in the operation. Three markers say what a plain type does
not:

- ``Annotated[int, IdOf("cycle")]``: the key of a row. The API takes an ``ID`` and answers ``NOT_FOUND``
  (naming the field) for text that cannot be one of ours, before the operation runs.
- ``Annotated[object, JSON]``: any JSON value, checked by the operation (a scoring rule).
- ``described("...")``: the field's description in the schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from hub.appraisal import GradeBands
from hub.db.models import utcnow
from hub.operations.audit import AuditRecorder


@dataclass(frozen=True, slots=True)
class IdOf:
    """Marks an ``int`` command field as the key of an ``entity`` (its name in NOT_FOUND messages)."""

    entity: str


class _JsonMarker:
    """Marks an ``object`` command field as any JSON value."""

    def __repr__(self) -> str:
        return "JSON"


JSON: Final = _JsonMarker()


def described(description: str, **options: Any) -> Any:
    """A dataclass field with its schema description (``default=...`` and the like pass through).

    Untyped like ``dataclasses.field`` itself: its result stands where the field's default would, and the
    options are that function's own.
    """
    return dataclasses.field(metadata={"description": description}, **options)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks for an operation and under which settings: what an operation needs beside its command.

    ``audit`` is the access-audit entry the operation writes in the transaction of its change (None:
    not audited, e.g. the demo build); ``bands`` the organisation's grade bands (``Settings.bands``).
    """

    actor: str
    audit: AuditRecorder | None = None
    now: dt.datetime = field(default_factory=utcnow)
    bands: GradeBands = field(default_factory=GradeBands)
