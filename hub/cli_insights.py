"""``perfhub token --open``: a short-lived link to the /insights page, the token in the URL's fragment.

A browser never sends a URL's fragment to the server, so the token does not reach the hub's access log, a
proxy's or the Referer of another site; the page moves it to the tab's sessionStorage and takes it out of
the address bar (hub/static/insights/assets/insights.js). The link's token lives OPEN_TTL_SECONDS unless
--ttl says otherwise: a link in a terminal's scrollback or a browser's history should not outlive its use.
"""

from __future__ import annotations

import argparse
import webbrowser
from urllib.parse import quote

from hub.insights_page import PAGE_PATH

OPEN_TTL_SECONDS = 300
DEFAULT_HUB_URL = "http://127.0.0.1:8000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--open",
        action="store_true",
        help=f"print a link to the hub's /insights page signed in with the token (valid {OPEN_TTL_SECONDS} s "
        "unless --ttl) and open it in a browser; the token travels in the link's #fragment, never to a server log",
    )
    parser.add_argument("--url", default=DEFAULT_HUB_URL, help=f"the hub's address for --open ({DEFAULT_HUB_URL})")


def ttl(args: argparse.Namespace) -> int | None:
    """The token's lifetime: --ttl, else short for a link, else None (the hub's default)."""
    given: int | None = args.ttl
    return given if given is not None or not args.open else OPEN_TTL_SECONDS


def link(hub_url: str, token: str) -> str:
    return f"{hub_url.rstrip('/')}{PAGE_PATH}#token={quote(token, safe='')}"


def open_link(hub_url: str, token: str) -> None:
    """Prints the link and hands it to the desktop's browser, if there is one (``BROWSER`` chooses it)."""
    url = link(hub_url, token)
    print(f"perfhub: insights page, signed in: {url}")
    if not webbrowser.open(url):
        print("perfhub: no browser to open here; open the link above yourself")
