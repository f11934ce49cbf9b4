"""The scheme-diagnostics query: does each indicator of a post's scheme discriminate?"""

from __future__ import annotations

from hub.operations.diagnostics import IndicatorDiagnosticsRecord, scheme_diagnostics
from hub.operations.errors import NotFound
from resolvers.context import Context
from resolvers.errors import parse_id


async def diagnostics(context: Context, cycle_id: str, post_id: str) -> list[IndicatorDiagnosticsRecord]:
    """Per indicator of the scheme pinned for the post in the cycle; empty for unknown ids."""
    cycle_key, post_key = parse_id(cycle_id), parse_id(post_id)
    if cycle_key is None or post_key is None:
        return []
    try:
        return await scheme_diagnostics(context.sessionmaker, cycle_id=cycle_key, post_id=post_key)
    except NotFound:
        return []
