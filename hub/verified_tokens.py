"""The bearer tokens this process has verified, kept with their principal until they expire.

A portal sends the same token with every request for the token's whole life, and verifying it (base64, JSON,
HMAC or a signature, the claim checks) cost about half a millisecond of a served page. Every check a token
passed depends only on its bytes and on what the process was started with (the key, issuer, audience, maximum
lifetime), except its expiry: so a token verified once is the same principal on every later request until then,
and only the expiry is checked again, as the verifier checks it (``exp`` plus the leeway).

Not for keys fetched from a JWKS URL, which may be rotated while the process runs (``Authenticator`` does not
keep those tokens). A refused token is never kept: it is verified, and refused, each time. The cache is bounded;
only tokens signed with the hub's key get in, so a client cannot fill it with tokens of its own making.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # hub.auth keeps its verified tokens here
    from hub.auth import Principal

MAX_TOKENS = 4096
"""Tokens kept at once: far more than the people using one process within a token's lifetime, and a few MB."""


class VerifiedTokens:
    """Principals by the token they were verified from, while the token lives."""

    def __init__(self, leeway_seconds: float, max_tokens: int = MAX_TOKENS) -> None:
        self.leeway_seconds = leeway_seconds
        self.max_tokens = max_tokens
        self._principals: dict[str, Principal] = {}

    def get(self, token: str, now: dt.datetime) -> Principal | None:
        """The principal of a token verified earlier and not expired at ``now``; None otherwise (verify it)."""
        principal = self._principals.get(token)
        if principal is None:
            return None
        if principal.expired(now, self.leeway_seconds):
            del self._principals[token]  # the verifier now refuses it: "token expired"
            return None
        return principal

    def keep(self, token: str, principal: Principal) -> None:
        """Keeps a token that was just verified (one without an expiry is not kept: the hub requires one)."""
        if principal.expires_at is None:
            return
        if len(self._principals) >= self.max_tokens:
            del self._principals[next(iter(self._principals))]  # the oldest kept
        self._principals[token] = principal
