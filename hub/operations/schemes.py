"""Versioning of schemes: publish a post's next scheme version, and ask whether a cycle pins one.

A scheme version is immutable once it exists, like an indicator version (see
:mod:`hub.operations.versions`): there is no operation that edits its items, item weights or rater
weights, in use by a cycle or not. A change is a new version with the next number, a change note, an
author and an effective date; the only update made to an older version is closing its validity
(``effective_to``) when its successor takes over, which leaves what it defines — and every cycle that
pinned it — exactly as it was.

:func:`publish_scheme_version` runs in one transaction and checks everything before it writes.
Errors: ``NotFound`` (post, indicator version), ``InvalidInput`` with the offending field,
``OverlappingDates``, and the scoring arithmetic's ``WeightsDoNotSum`` / ``NonPositiveWeight``
unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import WeightsDoNotSum
from hub.appraisal.weighting import WEIGHT_TOLERANCE, WEIGHT_TOTAL, validate_weights
from hub.db.models import CycleScheme, Indicator, IndicatorVersion, Post, SchemeItem, SchemeRaterWeight, SchemeVersion
from hub.domain import IndicatorCategory, RaterRole
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import InvalidInput, NotFound
from hub.operations.retirement import refuse_retired
from hub.operations.versions import latest_version, optional_text, require_text, succeed


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemeItemInput:
    indicator_version_id: Annotated[int, IdOf("indicatorVersion")]
    weight: float = described("Percent; the items of a scheme sum to 100.")


@dataclass(frozen=True, slots=True, kw_only=True)
class RaterWeightInput:
    role: RaterRole
    weight: float = described("Percent; the roles sum to 100.")


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemeVersionPublishInput:
    """A post's next scheme version: weighted indicator versions, in order, and the rater roles' weights."""

    post_id: Annotated[int, IdOf("post")]
    effective_from: dt.date
    items: tuple[SchemeItemInput, ...]
    rater_weights: tuple[RaterWeightInput, ...] = described(
        "How much each rater role's ratings count in the people-rated (CORE) part, summing to 100; required when "
        "the scheme has CORE indicators, with no default (which roles count is HR's policy). Raters are assigned "
        "only in the roles weighted above 0.",
        default=(),
    )
    change_note: str | None = None


CORE_NEEDS_RATER_WEIGHTS = (
    "a scheme with CORE indicators (rated by people) needs raterWeights, how much each rater role's ratings count, "
    "summing to 100: e.g. raterWeights: [{role: MANAGER, weight: 60}, {role: SELF, weight: 20}, "
    "{role: PEER, weight: 20}]; raters can then be assigned only in the roles weighted above 0"
)


@dataclass(frozen=True, slots=True)
class SchemeVersionRecord:
    """A scheme version as stored, with its items in position order and its rater weights: those are the rows
    written (the session keeps their columns loaded after commit), not copies of them."""

    id: int
    post_id: int
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    change_note: str | None
    author: str
    created_at: dt.datetime
    items: tuple[SchemeItem, ...]
    rater_weights: tuple[SchemeRaterWeight, ...]


def _by_role(weights: Sequence[RaterWeightInput]) -> dict[RaterRole, float]:
    by_role = {weight.role: weight.weight for weight in weights}
    if len(by_role) != len(weights):
        raise InvalidInput("a rater role is listed twice", field="raterWeights")
    return by_role


def _check_rater_weights(rater_weights: Mapping[RaterRole, float]) -> dict[RaterRole, float]:
    """Return the rater weights in role order, or raise InvalidInput (field ``raterWeights``)."""
    checked: dict[RaterRole, float] = {}
    for role in RaterRole:
        if role not in rater_weights:
            continue
        weight = rater_weights[role]
        if isinstance(weight, bool) or not math.isfinite(weight) or weight < 0:
            raise InvalidInput(
                f"the weight of {role.value} raters must be 0 or more, got {weight!r}", field="raterWeights"
            )
        checked[role] = float(weight)
    if len(checked) != len(rater_weights):
        unknown = sorted(str(role) for role in rater_weights if role not in checked)
        raise InvalidInput(f"unknown rater role(s): {', '.join(unknown)}", field="raterWeights")
    # Adding up to 100 also means that at least one role (the manager, typically) counts.
    total = math.fsum(checked.values())
    if abs(total - WEIGHT_TOTAL) > WEIGHT_TOLERANCE:
        raise InvalidInput(f"rater weights must add up to 100, they add up to {total:g}", field="raterWeights")
    return checked


async def _check_items(session: AsyncSession, items: Sequence[tuple[int, float]], effective_from: dt.date) -> bool:
    """Check that every indicator version exists, once per indicator, in force on ``effective_from``.

    Returns whether any item is a CORE (people-rated) indicator.
    """
    ids = [version_id for version_id, _ in items]
    rows = (
        await session.execute(
            select(
                IndicatorVersion.id,
                IndicatorVersion.indicator_id,
                IndicatorVersion.version,
                IndicatorVersion.effective_from,
                IndicatorVersion.effective_to,
                Indicator.code,
                Indicator.category,
            )
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
            .where(IndicatorVersion.id.in_(set(ids)))
        )
    ).all()
    by_id = {row.id: row for row in rows}
    seen: dict[int, int] = {}  # indicator id -> the version id that already stands for it
    for version_id in ids:
        row = by_id.get(version_id)
        if row is None:
            raise NotFound("indicatorVersion", version_id, field="items")
        if row.indicator_id in seen:
            raise InvalidInput(
                f"indicator {row.code} appears twice (versions {seen[row.indicator_id]} and {version_id})",
                field="items",
            )
        seen[row.indicator_id] = version_id
        if not (
            row.effective_from <= effective_from and (row.effective_to is None or effective_from <= row.effective_to)
        ):
            until = row.effective_to.isoformat() if row.effective_to else "open-ended"
            raise InvalidInput(
                f"{row.code} v{row.version} is in force {row.effective_from.isoformat()}..{until}, "
                f"not on {effective_from.isoformat()}",
                field="items",
            )
    return any(row.category is IndicatorCategory.CORE for row in rows)


_STORED = ("id", "post_id", "version", "effective_from", "effective_to", "change_note", "author", "created_at")
"""The columns of a stored scheme version that its record repeats."""


@dataclass(frozen=True, slots=True)
class NextScheme:
    """A post's next scheme version with what can be checked without the database checked (:func:`next_scheme`)."""

    post_id: int
    effective_from: dt.date
    items: list[tuple[int, float]]
    """(indicator version id, weight), in position order."""
    roles: dict[RaterRole, float]
    note: str | None
    author: str


