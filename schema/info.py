"""The typed ``info`` every schema resolver receives."""

from __future__ import annotations

import strawberry

from resolvers.context import Context

Info = strawberry.Info[Context, None]
"""The request's context; the root value is None (the app gives none)."""
