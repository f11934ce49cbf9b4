"""GraphiQL without the internet: strawberry's page, with its scripts and styles served by the hub itself.

Strawberry's GraphiQL page (strawberry/static/graphiql.html) loads React, ReactDOM, js-cookie, GraphiQL and
GraphiQL's explorer plugin from unpkg.com; on an intranet with no route out, the page stays blank. The same
files, at the versions strawberry pins, are vendored in hub/static/vendor/graphiql/ (its README.md lists them and
says how to update them) and served under ASSETS_PATH. The page stays strawberry's own, each unpkg URL
pointed at the vendored copy, so its subresource-integrity hashes go on checking that the files are, byte
for byte, the ones strawberry pinned.

The page's Content-Security-Policy admits scripts, styles, fonts and connections from the hub alone: a CDN
reference in a later strawberry's page then fails loudly, in every browser and in the tests, rather than
working only where the internet happens to be reachable.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import logging
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

log = logging.getLogger("perfhub")

ASSETS_PATH = "/graphiql-assets"
ASSETS_DIRECTORY = Path(__file__).parent / "static" / "vendor" / "graphiql"

# A file of an npm package as the page names it, https://unpkg.com/<package>@<version>/<folders>/<file>.
# Its copy is <package>@<version>/<file>: flat, because the repository ignores every folder named dist/.
_CDN_URL = re.compile(
    r"https://unpkg\.com/(?P<package>(?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/(?:[\w.@-]+/)*(?P<file>[\w.-]+)(?=[\"'])"
)
# The page's own inline code, which the policy admits by hash (and nothing else inline).
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)

# The vendored files' paths carry their package's version, so a file never changes under its URL.
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class GraphiQLPage:
    """The page, the policy it is served with, and the vendored files it names that are not there."""

    html: str
    content_security_policy: str
    missing: tuple[str, ...] = ()

    def response(self) -> Response:
        headers = {
            "Content-Security-Policy": self.content_security_policy,
            "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
            # The page names the asset versions: a browser must not keep an old page after an upgrade.
            "Cache-Control": "no-cache",
        }
        return HTMLResponse(self.html, headers=headers)


_FETCHER = "const fetcher = GraphiQL.createFetcher("
_PAGE_COMPONENT = "function GraphiQLWithExplorer()"
# GraphiQL asks for the schema as soon as the page opens, before anyone has pasted a token: with
# introspection for token holders only, that was a 401 in the browser's console and a bare error in the
# docs. The page's fetcher keeps that request at home until the Headers tab holds an Authorization.
_INTROSPECTION_NEEDS_A_TOKEN = """const fetcher = (params, options) => {
        const headers = (options && options.headers) || {};
        const hasToken = Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
        if (!hasToken && params && params.operationName === "IntrospectionQuery") {
          return Promise.resolve({
            errors: [{ message: 'The schema needs a token: put {"Authorization": "Bearer <token>"} '
              + 'in the Headers tab, then re-fetch the schema (Shift-Ctrl-R).' }],
          });
        }
        return hubFetcher(params, options);
      };

      """


def build_page(template: str, *, introspection_needs_token: bool = False) -> GraphiQLPage:
    """Strawberry's GraphiQL page with each unpkg URL replaced by the hub's vendored copy of the file.

    With ``introspection_needs_token`` the page does not ask for the schema without a token (see above).

    Logs an error naming the files the page needs that hub/static/vendor/graphiql/ lacks (a strawberry upgrade
    that moved GraphiQL's versions): the page then stays blank, and the error says what to vendor.
    """
    missing: list[str] = []

    def vendored(match: re.Match[str]) -> str:
        path = f"{match['package']}/{match['file']}"
        if not _vendored_file(path).is_file():
            missing.append(path)
        return f"{ASSETS_PATH}/{path}"

    html = _CDN_URL.sub(vendored, template)
    if introspection_needs_token:
        if _FETCHER in html and _PAGE_COMPONENT in html:
            html = html.replace(_FETCHER, "const hubFetcher = GraphiQL.createFetcher(", 1)
            html = html.replace(_PAGE_COMPONENT, _INTROSPECTION_NEEDS_A_TOKEN + _PAGE_COMPONENT, 1)
        else:
            log.error("GraphiQL's page has changed: it will ask for the schema without a token (hub/graphiql.py)")
    if missing:
        log.error(
            "GraphiQL needs %s, not vendored in %s: see the README.md there to update",
            ", ".join(missing),
            ASSETS_DIRECTORY,
        )
    scripts = " ".join(_hash(code) for code in _INLINE_SCRIPT.findall(html))
    styles = " ".join(_hash(code) for code in _INLINE_STYLE.findall(html))
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {scripts}".strip(),
            f"style-src 'self' {styles}".strip(),
            # GraphiQL's CSS inlines its fonts; the favicon and GraphiQL's icons are data: URLs.
            "font-src 'self' data:",
            "img-src 'self' data:",
            # The fetcher's POSTs and the subscription WebSocket: CSP 3's 'self' covers ws:/wss: to the same host.
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            # The page runs what its URL (?query=) and stored headers hold with the user's token: no other
            # site may frame it and make a logged-in hr_admin click Run.
            "frame-ancestors 'none'",
        ]
    )
    return GraphiQLPage(html, policy, tuple(missing))


def _hash(code: str) -> str:
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _vendored_file(path: str) -> Path:
    """Where a vendored file is kept: as it is, or gzipped (``.gz``) when it would be a multi-MB blob."""
    plain = ASSETS_DIRECTORY / path
    return plain if plain.is_file() else plain.with_name(plain.name + ".gz")


@functools.cache
def _compressed(full_path: str) -> bytes:
    with open(full_path, "rb") as file:
        return file.read()


class _VendoredFiles(StaticFiles):
    """hub/static/vendor/graphiql/, each file cacheable for a year.

    GraphiQL's bundle (3.5 MB) is kept gzipped in the repository and sent as it is stored, with
    ``Content-Encoding: gzip`` (every browser asks for it); a client that does not accept gzip gets it
    decompressed.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        full_path, stat_result = self.lookup_path(path + ".gz")  # lookup_path keeps to the directory
        if stat_result is None or not path.endswith((".js", ".css")):
            return await super().get_response(path, scope)
        body = _compressed(full_path)
        headers = {"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
        if "gzip" in Headers(scope=scope).get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(body, media_type=media_type, headers=headers)

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = _IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def assets_route() -> Mount:
    """The route serving the vendored files the page names."""
    return Mount(ASSETS_PATH, app=_VendoredFiles(directory=ASSETS_DIRECTORY), name="graphiql-assets")
