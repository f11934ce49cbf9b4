"""Versioning of indicators: create an indicator with its first version, and add later versions.

Versions never change the past. An indicator version is immutable once it exists: its rule, data
source, missing policy, effective_from, change note and author are written once and never updated.
A change is a new version with the next number, a change note, an author and an effective date.
There is no edit operation, on purpose; the one update this module makes is closing the validity of
the version a new one succeeds (see :func:`successor_closes`). Scheme versions follow the same rules
in :mod:`hub.operations.schemes`.

Each operation runs in one transaction and checks everything before it writes, so an error leaves
the database as it was. Errors: :class:`~hub.operations.errors.NotFound`, ``InvalidInput`` (with
the offending field), ``OverlappingDates`` and ``DuplicateCode``; a rule that does not parse or does
not fit the indicator's direction raises :class:`~hub.appraisal.errors.InvalidRule` unchanged, like
every error of the scoring arithmetic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import InvalidRule
from hub.appraisal.rules import RatingScaleRule, Rule, parse_rule
from hub.appraisal.scoring import compile_rule
from hub.db.models import Indicator, IndicatorVersion, Versioned
from hub.domain import MANUAL_SOURCE, Direction, IndicatorCategory, MissingPolicy
from hub.operations.audit import audit_change
from hub.operations.commands import JSON, Caller, IdOf, described
from hub.operations.errors import DuplicateCode, IndicatorRetired, InvalidInput, NotFound, OverlappingDates
from hub.operations.ranges import checked_bounds
from hub.operations.sources import Offers, SourceWarning, source_warnings
from hub.records import record_from

CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
"""An indicator code: an upper-case letter, then 1-63 upper-case letters, digits or underscores."""

_DAY = dt.timedelta(days=1)

VersionT = TypeVar("VersionT", bound=Versioned)

_VALID_MIN = described(
    "The lowest value that makes sense (a rating too); none: open, or 0 for a '%' unit.", default=None
)
_VALID_MAX = described(
    "The highest value that makes sense (a rating too); none: open, or 100 for a '%' unit.", default=None
)
_RULE = 'The scoring rule, e.g. {"kind": "linear", "floor": 5, "target": 0.5}; kinds: linear, bands, lookup, rating.'


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorCreateInput:
    """A new indicator with its version 1."""

    code: str = described("Upper-case letters, digits and underscores, e.g. VOUCHER_ERROR_RATE.")
    name: str
    category: IndicatorCategory
    direction: Direction
    rule: Annotated[object, JSON] = described(_RULE)
    source_system: str = described("MANUAL for people-rated (CORE) indicators.")
    effective_from: dt.date
    unit: str | None = None
    source_metric: str | None = None
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE
    change_note: str | None = None
    valid_min: float | None = _VALID_MIN
    valid_max: float | None = _VALID_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorVersionCreateInput:
    """The next version of an indicator."""

    indicator_id: Annotated[int, IdOf("indicator")]
    rule: Annotated[object, JSON]
    source_system: str
    effective_from: dt.date
    change_note: str = described("Why the definition changes; required.")
    source_metric: str | None = None
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE
    valid_min: float | None = _VALID_MIN
    valid_max: float | None = _VALID_MAX


@dataclass(frozen=True, slots=True)
class IndicatorVersionRecord:
    """An indicator version as stored; the schema's ``IndicatorVersion`` reads it by attribute."""

    id: int
    indicator_id: int
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    rule: dict[str, object]
    missing_policy: MissingPolicy
    source_system: str
    source_metric: str | None
    change_note: str | None
    author: str
    created_at: dt.datetime
    valid_min: float | None
    valid_max: float | None


@dataclass(frozen=True, slots=True)
class SavedVersion:
    """A created indicator version, and what its source may lack (a warning: the version is stored)."""

    version: IndicatorVersionRecord
    warnings: list[SourceWarning]


