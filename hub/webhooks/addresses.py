"""Where a webhook may be posted: public addresses only, over https, unless the deployment says otherwise.

hr_admin is an application role, not a network administrator: without this check a registered URL turns
the hub into a client inside its own network (loopback services, the cloud metadata address, private
ranges), and the delivery log into a port scanner. The check runs when an endpoint is registered and again
before every attempt, because a name may resolve elsewhere later.

The host is taken as an address when it is one in any spelling the resolver accepts (``0x7f000001``,
``2130706433``, ``127.1``: ``inet_aton``'s forms), otherwise resolved with ``getaddrinfo`` in a thread,
bounded by a timeout; every address it resolves to must be public. What is left: the HTTP client resolves
the name again when it connects, so a name whose answers change within that instant (DNS rebinding) is
not caught; the check narrows the window, it does not pin the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from hub.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""The well-known NAT64 prefix: its addresses reach the IPv4 address in their last 32 bits."""


class TargetRefused(Exception):
    """The URL may not be posted to; the message is coarse on purpose (it reaches the delivery log)."""


class NotPublic(TargetRefused):
    def __init__(self) -> None:
        super().__init__("refused: the address is not public")


class HttpsRequired(TargetRefused):
    def __init__(self) -> None:
        super().__init__("refused: https is required")


class Unresolvable(Exception):
    """The host resolved to nothing within the timeout: refused at registration, a failed attempt later."""


def literal_address(host: str) -> IPAddress | None:
    """The address the host spells, in any form the resolver would take as one; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # inet_aton takes what ip_address does not and getaddrinfo would: hex, octal, one-number and short forms.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def is_public(address: IPAddress) -> bool:
    """Global unicast, also once unwrapped from an IPv6 form that carries an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    # Multicast addresses of global scope count as global for ipaddress; they are no receiver's address.
    return address.is_global and not address.is_multicast


DEMO_RECEIVER_PATH = "/webhooks/perfhub"
"""Where the demo's training system takes webhooks (``hub.demo.systems.consumers`` routes it)."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What a webhook URL may point at, from the settings."""

    allow_private: bool
    allow_http: bool
    resolve_timeout: float
    exempt: frozenset[str] = frozenset()
    """Exact URLs (scheme://host:port/path) posted to whatever their address: the demo's own receivers, in demo
    mode only. Only the receiver's path: another path on its origin (the sandbox's ``/_faults``) is refused."""

    @classmethod
    def of(cls, settings: Settings) -> TargetPolicy:
        return cls(
            allow_private=settings.webhook_allow_private_addresses,
            # A test bench or the demo posts to loopback receivers, which rarely speak TLS.
            allow_http=settings.webhook_allow_private_addresses or settings.demo,
            resolve_timeout=settings.webhook_timeout_seconds,
            exempt=frozenset(map(_receiver, settings.demo_webhook_targets)) if settings.demo else frozenset(),
        )

    async def check(self, url: str) -> None:
        """Raises ``TargetRefused`` or ``Unresolvable`` unless the URL may be posted to now."""
        parts = urlsplit(url)
        if not (parts.query or parts.fragment) and f"{parts.scheme}://{parts.netloc}{parts.path}" in self.exempt:
            return
        if parts.scheme != "https" and not self.allow_http:
            raise HttpsRequired()
        if self.allow_private:
            return
        host = parts.hostname or ""
        literal = literal_address(host)
        addresses = [literal] if literal is not None else await self._resolved(host, parts.port)
        if not all(is_public(address) for address in addresses):
            raise NotPublic()

    async def _resolved(self, host: str, port: int | None) -> list[IPAddress]:
        try:
            async with asyncio.timeout(self.resolve_timeout):
                found = await asyncio.to_thread(lookup, host, port)
        except (OSError, TimeoutError, UnicodeError):
            raise Unresolvable() from None
        if not found:
            raise Unresolvable()
        return [ipaddress.ip_address(address.partition("%")[0]) for address in found]


def _receiver(target: str) -> str:
    """A configured demo target as the exact URL exempted: an origin alone stands for the receiver's path on it."""
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}{parts.path or DEMO_RECEIVER_PATH}"


def lookup(host: str, port: int | None) -> list[str]:
    """The addresses the system resolver gives for the host (blocking: run in a thread)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
