"""What a business system's HTTP answer means: httpx outcomes mapped onto the connector error tree."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.base import BadResponse, SystemTimeout, SystemUnavailable, Unauthorised


def next_page_url(system: str, response: httpx.Response, link: str, refusal: str) -> str:
    """A server's next-page link, resolved against the URL that answered (links may be relative to the
    host rather than to our base URL). It must stay on that origin, since our credentials go with it;
    otherwise BadResponse with ``refusal`` and the link."""
    try:
        current = str(response.url)
    except RuntimeError:  # a response built without a request: nothing to resolve against
        return link
    target = urljoin(current, link)
    if urlsplit(target)[:2] != urlsplit(current)[:2]:
        raise BadResponse(system, f"{refusal}: {link}")
    return target


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def decode_json(system: str, response: httpx.Response) -> object:
    """The JSON body of a response, or ``BadResponse`` (garbage, HTML error pages, empty bodies)."""
    try:
        return json.loads(response.content)
    except ValueError:
        raise BadResponse(system, f"{response.request.url.path} did not answer JSON") from None


def check_status(system: str, response: httpx.Response, now: dt.datetime) -> None:
    """Maps a non-2xx answer onto the error tree; 429 and 5xx are transient, other 4xx are not."""
    status = response.status_code
    path = response.request.url.path
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise Unauthorised(system, f"HTTP {status} from {path}")
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now) if status in (429, 503) else None
        raise SystemUnavailable(system, f"HTTP {status} from {path}", retry_after=retry_after)
    raise BadResponse(system, f"HTTP {status} from {path}")


async def send(system: str, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Sends one request; httpx's exceptions become the connector error tree."""
    path = request.url.path
    try:
        return await client.send(request)
    except httpx.TimeoutException:
        raise SystemTimeout(system, f"no answer from {path} in time") from None
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.DecodingError, httpx.TooManyRedirects) as exc:
        raise BadResponse(system, f"{path}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        raise SystemUnavailable(system, f"{path}: {type(exc).__name__}") from None
