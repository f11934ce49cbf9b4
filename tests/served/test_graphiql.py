"""GraphiQL works with no internet: the page's every file comes from the hub (hub/graphiql.py).

First without a browser: the page names only files of the hub, each one served. Then in the system's
headless Chromium: the editor renders and a query and a subscription run with a bearer header, while no
request of the page leaves 127.0.0.1 and the page's Content-Security-Policy ('self' only) refuses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, WebSocket, sync_playwright

from hub.graphiql import build_page
from tests.served.hub_process import ServedHub

CHROMIUM = Path("/usr/bin/chromium")
# Chromium quiet and offline but for the page: none of its own calls home, updates or experiments.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The favicon is an inline SVG; its xmlns is the name of a namespace, never fetched.
NOT_FETCHED = {"http://www.w3.org/2000/svg"}
QUERY = "{ employees(first: 1) { totalCount } }"
SUBSCRIPTION = "subscription { resultPublished { eventId } }"
TIMEOUT_MS = 30_000


@pytest.fixture
def served(served_shared: ServedHub) -> ServedHub:
    """The module's hub on its backend, not one per test: the tests only read (a query, a subscription)."""
    return served_shared


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"Chromium is absent ({CHROMIUM}); .ci/run installs the Debian package"
)


class _Subresources(HTMLParser):
    """The page's <script src> and <link href>, each with its integrity attribute (or None)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag == "script" else attributes.get("href") if tag == "link" else None
        if url:
            self.found.append((tag, url, attributes.get("integrity")))


def graphiql_page(served: ServedHub) -> httpx.Response:
    response = httpx.get(served.url, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response


def test_the_page_names_only_the_hubs_files_and_the_hub_serves_each(served: ServedHub) -> None:
    page = graphiql_page(served)
    external = set(re.findall(r"https?://[^\s\"'<>()%]+", page.text)) - NOT_FETCHED
    assert external == set(), f"the page still names URLs off the hub: {sorted(external)}"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    # No other site may frame the page (it runs what its URL holds with the user's stored token).
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"

    parser = _Subresources()
    parser.feed(page.text)
    assert {tag for tag, _, _ in parser.found} == {"script", "link"}
    kinds = {".js": "javascript", ".css": "text/css"}
    for _tag, reference, integrity in parser.found:
        if reference.startswith("data:"):  # the favicon: inline, no request
            continue
        url = urljoin(served.url, reference)
        assert urlsplit(url).netloc == urlsplit(served.base_url).netloc, reference
        asset = httpx.get(url)
        assert asset.status_code == 200, reference
        assert kinds[Path(urlsplit(url).path).suffix] in asset.headers["content-type"], reference
        assert "immutable" in asset.headers["cache-control"], reference
        if integrity:  # the vendored file is, byte for byte, the one strawberry's page pinned
            algorithm, expected = integrity.split("-", 1)
            assert base64.b64encode(hashlib.new(algorithm, asset.content).digest()).decode() == expected, reference
            # GraphiQL's bundle is kept gzipped: sent so to clients that accept it (httpx does, and decodes),
            # decompressed for those that do not, the same bytes either way.
            plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers and plain.content == asset.content, reference
            if reference.endswith("graphiql.min.js"):
                assert asset.headers["content-encoding"] == "gzip"


def test_a_file_the_hub_has_not_vendored_is_named_at_startup(caplog: pytest.LogCaptureFixture) -> None:
    """After a strawberry upgrade that moves GraphiQL's versions, the log says which files to vendor."""
    page = build_page('<script src="https://unpkg.com/graphiql@99.0.0/dist/graphiql.min.js"></script>')
    assert page.missing == ("graphiql@99.0.0/graphiql.min.js",)
    assert '<script src="/graphiql-assets/graphiql@99.0.0/graphiql.min.js">' in page.html
    assert "graphiql@99.0.0/graphiql.min.js, not vendored" in caplog.text


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Recorded:
    """What the page did: every request's URL, every WebSocket's URL, CSP refusals and script errors."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.sockets: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda request: self._request(request))
        page.on("websocket", lambda socket: self._socket(socket))
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def off_the_hub(self) -> list[str]:
        return [url for url in self.requests + self.sockets if urlsplit(url).hostname != "127.0.0.1"]


def open_graphiql(browser: Browser, served: ServedHub, query: str) -> tuple[Page, Recorded]:
    """GraphiQL with the query in its editor and the hr_admin bearer header typed into its Headers tab.

    The query comes in the URL parameter strawberry's page reads (q), as in a shared GraphiQL link; the
    token is typed, as a person pastes it, so that it stays out of URLs and the hub's access log.
    """
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    recorded = Recorded(page)
    page.goto(f"{served.url}?{urlencode({'q': query}, quote_via=quote)}")
    query_editor = page.locator(".graphiql-query-editor .CodeMirror")
    query_editor.wait_for(state="visible")
    assert query.split()[0] in query_editor.inner_text()
    page.get_by_role("button", name="Headers").click()
    headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    headers_editor.click()
    page.keyboard.press("ControlOrMeta+A")
    # Inserted, not typed key by key: the editor would close each bracket and quote typed a second time.
    page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {served.token('hr_admin')}"}))
    assert "Authorization" in headers_editor.inner_text()
    return page, recorded


def run(page: Page) -> None:
    page.locator(".graphiql-execute-button").click()


def answer_with(page: Page, text: str) -> Locator:
    """Runs the operation in the editor and waits until its response shows ``text``; the response panel."""
    run(page)
    result = page.locator(".graphiql-response .CodeMirror")
    result.filter(has_text=text).wait_for()
    return result


@needs_chromium
def test_graphiql_renders_and_queries_with_a_bearer_header_offline(served: ServedHub, browser: Browser) -> None:
    page, recorded = open_graphiql(browser, served, QUERY)
    result = answer_with(page, "totalCount")
    assert re.search(r'"totalCount":\s*120\b', result.inner_text()), result.inner_text()
    assert recorded.off_the_hub() == []
    assert recorded.problems == []
    assert any("/graphiql-assets/graphiql@" in url for url in recorded.requests)


@needs_chromium
def test_graphiql_subscribes_over_the_hubs_websocket(served: ServedHub, browser: Browser) -> None:
    """The fetcher's subscription URL (ws:// of the page's own URL) passes the policy, the headers authenticate."""
    page, recorded = open_graphiql(browser, served, SUBSCRIPTION)
    result = answer_with(page, "eventId")
    assert "errors" not in result.inner_text(), result.inner_text()
    run(page)  # the button stops a running subscription
    assert recorded.sockets == [served.ws_url]
    assert recorded.off_the_hub() == []
    assert recorded.problems == []
