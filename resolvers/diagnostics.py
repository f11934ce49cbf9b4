"""The scheme-diagnostics query: does each indicator of a post's scheme discriminate?"""

from __future__ import annotations

import dataclasses

from sqlalchemy import and_, case, func, select

from hub import policy
from hub.db.models import AppraisalResult
from hub.operations.diagnostics import IndicatorDiagnostics, scheme_diagnostics
from hub.operations.errors import NotFound
from resolvers.context import Context
from resolvers.cycle_ids import cycle_key as well_formed_cycle
from resolvers.errors import BadUserInput, Forbidden, UnknownId, parse_id
from resolvers.small_groups import in_large_result_cell


async def diagnostics(context: Context, cycle_id: str, post_id: str) -> list[IndicatorDiagnostics]:
    """Per indicator of the scheme pinned for the post in the cycle (empty when the post is not pinned in it, or
    has no results in it); a malformed id is BAD_USER_INPUT, one that names no cycle or post NOT_FOUND, each
    naming its argument."""
    cycle_key = well_formed_cycle(cycle_id)
    post_key = parse_id(post_id)
    if post_key is None:
        raise BadUserInput(f"'postId' is not a post id: {post_id[:40]!r}", argument="postId")
    minimum = policy.minimum_group_size(context.principal, context.settings)
    # For a pseudonymous caller, the people of small (department, post) cells are left out, as they are of
    # scoreStatistics: otherwise the post's means here, less its mean there, would be theirs.
    only = [in_large_result_cell(minimum, context.scope.results())] if context.pseudonyms is not None else []
    if minimum > 1:
        # A post scored for one person has that person's indicator scores as its means.
        kept = func.count(case((and_(*only), 1))) if only else func.count()
        statement = select(func.count(), kept).where(
            AppraisalResult.cycle_id == cycle_key, AppraisalResult.post_id == post_key
        )
        async with context.sessionmaker() as session:
            scored, counted = (await session.execute(statement)).one()
        if scored > 0 and counted < minimum:
            raise Forbidden("not allowed: fewer people than the minimum group size were scored in this post")
    try:
        records = await scheme_diagnostics(context.sessionmaker, cycle_id=cycle_key, post_id=post_key, only=only)
    except NotFound as error:  # the same statement tells an unknown cycle or post from one without a scheme
        value, argument = (cycle_id, "cycleId") if error.field == "cycleId" else (post_id, "postId")
        raise UnknownId(error.entity, value, argument=argument) from None
    # Nor an indicator that only a few of them have a score for.
    return [record if record.count >= minimum else _withheld(record) for record in records]


def _withheld(record: IndicatorDiagnostics) -> IndicatorDiagnostics:
    return dataclasses.replace(
        record, mean=None, stddev=None, ceiling_share=None, floor_share=None, correlation=None, flags=[]
    )
