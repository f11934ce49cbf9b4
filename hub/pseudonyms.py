"""Pseudonyms for principals who may not see names: keyed ids, cursors and checksums.

An analyst without the ``names`` grant must not be able to map anything in an answer to a person. Row
keys follow the order in which employees were created, and so their employee numbers; a stored
provenance checksum is a plain SHA-256 over the employee number and values the analyst can read, which
a brute force over every employee number reverses in a second. So for those principals:

* an id is the AES encryption of one block holding a tag of its kind and the row key, under a key of
  this deployment: the same row always has the same id (the id can be passed back as an argument), two
  deployments give unrelated ids, and the id reveals nothing of the key, not even its order. A block
  that does not decrypt to the kind's tag is not one of ours (a forgery passes with chance 2^-64).
* a checksum is an HMAC-SHA256 of the stored checksum under a key of this deployment: still equal for
  equal values, useless to a brute force without the key.

The key is ``PERFHUB_ID_KEY``, or else derived from the HS256 token secret (which, in demo mode, is
kept in a file beside the database, so ids survive restarts). Changing either changes every
pseudonymous id.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.auth import AuthConfigurationError, resolve_secret
from hub.config import Settings

MIN_KEY_BYTES = 32
_BLOCK = 16
_TAG = 8  # bytes of the block that name the kind; the other 8 hold the key
_TOKEN_LENGTH = 22  # base64url of one block, without padding


class Pseudonyms:
    """Deterministic, keyed and reversible ids for one deployment, and keyed checksums."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise AuthConfigurationError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
        # Separate keys per use, so that no output of one use helps against another.
        self._cipher = Cipher(algorithms.AES(_derive(key, b"ids")), modes.ECB())  # single blocks only: a keyed PRP
        self._checksum_key = _derive(key, b"checksums")
        self._tag_key = _derive(key, b"kinds")

    @functools.cache  # noqa: B019  a handful of kinds per process; the instance lives as long as the process
    def _tag(self, kind: str) -> bytes:
        return hmac.digest(self._tag_key, kind.encode(), "sha256")[:_TAG]

    def encode(self, kind: str, key: int) -> str:
        return self.encode_many(kind, [key])[0]

    def encode_many(self, kind: str, keys: Sequence[int]) -> list[str]:
        """The ids of many rows of one kind at once (one cipher call for a whole list)."""
        tag = self._tag(kind)
        plain = b"".join(tag + key.to_bytes(_BLOCK - _TAG, "big") for key in keys)
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(plain) + encryptor.finalize()
        return [
            base64.urlsafe_b64encode(sealed[start : start + _BLOCK]).decode().rstrip("=")
            for start in range(0, len(sealed), _BLOCK)
        ]

    def decode(self, kind: str, token: str) -> int | None:
        """The row key behind an id of this kind, or None when the id is not one this deployment made."""
        if len(token) != _TOKEN_LENGTH or not token.isascii():
            return None
        try:
            block = base64.urlsafe_b64decode(token + "==")
        except (ValueError, binascii.Error):
            return None
        # One spelling per id: 22 base64 characters carry 132 bits for a 128-bit block, and an id whose last
        # character differs only in the 4 unused bits would otherwise name the same row.
        if len(block) != _BLOCK or base64.urlsafe_b64encode(block).decode().rstrip("=") != token:
            return None
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(block) + decryptor.finalize()
        if not hmac.compare_digest(plain[:_TAG], self._tag(kind)):
            return None
        return int.from_bytes(plain[_TAG:], "big")

    def checksum(self, stored: str) -> str:
        """A keyed checksum: equal for equal stored checksums, irreversible without the key."""
        return hmac.new(self._checksum_key, stored.encode(), hashlib.sha256).hexdigest()


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.digest(key, b"perfhub pseudonyms v1: " + purpose, "sha256")


def pseudonym_key(settings: Settings) -> bytes:
    """PERFHUB_ID_KEY, else the HS256 token secret; a deployment with neither (JWKS only) must set one."""
    if settings.id_key is not None:
        key = settings.id_key.get_secret_value().encode()
        if len(key) < MIN_KEY_BYTES:
            raise AuthConfigurationError(f"PERFHUB_ID_KEY must be at least {MIN_KEY_BYTES} bytes")
        return key
    secret = resolve_secret(settings)
    if secret is None:
        raise AuthConfigurationError(
            "no key for pseudonymous ids: set PERFHUB_ID_KEY (32 bytes or more) when tokens are verified with a JWKS"
        )
    return hashlib.sha256(b"perfhub id key from the token secret: " + secret).digest()


@functools.cache
def pseudonyms_for(settings: Settings) -> Pseudonyms:
    """One Pseudonyms per settings object, so the key (a file read in demo mode) is resolved once."""
    return Pseudonyms(pseudonym_key(settings))