def require_text(value: str | None, field: str, max_length: int) -> str:
    """Return ``value`` stripped, or raise InvalidInput when it is blank or too long for its column."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{field} must not be blank", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    return text


def optional_text(value: str | None, field: str, max_length: int) -> str | None:
    """Like :func:`require_text`, but blank means "none given"."""
    return None if value is None or not value.strip() else require_text(value, field, max_length)


def successor_closes(latest_from: dt.date, latest_to: dt.date | None, effective_from: dt.date) -> dt.date | None:
    """The effective_to that a new version effective ``effective_from`` gives the latest one.

    Returns None when the latest version already ended before the new one starts (nothing to close);
    raises OverlappingDates when the new version would not start after the latest one.

    Closing is not a change of the old version's definition: effective_to only records when a
    successor took over, which is a fact about the successor (its effective_from minus a day). The
    old version keeps its number, rule, weights, source and start, so everything scored or pinned
    under it (a cycle pins a scheme version by id) reads exactly as before.
    """
    if effective_from <= latest_from:
        raise OverlappingDates(
            f"effectiveFrom must be after {latest_from.isoformat()}, when the latest version took effect",
            field="effectiveFrom",
        )
    if latest_to is None:
        return effective_from - _DAY
    if effective_from <= latest_to:
        # An explicitly closed version keeps its end: shortening it would rewrite its validity.
        raise OverlappingDates(
            f"effectiveFrom must be after {latest_to.isoformat()}, when the latest version ends",
            field="effectiveFrom",
        )
    return None


async def latest_version(session: AsyncSession, model: type[VersionT], of: ColumnElement[bool]) -> VersionT | None:
    """The highest-numbered version among the rows ``of`` picks (one indicator's, one post's), or None."""
    return await session.scalar(select(model).where(of).order_by(model.version.desc()).limit(1))


def succeed(latest: Versioned | None, effective_from: dt.date) -> int:
    """The number of the version that succeeds ``latest`` from ``effective_from``, closing the latest's
    validity where the successor takes over (:func:`successor_closes`)."""
    if latest is None:
        return 1
    closes = successor_closes(latest.effective_from, latest.effective_to, effective_from)
    if closes is not None:
        latest.effective_to = closes
    return latest.version + 1


@dataclass(frozen=True, slots=True)
class _Definition:
    """What a version defines, checked against its indicator and ready to store."""

    rule: Rule
    source_system: str
    source_metric: str | None
    missing_policy: MissingPolicy
    valid: tuple[float | None, float | None] = (None, None)


def _check_definition(
    category: IndicatorCategory,
    direction: Direction,
    rule_data: object,
    source_system: str,
    source_metric: str | None,
    missing_policy: MissingPolicy,
) -> _Definition:
    """Check a version's rule and data source against its indicator; return them ready to store."""
    if not isinstance(rule_data, Mapping):
        raise InvalidRule("the rule must be a JSON object with a 'kind'", field="rule")
    try:
        rule = parse_rule(rule_data)
    except InvalidRule as error:
        error.field = error.field or "rule"
        raise
    system = require_text(source_system, "sourceSystem", 64)
    metric = optional_text(source_metric, "sourceMetric", 128)
    if category is IndicatorCategory.CORE:
        if system != MANUAL_SOURCE:
            raise InvalidInput(
                f"a CORE indicator is rated by people: its source system must be {MANUAL_SOURCE}",
                field="sourceSystem",
            )
        if metric is not None:
            raise InvalidInput("a CORE indicator is rated by people: it has no source metric", field="sourceMetric")
        if not isinstance(rule, RatingScaleRule):
            raise InvalidInput('a CORE indicator needs a "rating" rule', field="rule")
    else:
        if system == MANUAL_SOURCE:
            raise InvalidInput(
                f"an EXTENSION indicator is measured by a business system, not {MANUAL_SOURCE}",
                field="sourceSystem",
            )
        if metric is None:
            raise InvalidInput("an EXTENSION indicator needs the metric its system reports", field="sourceMetric")
    try:
        compile_rule(rule, direction)  # InvalidRule when the rule runs against the direction
    except InvalidRule as error:
        error.field = error.field or "rule"
        raise
    return _Definition(rule, system, metric, missing_policy)


def _record(row: IndicatorVersion) -> IndicatorVersionRecord:
    # A copy: the record does not share the row's mutable JSON value.
    return record_from(IndicatorVersionRecord, row, rule=dict(row.rule))


