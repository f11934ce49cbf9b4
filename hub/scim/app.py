"""``/scim/v2``: scim2-server's ASGI application, behind perfhub's bearer tokens, over perfhub's employees."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import cast

from scim2_models import ForbiddenException, ResourceType, UnauthorizedException
from scim2_server.applications import asgi
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.errors import MethodNotAllowedException
from scim2_server.handler import AsyncScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation, Target
from scim2_server.service import ScimService
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from hub import guards, policy
from hub.auth import AuthenticationError, Authenticator, Principal
from hub.operations.audit import AuditRecorder
from hub.scim.groups import READ_ONLY
from hub.scim.groups import RESOURCE_TYPE as GROUP
from hub.scim.models import provider
from hub.scim.storage import OrganisationStorage

ACTOR_PREFIX = "scim:"
"""How the audit names a provisioning caller: ``scim:`` and the token's subject."""


WRITES = frozenset({Operation.create, Operation.replace, Operation.patch, Operation.delete})


class PerfhubScimService(ScimService):
    """scim2-server's service, refusing writes to Groups (departments) before it reads their body."""

    def authorize(self, request: ScimRequest, target: Target, resource_type: ResourceType) -> None:
        if resource_type.name == GROUP and target.operation in WRITES:
            raise MethodNotAllowedException(allowed=["GET"], detail=READ_ONLY)


class ScimApp(ASGIApplication):
    """Mounted at ``/scim`` by ``hub.app.create_app``. The database comes from the hub's lifespan
    (``app.state.resources``); the storage is made per request, for the caller and the day."""

    def __init__(self, authenticator: Authenticator, clock: Callable[[], dt.date]) -> None:
        scim = provider()
        # ``ASGIApplication.__init__`` wants one storage for the process; perfhub's is per request.
        super(ASGIApplication, self).__init__(scim, PerfhubScimService(scim))
        self.authenticator = authenticator
        self.clock = clock

    async def mounted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The application as Starlette mounts it (Starlette's ASGI types are scim2-server's, more loosely)."""
        await self(dict(scope), cast(asgi.Receive, receive), send)

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":  # the hub's lifespan is Starlette's, and SCIM has no WebSocket
            return
        request = await self.read_request(scope, receive)
        request_id = guards.request_id()
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.resources.sessionmaker
        try:
            response = await self._serve(request, request_id, sessionmaker)
        except Exception as exception:
            response = self.handle_exception(request, exception)
        response = self.finalize_response(request, response)
        response.headers["X-Request-Id"] = request_id
        await self.send_response(response, send)

    async def _serve(
        self, request: ScimRequest, request_id: str, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> ScimResponse:
        principal = await self._principal(request) if self.needs_auth(request) else None

        def audit(operation: str) -> AuditRecorder:
            assert principal is not None  # every write needs authentication
            return AuditRecorder(
                subject=f"{ACTOR_PREFIX}{principal.subject}",
                roles=(role.value for role in principal.roles),
                operation=operation,
                request_id=request_id,
                client_request_id=guards.client_request_id(request.header("X-Request-Id")),
            )

        handler = AsyncScimHandler(self.service, OrganisationStorage(sessionmaker, audit, self.clock()))
        return await handler.handle(request)

    async def _principal(self, request: ScimRequest) -> Principal:
        """The caller: 401 without a valid token, 403 unless it may provision (scim or hr_admin)."""
        header = request.header("Authorization")
        try:
            if self.authenticator.may_block:  # a JWKS URL may be fetched: keep the event loop free
                principal = await asyncio.to_thread(self.authenticator.authenticate, header)
            else:
                principal = self.authenticator.authenticate(header)
        except AuthenticationError as error:
            raise UnauthorizedException(detail=error.reason) from None
        if principal.is_anonymous:
            raise UnauthorizedException(detail="a bearer token is required")
        if not policy.may_provision(principal):
            raise ForbiddenException(detail="provisioning needs a token with the scim or hr_admin role")
        return principal
