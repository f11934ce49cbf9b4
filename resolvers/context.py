"""The typed per-request Context that every resolver receives as ``info.context``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import ANONYMOUS, Principal
from hub.config import Settings
from resolvers.loaders import Loaders


@dataclass
class Context:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    today: dt.date
    principal: Principal = ANONYMOUS
    request_id: str = ""
    # Set by the HTTP integration; strawberry reads status codes and headers from them.
    request: Any = None
    response: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.sessionmaker, self.today)
