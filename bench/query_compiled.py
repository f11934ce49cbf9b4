"""bench.query's --compiled cases: the same page as a registered document, by hash, pre-parsed and
pre-validated, through the executor and through its compiled plan (schema/compiled.py).

Two more apps on the same database file: one whose ``PERFHUB_PERSISTED_DOCUMENTS`` folder holds the page's
text with compiled plans switched off, one with them on. Their cases send the hash alone, as a portal would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.app import create_app
from hub.config import Settings
from hub.persisted import sha256_hex
from schema import compiled


def resolved_fields(value: object) -> int:
    """The fields a response resolved: every key of every object in it (a list's items are not fields)."""
    if isinstance(value, dict):
        return len(value) + sum(resolved_fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(resolved_fields(item) for item in value)
    return 0


@contextlib.asynccontextmanager
async def registered_apps(
    settings: Settings, folder: Path, document: str, today: Callable[[], dt.date], engines: list[AsyncEngine]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Clients of two apps that registered ``document``: "executor" (plans off) and "plan" (plans on); their
    engines are appended to ``engines`` (for the statement counters)."""
    folder.mkdir(exist_ok=True)  # noqa: ASYNC240 - once, before anything is timed
    (folder / "BenchPage.graphql").write_text(document, encoding="utf-8")
    apps: dict[str, Starlette] = {
        "executor": create_app(
            settings.model_copy(update={"persisted_documents": folder, "compiled_plans": False}),
            clock=today,
            systems=None,
        ),
        "plan": create_app(
            settings.model_copy(update={"persisted_documents": folder, "compiled_plans": True}),
            clock=today,
            systems=None,
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://perfhub.bench")
            )
            engines.append(app.state.resources.engine)
        yield clients


def by_hash(
    client: httpx.AsyncClient, document: str, token: str
) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
    """A case's ``send``: the document's hash alone, to its own app (the client handed in is the stock one's)."""
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}}

    async def send(_stock: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})

    return send


def planned() -> int:
    """How many operations the compiled plans have answered in this process so far."""
    return compiled.STATS.compiled
