"""The typed ``info`` every schema resolver receives."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context

Info = strawberry.Info[Context, Any]
