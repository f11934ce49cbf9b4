"""Verified tokens are kept until they expire: a portal's token is verified once, not on every request, and
nothing about what is refused changes (hub/verified_tokens.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest

from hub.auth import AuthenticationError, Authenticator, Principal, Role, issue_token
from hub.verified_tokens import VerifiedTokens
from tests.conftest import make_settings


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT decodes (verifies) from now on."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return seen


def test_a_token_is_verified_once_while_it_lives(decodes: list[str]) -> None:
    """The second request with the same token gets the same principal without a second verification."""
    authenticator = Authenticator(make_settings())
    token = issue_token(authenticator.settings, role=Role.HR_ADMIN, subject="hr")
    first = authenticator.authenticate(f"Bearer {token}")
    assert authenticator.authenticate(f"Bearer {token}") == first
    assert first.has(Role.HR_ADMIN) and decodes == [token]


def test_a_refused_token_is_verified_and_refused_every_time(decodes: list[str]) -> None:
    """A bad signature is not kept: each request verifies it again and is refused again."""
    authenticator = Authenticator(make_settings())
    token = issue_token(authenticator.settings, role=Role.HR_ADMIN)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticator.authenticate(f"Bearer {forged}")
    assert decodes == [forged, forged]


def test_a_kept_token_expires_as_the_verifier_would_expire_it() -> None:
    """At ``exp`` plus the leeway the kept principal is gone (and the verifier then says "token expired")."""
    expires = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    kept = VerifiedTokens(leeway_seconds=30)
    principal = Principal("hr", frozenset({Role.HR_ADMIN}), expires_at=expires)
    kept.keep("t", principal)
    assert kept.get("t", expires + dt.timedelta(seconds=29)) == principal
    assert kept.get("t", expires + dt.timedelta(seconds=30)) is None
    assert kept.get("t", expires) is None, "forgotten once expired"


def test_the_kept_tokens_are_bounded() -> None:
    """A full cache lets its oldest token go (verified again on its next request), never grows past its bound."""
    expires = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    kept = VerifiedTokens(leeway_seconds=0, max_tokens=2)
    for name in ("a", "b", "c"):
        kept.keep(name, Principal(name, frozenset({Role.HR_ADMIN}), expires_at=expires))
    now = expires - dt.timedelta(minutes=1)
    assert [kept.get(name, now) is not None for name in ("a", "b", "c")] == [False, True, True]
