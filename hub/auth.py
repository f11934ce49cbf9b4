"""Who is asking: the Principal every request carries, the roles it may hold, and the bearer tokens behind it."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from sqlalchemy import make_url

from hub.config import Settings
from hub.verified_tokens import VerifiedTokens


class Role(StrEnum):
    EMPLOYEE = "employee"
    """Their own data."""
    MANAGER = "manager"
    """Their reporting line: everyone below them in the manager chain, at any depth."""
    HR_ADMIN = "hr_admin"
    """Everything; the only role that changes schemes, cycles and results."""
    ANALYST = "analyst"
    """Aggregates and results; names only when granted; never compensation."""
    PAYROLL = "payroll"
    """A system principal: reads published results and compensation, subscribes to results."""
    TRAINING = "training"
    """A system principal: reads published results and training records, subscribes to results."""
    SCIM = "scim"
    """A system principal: an identity provider or HR system provisioning people over ``/scim/v2``, nothing else."""


class Grant(StrEnum):
    NAMES = "names"
    """Lets an analyst see employees' names and numbers."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a person (with an employee number) or a system, with its roles."""

    subject: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    employee_number: str | None = None
    grants: frozenset[Grant] = field(default_factory=frozenset)
    expires_at: dt.datetime | None = None
    """When the token behind it expires (UTC); long-lived subscriptions stop delivering after it."""

    @property
    def is_anonymous(self) -> bool:
        return not self.roles

    def has(self, *needs: Role | Grant) -> bool:
        """True when the principal holds any of ``needs``: a role it plays or a grant it was given.

        The one idiom of every access decision (``hub.policy``). Role and grant values never coincide (the
        policy's test checks it), so one set test per kind is exact.
        """
        return not self.roles.isdisjoint(needs) or not self.grants.isdisjoint(needs)

    def expired(self, now: dt.datetime, leeway_seconds: float) -> bool:
        """True when the token behind the principal has expired, with the leeway the verifier allows."""
        return self.expires_at is not None and now >= self.expires_at + dt.timedelta(seconds=leeway_seconds)


ANONYMOUS = Principal(subject="anonymous")


# --- Bearer tokens -----------------------------------------------------------------------------------
#
# The error tree: AuthenticationError (a request's token is refused: 401, the reason is safe to show)
# and AuthConfigurationError (the deployment has no usable key: the process refuses to start).

MIN_SECRET_BYTES = 32
"""RFC 7518 3.2: an HS256 key must be at least as long as the hash output."""
MAX_TOKEN_CHARS = 8192
"""Longer bearer values are refused before any decoding work."""
SECRET_FILE_SUFFIX = ".jwt-secret"
MAX_SUBJECT_CHARS = 200
"""The longest ``sub`` (and ``employee_no``) accepted: the audit's subject column holds 200 characters."""

log = logging.getLogger("perfhub.auth")


