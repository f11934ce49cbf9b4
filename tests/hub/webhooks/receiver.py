"""A webhook receiver on a loopback port that answers as a test scripts it and keeps every request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.loopback import served


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def attempt(self) -> int:
        return int(self.headers["perfhub-attempt"])


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    stall_seconds: float = 0.0
    """Answer only after this long (beyond the worker's timeout: a timeout)."""


@dataclass
class Receiver:
    """Answers each request with the next scripted answer (204 once the script is used up)."""

    url: str = ""
    script: list[Answer] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    answer_for: dict[str, list[Answer]] = field(default_factory=dict)
    """Scripts for one webhook-id, taken before the general script."""
    refuse_first_attempts: bool = False
    """Answer 500 to every attempt numbered 1 (whichever endpoint it is for)."""

    async def handle(self, request: Request) -> Response:
        hit = Hit(
            {key.lower(): value for key, value in request.headers.items()}, await request.body(), request.url.query
        )
        self.hits.append(hit)
        own = self.answer_for.get(hit.webhook_id)
        answer = own.pop(0) if own else self.script.pop(0) if self.script else Answer()
        if self.refuse_first_attempts and hit.attempt == 1:
            answer = Answer(500)
        if answer.stall_seconds:
            await asyncio.sleep(answer.stall_seconds)
        return Response(status_code=answer.status, headers=answer.headers)

    def ids(self) -> list[str]:
        return [hit.webhook_id for hit in self.hits]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with served(app) as base:
        receiver.url = f"{base}/hook"
        yield receiver
