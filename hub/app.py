"""The ASGI application: routes, the lifespan that owns the database, and the GraphQL endpoint."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from hub.config import Settings
from hub.db.engine import create_engine, create_sessionmaker
from resolvers.context import Context
from schema import build_schema

log = logging.getLogger("perfhub")

Clock = Callable[[], dt.date]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class Resources:
    """What the lifespan opens and closes; handlers reach it through ``app.state.resources``."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


class PerfhubGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI endpoint with perfhub's typed per-request context."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.clock = clock

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        resources: Resources = request.app.state.resources
        return Context(
            settings=self.settings,
            sessionmaker=resources.sessionmaker,
            today=self.clock(),
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex,
            request=request,
            response=response,
        )


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers."""
    resources: Resources = request.app.state.resources
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means not ready
        log.warning("readiness check failed: %s", error)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def create_app(settings: Settings | None = None, *, clock: Clock = utc_today) -> Starlette:
    """The hub as an ASGI app; the database engine lives exactly as long as the app's lifespan."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.resources = Resources(engine=engine, sessionmaker=create_sessionmaker(engine))
        try:
            yield
        finally:
            await engine.dispose()

    graphql: Any = PerfhubGraphQL(settings, clock)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