class AuthenticationError(Exception):
    """A bearer token was refused; ``reason`` is short and safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthConfigurationError(Exception):
    """No key to verify tokens with, or an unusable one: the hub must not start."""


class TokenTooLong(ValueError):
    """A token asked for with a lifetime past the maximum the hub accepts."""


def secret_file_path(settings: Settings) -> Path | None:
    """Where the embedded default keeps its HS256 secret: beside the SQLite database file."""
    url = make_url(settings.database_url)
    if not url.get_backend_name().startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    database = Path(url.database or "")
    return database.with_name(database.name + SECRET_FILE_SUFFIX)


def _read_or_create_secret(path: Path) -> bytes:
    # O_EXCL makes the first of several processes (serve, token) the creator; the others read its file.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes().strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise AuthConfigurationError(f"the secret in {path} is too short; delete the file to renew it") from None
        return secret
    secret = secrets.token_urlsafe(48).encode()
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret + b"\n")
    log.info("created the demo token secret %s", path)
    return secret


def resolve_secret(settings: Settings) -> bytes | None:
    """The HS256 secret: configured, or the demo's file beside the database; None when there is none."""
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value().encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise AuthConfigurationError(f"PERFHUB_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return secret
    if not settings.demo:
        return None
    path = secret_file_path(settings)
    if path is None:
        # No database file to sit beside: tokens are good for this process only.
        log.warning("no PERFHUB_JWT_SECRET and no SQLite file: using a secret that lives only in this process")
        return _process_secret()
    return _read_or_create_secret(path)


@functools.cache
def _process_secret() -> bytes:
    return secrets.token_urlsafe(48).encode()


def _numeric_date(claims: dict[str, object], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 2) as seconds since the epoch, None when absent.

    PyJWT reads ``exp``, ``iat`` and ``nbf`` with ``int()``, so the string ``"1700000000"`` and ``true``
    pass its checks; the Principal, which only believes numbers, then had no expiry, and a WebSocket
    held by such a token never expired. Only a JSON number is a date here, on every transport.
    """
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationError("invalid claims")
    return float(value)


def _check_lifetime(claims: dict[str, object], max_ttl_seconds: int, leeway_seconds: float) -> dt.datetime:
    """The token's expiry, once its claims are numbers and its lifetime is within the maximum.

    The lifetime is ``exp - iat``; a token without ``iat`` is judged by what is left of it, ``exp - now``.
    """
    expiry = _numeric_date(claims, "exp")
    issued = _numeric_date(claims, "iat")
    _numeric_date(claims, "nbf")
    if expiry is None:
        raise AuthenticationError("invalid claims")
    start = issued if issued is not None else dt.datetime.now(dt.UTC).timestamp()
    if expiry - start > max_ttl_seconds + (0 if issued is not None else leeway_seconds):
        raise AuthenticationError("token lifetime exceeds the maximum")
    try:
        return dt.datetime.fromtimestamp(expiry, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise AuthenticationError("invalid claims") from None


def _printable(text: str) -> bool:
    """True for text the hub may store and show: printable, so without NUL, control characters or lone
    surrogates (JSON's \\ud800 decodes to one, which no database encoding can store, and PostgreSQL refuses NUL)."""
    return text.isprintable()


def _claims_to_principal(claims: dict[str, object], expires_at: dt.datetime) -> Principal:
    subject = claims.get("sub")
    roles = claims.get("roles")
    employee_number = claims.get("employee_no")
    grants = claims.get("grants", [])
    if not isinstance(subject, str) or not subject or not isinstance(roles, list) or not roles:
        raise AuthenticationError("invalid claims")
    if employee_number is not None and not isinstance(employee_number, str):
        raise AuthenticationError("invalid claims")
    if not _printable(subject) or (employee_number is not None and not _printable(employee_number)):
        raise AuthenticationError("invalid claims")
    # What the audit stores of a principal is bounded: an entry must never fail for the token's size.
    if len(subject) > MAX_SUBJECT_CHARS or (employee_number is not None and len(employee_number) > MAX_SUBJECT_CHARS):
        raise AuthenticationError("invalid claims")
    if not isinstance(grants, list):
        raise AuthenticationError("invalid claims")
    try:
        parsed_roles = frozenset(Role(role) for role in roles)
    except ValueError:
        raise AuthenticationError("unknown role") from None
    try:
        parsed_grants = frozenset(Grant(grant) for grant in grants)
    except ValueError:
        raise AuthenticationError("unknown grant") from None
    if binds_a_person_pseudonymously(parsed_roles, parsed_grants, employee_number):
        raise AuthenticationError("an analyst token without the names grant must not name an employee")
    return Principal(
        subject=subject,
        roles=parsed_roles,
        employee_number=employee_number,
        grants=parsed_grants,
        expires_at=expires_at,
    )


def binds_a_person_pseudonymously(
    roles: frozenset[Role], grants: frozenset[Grant], employee_number: str | None
) -> bool:
    """A token that would be the access policy's pseudonymous analyst (``hub.policy.is_pseudonymous``: analyst,
    without the names grant and without a role that sees every name) and a person at once. Such a token is
    refused: its person half would see the ids of the people around it (its manager, its reports, whom it rates)
    beside their names, and its analyst half would read their scores by those same pseudonyms. Such a person
    holds two tokens, and the analyst one names nobody."""
    sees_names = Grant.NAMES in grants or not roles.isdisjoint({Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING})
    return Role.ANALYST in roles and not sees_names and employee_number is not None


_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "invalid issuer"),
    (jwt.InvalidAudienceError, "invalid audience"),
    (jwt.MissingRequiredClaimError, "invalid claims"),
)


