"""Adopting an indicator version in the schemes that use its indicator: one call, a new scheme version per post.

A new indicator version reaches no scheme by itself: a scheme version names indicator versions, and is never
edited. Adopting it publishes, for every post whose scheme in force on the chosen day weighs another version of
the indicator, that scheme's next version with the item swapped (same position, weight and rater weights) and
the caller's change note, through the rules every scheme version passes (:func:`hub.operations.schemes.store_scheme`:
every item in force that day, the post's latest version succeeded after its start). It is one transaction: when
one post cannot take the new version, no post does, and the refusal names the post.

A separate mutation rather than an option of ``indicatorVersionCreate``: a version is often created ahead of
its adoption, schemes may adopt it on a later day than it takes effect, and a refusal then says which of the
two steps went wrong. Adopting twice on one day changes nothing the second time (the schemes already use it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appraisal.errors import AppraisalError
from hub.db.models import Indicator, IndicatorVersion, Post, SchemeItem, SchemeRaterWeight, SchemeVersion
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
        "When the schemes' new versions take effect; the indicator version must be in force that day."
    )
    change_note: str = described("Why the schemes change; every new scheme version carries it.")


@dataclass(frozen=True, slots=True)
class _InForce:
    """A post's scheme version in force on the adoption day: its items in position order and its rater weights."""

    post_id: int
    post_code: str
    items: list[tuple[int, float, int]]
    """(indicator version id, weight, indicator id) of each item."""
    roles: dict[RaterRole, float]

    def uses_another(self, adopted: IndicatorVersion) -> bool:
        """Whether the scheme weighs a version of the adopted one's indicator other than it."""
        return any(indicator == adopted.indicator_id and version != adopted.id for version, _, indicator in self.items)

    def swapped(self, adopted: IndicatorVersion) -> list[tuple[int, float]]:
        """The scheme's items with the adopted version in place of its indicator's, weights unchanged."""
        return [
            (adopted.id if indicator == adopted.indicator_id else version, weight)
            for version, weight, indicator in self.items
        ]


async def adopt_indicator_version(
    sessionmaker: async_sessionmaker[AsyncSession], command: IndicatorVersionAdopt, caller: Caller
) -> list[SchemeVersionRecord]:
    """Publish the next scheme version of every post whose scheme in force on ``effective_from`` weighs another
    version of the indicator, with the item swapped; answers them by post. None, or refused, writes nothing."""
    version_id, day = command.indicator_version_id, command.effective_from
    note = require_text(command.change_note, "changeNote", 10_000)
    async with sessionmaker() as session, session.begin():
        adopted = await session.get(IndicatorVersion, version_id)
        if adopted is None:
            raise NotFound("indicatorVersion", version_id, field="indicatorVersionId")
        if not (adopted.effective_from <= day and (adopted.effective_to is None or day <= adopted.effective_to)):
            raise InvalidInput(
                f"version {adopted.version} of the indicator is not in force on {day.isoformat()}",
                field="effectiveFrom",
            )
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
        ids = [f"indicator_version:{version_id}", *(f"scheme_version:{record.id}" for record in records)]
        await audit_change(session, caller.audit, *ids)
        return records


async def _schemes_to_change(session: AsyncSession, adopted: IndicatorVersion, day: dt.date) -> list[_InForce]:
    """The schemes in force on ``day`` that weigh another version of the adopted one's indicator, by post.

    The posts are locked first (in id order, so that two adoptions queue up instead of deadlocking), then
    their schemes read: a scheme published meanwhile is either seen or waits for this transaction.
    """
    indicator_id = adopted.indicator_id
    using = (
        select(SchemeVersion.post_id)
        .join(SchemeItem, SchemeItem.scheme_version_id == SchemeVersion.id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .where(IndicatorVersion.indicator_id == indicator_id)
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
        select(SchemeItem.scheme_version_id, SchemeItem.indicator_version_id, SchemeItem.weight, Indicator.id)
        .join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id)
        .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        .where(SchemeItem.scheme_version_id.in_(list(scheme_of.values())))
        .order_by(SchemeItem.scheme_version_id, SchemeItem.position)
    )
    weighed: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for scheme_id, item_version, weight, item_indicator in items:
        weighed[scheme_id].append((item_version, weight, item_indicator))
    roles: dict[int, dict[RaterRole, float]] = defaultdict(dict)
    rater_weights = select(SchemeRaterWeight).where(SchemeRaterWeight.scheme_version_id.in_(list(scheme_of.values())))
    for row in await session.scalars(rater_weights):
        roles[row.scheme_version_id][row.role] = row.weight
    schemes = [
        _InForce(post_id, codes[post_id], weighed[scheme_id], roles[scheme_id])
        for post_id, scheme_id in sorted(scheme_of.items())
    ]
    return [scheme for scheme in schemes if scheme.uses_another(adopted)]
