"""Adopting an indicator version in the schemes that use its indicator: one call, a new scheme version per post.

A new indicator version reaches no scheme by itself: a scheme version names indicator versions, and is never
edited. Adopting it publishes, for every post whose scheme in force on the chosen day weighs another version of
the indicator, that scheme's next version with the item swapped (same position, weight and rater weights) and
the caller's change note, through the rules every scheme version passes (:func:`hub.operations.schemes.store_scheme`:
every item in force that day, the post's latest version succeeded after its start). It is one transaction: when
one post cannot take the new version, no post does, and the refusal names the post. Versions of several
indicators that take effect on one day are adopted together (``also_adopt``): each alone would be refused, since
a scheme moves only to a day on which every one of its items is in force.

A separate mutation rather than an option of ``indicatorVersionCreate``: a version is often created ahead of
its adoption, schemes may adopt it on a later day than it takes effect, versions of several indicators may be
adopted together, and a refusal then says which of the steps went wrong. Adopting twice on one day changes
nothing the second time (the schemes already use it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import AppraisalError
from hub.db.models import IndicatorVersion, Post, SchemeItem, SchemeRaterWeight, SchemeVersion
from hub.domain import RaterRole
from hub.operations.audit import audit_change
from hub.operations.commands import Caller, IdOf, described
from hub.operations.errors import InvalidInput, NotFound, OperationError
from hub.operations.schemes import SchemeVersionRecord, next_scheme, store_scheme
from hub.operations.versions import require_text


@dataclass(frozen=True, slots=True)
class IndicatorVersionAdopt:
    indicator_version_id: Annotated[int, IdOf("indicatorVersion")]
    effective_from: dt.date = described(
        "When the schemes' new versions take effect; every adopted version must be in force that day."
    )
    change_note: str = described("Why the schemes change; every new scheme version carries it.")
    also_adopt: tuple[Annotated[int, IdOf("indicatorVersion")], ...] = described(
        "Versions of other indicators that take effect with it, adopted in the same new scheme versions (a scheme "
        "moves only to a day on which every item of it is in force).",
        default=(),
    )


@dataclass(frozen=True, slots=True)
class _InForce:
    """A post's scheme version in force on the adoption day: its items in position order and its rater weights."""

    post_id: int
    post_code: str
    items: list[tuple[int, float, int]]
    """(indicator version id, weight, indicator id) of each item."""
    roles: dict[RaterRole, float]

    def uses_another(self, adopted: Mapping[int, int]) -> bool:
        """Whether the scheme weighs another version of an indicator than ``adopted`` (indicator -> version) names."""
        return any(adopted.get(indicator, version) != version for version, _, indicator in self.items)

    def swapped(self, adopted: Mapping[int, int]) -> list[tuple[int, float]]:
        """The scheme's items with the adopted versions in place of their indicators', weights unchanged."""
        return [(adopted.get(indicator, version), weight) for version, weight, indicator in self.items]


async def adopt_indicator_version(
    sessionmaker: async_sessionmaker[AsyncSession], command: IndicatorVersionAdopt, caller: Caller
) -> list[SchemeVersionRecord]:
    """Publish the next scheme version of every post whose scheme in force on ``effective_from`` weighs another
    version of an adopted version's indicator, with the items swapped; answers them by post. None, or refused,
    writes nothing."""
    version_id, day = command.indicator_version_id, command.effective_from
    note = require_text(command.change_note, "changeNote", 10_000)
    async with sessionmaker() as session, session.begin():
        adopted = await _adopted(session, [version_id, *command.also_adopt], day)
        records = []
        for scheme in await _schemes_to_change(session, adopted, day):
            try:
                checked = next_scheme(scheme.post_id, day, scheme.swapped(adopted), scheme.roles, note, caller.actor)
                records.append(await store_scheme(session, checked))
            except (OperationError, AppraisalError) as error:  # EXPECTED, spelled out for the type checker
                # Rolled back with the rest; the post is what the caller needs to know to fix it.
                error.message = f"post {scheme.post_code}: {error.message}"
                error.field = "effectiveFrom" if error.field in ("items", "postId") else error.field
                raise
        ids = [*(f"indicator_version:{v}" for v in adopted.values()), *(f"scheme_version:{r.id}" for r in records)]
        await audit_change(session, caller.audit, *ids)
        return records


async def _adopted(session: AsyncSession, version_ids: list[int], day: dt.date) -> dict[int, int]:
    """The adopted versions by indicator (indicator id -> version id), each existing and in force on ``day``."""
    rows = {
        row.id: row
        for row in await session.scalars(select(IndicatorVersion).where(IndicatorVersion.id.in_(version_ids)))
    }
    adopted: dict[int, int] = {}
    for n, version_id in enumerate(version_ids):
        field = "indicatorVersionId" if n == 0 else "alsoAdopt"
        row = rows.get(version_id)
        if row is None:
            raise NotFound("indicatorVersion", version_id, field=field)
        if not (row.effective_from <= day and (row.effective_to is None or day <= row.effective_to)):
            raise InvalidInput(
                f"indicator version {version_id} is not in force on {day.isoformat()}", field="effectiveFrom"
            )
        # Versions of one indicator never overlap, so two in force on one day are one version named twice.
        adopted[row.indicator_id] = version_id
    return adopted


async def _schemes_to_change(session: AsyncSession, adopted: Mapping[int, int], day: dt.date) -> list[_InForce]:
    """The schemes in force on ``day`` that weigh another version of an adopted version's indicator, by post.

    The posts are locked first (in id order, so that two adoptions queue up instead of deadlocking), then
    their schemes read: a scheme published meanwhile is either seen or waits for this transaction.
    """
    using = (
        select(SchemeVersion.post_id)
        .join(SchemeItem, SchemeItem.scheme_version_id == SchemeVersion.id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .where(IndicatorVersion.indicator_id.in_(list(adopted)))
    )
    locked = select(Post.id, Post.code).where(Post.id.in_(using)).order_by(Post.id).with_for_update()
    codes: dict[int, str] = {post: code for post, code in await session.execute(locked)}
    in_force = (
        select(SchemeVersion.post_id, SchemeVersion.id)
        .where(SchemeVersion.post_id.in_(list(codes)), SchemeVersion.effective_from <= day)
        .where(or_(SchemeVersion.effective_to.is_(None), SchemeVersion.effective_to >= day))
        .order_by(SchemeVersion.post_id, SchemeVersion.version)
    )
    # The highest version wins where two overlap.
    scheme_of: dict[int, int] = {post: scheme for post, scheme in await session.execute(in_force)}
    items = await session.execute(
        select(SchemeItem, IndicatorVersion.indicator_id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .where(SchemeItem.scheme_version_id.in_(list(scheme_of.values())))
        .order_by(SchemeItem.scheme_version_id, SchemeItem.position)
    )
    weighed: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for item, indicator in items:
        weighed[item.scheme_version_id].append((item.indicator_version_id, item.weight, indicator))
    roles: dict[int, dict[RaterRole, float]] = defaultdict(dict)
    rater_weights = select(SchemeRaterWeight).where(SchemeRaterWeight.scheme_version_id.in_(list(scheme_of.values())))
    for row in await session.scalars(rater_weights):
        roles[row.scheme_version_id][row.role] = row.weight
    schemes = [
        _InForce(post_id, codes[post_id], weighed[scheme_id], roles[scheme_id])
        for post_id, scheme_id in sorted(scheme_of.items())
    ]
    return [scheme for scheme in schemes if scheme.uses_another(adopted)]
