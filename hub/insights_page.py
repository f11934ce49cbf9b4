"""The /insights page: four charts of a cycle drawn in the browser from the hub's own API, with no CDN.

The page (hub/static/insights/: index.html, insights.js, insights.css) is plain HTML, hand-written SVG charts
and ``fetch``: nothing to build, nothing vendored. It asks ``/graphql`` only with persisted documents (the
hashes of hub/static/insights/documents/*.graphql, which hub/persisted.py registers at start-up), so the
page carries no query text and the hub answers it only what its registered documents ask.

The bearer token is pasted into the page, or arrives in a link's fragment (``/insights#token=...``, made by
``perfhub token --open``): a browser never sends a fragment to a server, so the token stays out of access
logs and proxies; the page moves it to sessionStorage and takes it out of the address bar at once.

The HTML carries what the script needs and the hub knows at start-up as data attributes (the documents'
hashes, the configured target distribution), so the policy below can refuse every inline script.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hub.analytics.withheld import WORDING, Withheld
from hub.config import Settings
from hub.domain import Grade
from hub.persisted import PersistedDocuments

PAGE_PATH = "/insights"
ASSETS_PATH = "/insights-assets"
FOLDER = Path(__file__).parent / "static" / "insights"
GRADES = tuple(grade.value for grade in Grade)
_CONFIG_SLOT = "{{config}}"

# Everything from the hub, nothing inline, no framing (the page holds a bearer token).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def page_html(settings: Settings, documents: PersistedDocuments) -> str:
    """index.html with the page's configuration in its body's data-config attribute."""
    config = {
        "documents": dict(documents.hash_by_name),
        "target": dict(zip(GRADES, settings.insights_target_distribution, strict=True)),
        "targetSource": "PERFHUB_INSIGHTS_TARGET_DISTRIBUTION (configured; the hub stores no target distribution)",
        # The legend of a group's `withheld` reason, in the one wording of every field (hub.analytics.withheld),
        # for the configured minimum group size (hr_admin's is 1: nothing is withheld from them).
        "withheld": {reason.value: WORDING[reason].format(m=settings.min_group_size) for reason in Withheld},
    }
    template = (FOLDER / "index.html").read_text(encoding="utf-8")
    return template.replace(_CONFIG_SLOT, html.escape(json.dumps(config), quote=True))


def routes(settings: Settings, documents: PersistedDocuments) -> list[BaseRoute]:
    """The page at /insights and its script and style under /insights-assets."""
    body = page_html(settings, documents)

    async def page(_request: Request) -> Response:
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
        }
        return HTMLResponse(body, headers=headers)

    assets = StaticFiles(directory=FOLDER / "assets")
    return [Route(PAGE_PATH, page, methods=["GET"]), Mount(ASSETS_PATH, assets)]