def _code_taken(code: str) -> DuplicateCode:
    """Another indicator has the code: found by the check, or by the unique index when a transaction took it
    between the check and the insert."""
    return DuplicateCode(f"an indicator with code {code!r} already exists", field="code")


async def create_indicator(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: IndicatorCreateInput,
    caller: Caller,
    *,
    offers: Offers | None = None,
) -> SavedVersion:
    """Create an indicator and its version 1; return that version, warned where no configured system (``offers``;
    None: none is configured) offers its source."""
    code, category, direction = command.code, command.category, command.direction
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(
            "code must be an upper-case letter followed by 1-63 upper-case letters, digits or underscores",
            field="code",
        )
    name = require_text(command.name, "name", 200)
    unit = optional_text(command.unit, "unit", 32)
    definition = _check_definition(
        category, direction, command.rule, command.source_system, command.source_metric, command.missing_policy
    )
    definition = replace(definition, valid=checked_bounds(command.valid_min, command.valid_max))
    note = optional_text(command.change_note, "changeNote", 10_000)
    author = require_text(caller.actor, "author", 200)
    async with sessionmaker() as session, session.begin():
        if await session.scalar(select(Indicator.id).where(Indicator.code == code)) is not None:
            raise _code_taken(code)
        indicator = Indicator(code=code, name=name, category=category, unit=unit, direction=direction)
        session.add(indicator)
        try:
            await session.flush()
        except IntegrityError:
            # Another transaction took the code between the check and the insert.
            raise _code_taken(code) from None
        version = await _add_version(session, caller, indicator.id, 1, command.effective_from, definition, note, author)
    return SavedVersion(version, source_warnings(definition.source_system, definition.source_metric, offers))


async def create_indicator_version(
    sessionmaker: async_sessionmaker[AsyncSession],
    command: IndicatorVersionCreateInput,
    caller: Caller,
    *,
    offers: Offers | None = None,
) -> SavedVersion:
    """Add the next version of an indicator, effective after the latest one, which it closes; warned like
    :func:`create_indicator`."""
    indicator_id, effective_from = command.indicator_id, command.effective_from
    note = require_text(command.change_note, "changeNote", 10_000)
    author = require_text(caller.actor, "author", 200)
    async with sessionmaker() as session, session.begin():
        # The row lock (PostgreSQL; SQLite serialises writers anyway) makes concurrent new versions
        # of one indicator queue up instead of both taking the same number.
        indicator = await session.scalar(select(Indicator).where(Indicator.id == indicator_id).with_for_update())
        if indicator is None:
            raise NotFound("indicator", indicator_id, field="indicatorId")
        definition = _check_definition(
            indicator.category,
            indicator.direction,
            command.rule,
            command.source_system,
            command.source_metric,
            command.missing_policy,
        )
        definition = replace(definition, valid=checked_bounds(command.valid_min, command.valid_max))
        if indicator.retired_on is not None and effective_from >= indicator.retired_on:
            raise IndicatorRetired(
                f"{indicator.code} is retired from {indicator.retired_on.isoformat()}: no new version from then on",
                field="effectiveFrom",
            )
        latest = await latest_version(session, IndicatorVersion, IndicatorVersion.indicator_id == indicator_id)
        number = succeed(latest, effective_from)
        version = await _add_version(session, caller, indicator_id, number, effective_from, definition, note, author)
    return SavedVersion(version, source_warnings(definition.source_system, definition.source_metric, offers))


async def _add_version(
    session: AsyncSession,
    caller: Caller,
    indicator_id: int,
    number: int,
    effective_from: dt.date,
    definition: _Definition,
    note: str | None,
    author: str,
) -> IndicatorVersionRecord:
    """Stores an indicator's version ``number`` with its audit entry; returns it as a record."""
    version = IndicatorVersion(
        indicator_id=indicator_id,
        version=number,
        effective_from=effective_from,
        effective_to=None,
        rule=definition.rule.to_dict(),
        missing_policy=definition.missing_policy,
        source_system=definition.source_system,
        source_metric=definition.source_metric,
        valid_min=definition.valid[0],
        valid_max=definition.valid[1],
        change_note=note,
        author=author,
    )
    session.add(version)
    await session.flush()
    await audit_change(session, caller.audit, f"indicator_version:{version.id}")
    return _record(version)