def next_scheme(
    post_id: int,
    effective_from: dt.date,
    items: list[tuple[int, float]],
    rater_weights: Mapping[RaterRole, float],
    change_note: str | None,
    actor: str,
) -> NextScheme:
    """Check a scheme version's weights, rater weights, note and author, before any transaction."""
    if not items:
        raise InvalidInput("a scheme needs at least one indicator version", field="items")
    try:
        validate_weights([float(weight) for _, weight in items])
    except WeightsDoNotSum as error:  # NonPositiveWeight too: both are about the items' weights
        error.field = "items"
        raise
    roles = _check_rater_weights(rater_weights) if rater_weights else {}
    note = optional_text(change_note, "changeNote", 10_000)
    return NextScheme(post_id, effective_from, items, roles, note, require_text(actor, "author", 200))


async def publish_scheme_version(
    sessionmaker: async_sessionmaker[AsyncSession], command: SchemeVersionPublishInput, caller: Caller
) -> SchemeVersionRecord:
    """Publish a post's next scheme version, effective after its latest one, which it closes.

    The items are stored in the given order; the change note may be left out only for a post's first
    version.
    """
    items = [(item.indicator_version_id, item.weight) for item in command.items]
    rater_weights = _by_role(command.rater_weights)
    scheme = next_scheme(
        command.post_id, command.effective_from, items, rater_weights, command.change_note, caller.actor
    )
    async with sessionmaker() as session, session.begin():
        record = await store_scheme(session, scheme)
        await audit_change(session, caller.audit, f"scheme_version:{record.id}")
        return record


async def store_scheme(session: AsyncSession, scheme: NextScheme) -> SchemeVersionRecord:
    """Store a checked scheme version in ``session``'s transaction, once its post, items and dates pass their
    checks against the database; the caller writes the audit entry."""
    post_id, effective_from, items, checked_roles = scheme.post_id, scheme.effective_from, scheme.items, scheme.roles
    # The row lock (PostgreSQL; SQLite serialises writers anyway) makes concurrent publications
    # for one post queue up instead of both taking the same number.
    if await session.scalar(select(Post.id).where(Post.id == post_id).with_for_update()) is None:
        raise NotFound("post", post_id, field="postId")
    has_core = await _check_items(session, items, effective_from)
    await refuse_retired(session, [version_id for version_id, _ in items], effective_from)
    if has_core and not checked_roles:
        raise InvalidInput(CORE_NEEDS_RATER_WEIGHTS, field="raterWeights")
    latest = await latest_version(session, SchemeVersion, SchemeVersion.post_id == post_id)
    if latest is not None and scheme.note is None:
        raise InvalidInput("a new scheme version needs a change note", field="changeNote")
    number = succeed(latest, effective_from)
    row = SchemeVersion(
        post_id=post_id,
        version=number,
        effective_from=effective_from,
        effective_to=None,
        change_note=scheme.note,
        author=scheme.author,
    )
    session.add(row)
    await session.flush()
    item_rows = [
        SchemeItem(scheme_version_id=row.id, indicator_version_id=version_id, weight=float(weight), position=n)
        for n, (version_id, weight) in enumerate(items)
    ]
    role_rows = [
        SchemeRaterWeight(scheme_version_id=row.id, role=role, weight=weight) for role, weight in checked_roles.items()
    ]
    session.add_all([*item_rows, *role_rows])
    await session.flush()
    return SchemeVersionRecord(
        **{column: getattr(row, column) for column in _STORED},
        items=tuple(item_rows),
        rater_weights=tuple(role_rows),
    )


async def scheme_version_in_use(session: AsyncSession, scheme_version_id: int) -> bool:
    """Whether any cycle pins the scheme version (and so scores, or will score, under it)."""
    pinned = await session.scalar(select(exists().where(CycleScheme.scheme_version_id == scheme_version_id)))
    return bool(pinned)