class Authenticator:
    """Turns an ``Authorization`` header into a Principal: HS256 with a secret, RS256/ES256 with a JWKS.

    Built once per process; a JWKS URL's keys are fetched on first use and cached. ``authenticate``
    may then block on that fetch, so async callers with a URL run it in a thread (see
    :attr:`may_block`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        algorithms = set(settings.jwt_algorithms)
        self._hmac_algorithms = {name for name in algorithms if name.startswith("HS")}
        self._key_algorithms = algorithms - self._hmac_algorithms
        self._secret = resolve_secret(settings) if self._hmac_algorithms else None
        self._jwks: PyJWKSet | None = None
        self._jwks_client: PyJWKClient | None = None
        if settings.jwks_file is not None:
            try:
                self._jwks = PyJWKSet.from_json(settings.jwks_file.read_text(encoding="utf-8"))
            except (OSError, ValueError, jwt.PyJWTError) as error:
                raise AuthConfigurationError(f"cannot read the JWKS file {settings.jwks_file}: {error}") from error
        if settings.jwks_url:
            self._jwks_client = PyJWKClient(
                settings.jwks_url, cache_jwk_set=True, lifespan=settings.jwks_cache_seconds, timeout=10
            )
        # Keys fetched from a URL may be rotated away while the process runs: their tokens are verified every time.
        self._verified = None if self._jwks_client is not None else VerifiedTokens(settings.jwt_leeway_seconds)
        has_key_set = self._jwks is not None or self._jwks_client is not None
        if self._secret is None and not (has_key_set and self._key_algorithms):
            raise AuthConfigurationError(
                "no key to verify bearer tokens: set PERFHUB_JWT_SECRET, PERFHUB_JWKS_FILE or PERFHUB_JWKS_URL "
                "(or run in demo mode)"
            )

    @property
    def may_block(self) -> bool:
        """True when verifying may fetch keys over the network."""
        return self._jwks_client is not None

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The caller behind the header: ANONYMOUS without one; AuthenticationError when it is refused."""
        if authorization_header is None or not authorization_header.strip():
            return ANONYMOUS
        scheme, _, token = authorization_header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError("unsupported scheme")
        token = token.strip()
        # A JWS compact serialisation is ASCII (base64url and dots): anything else, a lone surrogate a
        # WebSocket's connection_init may carry included, is refused before PyJWT encodes it.
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise AuthenticationError("invalid token")
        if self._verified is not None:
            known = self._verified.get(token, dt.datetime.now(dt.UTC))
            if known is not None:
                return known
        principal = self._verify(token)
        if self._verified is not None:
            self._verified.keep(token, principal)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            key = self._key_for(algorithm, header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except jwt.InvalidTokenError as error:
            raise AuthenticationError(_reason(error)) from None
        except jwt.PyJWKClientError as error:  # the key set could not be fetched or has no such key
            log.warning("JWKS lookup failed: %s", error)
            raise AuthenticationError("unknown signing key") from None
        expires_at = _check_lifetime(claims, self.settings.max_token_ttl_seconds, self.settings.jwt_leeway_seconds)
        return _claims_to_principal(claims, expires_at)

    def _key_for(self, algorithm: object, kid: object) -> PyJWK | bytes:
        if isinstance(algorithm, str) and algorithm in self._hmac_algorithms and self._secret is not None:
            return self._secret
        if not isinstance(algorithm, str) or algorithm not in self._key_algorithms:
            raise jwt.InvalidAlgorithmError("algorithm not accepted")
        if self._jwks_client is not None:
            if not isinstance(kid, str):
                raise AuthenticationError("unknown signing key")
            return self._jwks_client.get_signing_key(kid)
        if self._jwks is not None:
            if isinstance(kid, str):
                try:
                    return self._jwks[kid]
                except KeyError:
                    raise AuthenticationError("unknown signing key") from None
            if len(self._jwks.keys) == 1:  # a single-key set needs no kid
                return self._jwks.keys[0]
        raise AuthenticationError("unknown signing key")


def _reason(error: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid token"


def issue_token(
    settings: Settings,
    *,
    role: Role,
    employee_number: str | None = None,
    subject: str | None = None,
    grants: Iterable[Grant] = (),
    ttl: int | None = None,
    now: dt.datetime | None = None,
) -> str:
    """An HS256 token for the demo and for tests, signed with the secret the hub verifies with.

    Raises TokenTooLong for a lifetime past ``PERFHUB_MAX_TOKEN_TTL_SECONDS``: the hub would refuse it.
    """
    lifetime = settings.token_ttl_seconds if ttl is None else ttl
    if lifetime > settings.max_token_ttl_seconds:
        raise TokenTooLong(
            f"a token may live at most {settings.max_token_ttl_seconds} s (PERFHUB_MAX_TOKEN_TTL_SECONDS); "
            f"asked for {lifetime} s"
        )
    secret = resolve_secret(settings)
    if secret is None:
        raise AuthConfigurationError("perfhub signs tokens with HS256 only: set PERFHUB_JWT_SECRET or use demo mode")
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject or employee_number or f"demo-{role.value}",
        "iat": issued,
        "exp": issued + dt.timedelta(seconds=lifetime),
        "roles": [role.value],
        "grants": sorted(Grant(grant).value for grant in grants),
    }
    if employee_number is not None:
        claims["employee_no"] = employee_number
    return jwt.encode(claims, secret, algorithm="HS256")
