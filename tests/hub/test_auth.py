"""Bearer tokens: HS256 with a secret, RS256/ES256 with a JWKS file or URL, and every way a token is refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import itertools
import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from hub import policy
from hub.auth import (
    ANONYMOUS,
    AuthConfigurationError,
    AuthenticationError,
    Authenticator,
    Grant,
    Principal,
    Role,
    issue_token,
    secret_file_path,
)
from hub.config import Settings
from tests.conftest import TEST_SECRET, make_settings


def now() -> dt.datetime:
    # Read at each use: a module imported minutes before its test runs (a busy machine, many workers) must not
    # sign tokens that have already expired, or whose not-before has already passed.
    return dt.datetime.now(dt.UTC)


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid claim set for the default issuer and audience; overrides replace or (with None) remove."""
    values: dict[str, Any] = {
        "iss": "perfhub",
        "aud": "perfhub",
        "sub": "someone",
        "exp": now() + dt.timedelta(minutes=5),
        "roles": ["employee"],
        "employee_no": "E000012",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def bearer(token: str) -> str:
    return f"Bearer {token}"


def refusal(authenticator: Authenticator, header: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        authenticator.authenticate(header)
    return caught.value.reason


@pytest.fixture
def hs256() -> Authenticator:
    return Authenticator(make_settings())


def test_hs256_token_from_issue_token_gives_the_principal(hs256: Authenticator) -> None:
    """A token perfhub issued verifies, and its claims become the Principal, its expiry included."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    token = issue_token(hs256.settings, role=Role.ANALYST, subject="ana", grants=[Grant.NAMES], ttl=600, now=now)
    assert hs256.authenticate(bearer(token)) == Principal(
        subject="ana",
        roles=frozenset({Role.ANALYST}),
        employee_number=None,
        grants=frozenset({Grant.NAMES}),
        expires_at=now + dt.timedelta(seconds=600),
    )


def test_employee_token_carries_the_employee_number(hs256: Authenticator) -> None:
    """`employee_no` binds the principal to a person; the subject defaults to it."""
    token = issue_token(hs256.settings, role=Role.EMPLOYEE, employee_number="E000012")
    principal = hs256.authenticate(bearer(token))
    assert (principal.subject, principal.employee_number, principal.roles) == (
        "E000012",
        "E000012",
        frozenset({Role.EMPLOYEE}),
    )


def test_several_roles_in_one_token(hs256: Authenticator) -> None:
    """The roles claim is a list; a person may be both employee and manager."""
    token = jwt.encode(claims(roles=["employee", "manager"]), TEST_SECRET, algorithm="HS256")
    assert hs256.authenticate(bearer(token)).roles == {Role.EMPLOYEE, Role.MANAGER}


ROLE_SETS = [frozenset(combo) for size in (1, 2) for combo in itertools.combinations(Role, size)]


@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda roles: "+".join(sorted(role.value for role in roles)))
@pytest.mark.parametrize("grants", [[], ["names"]])
def test_a_pseudonymous_analyst_token_names_nobody(
    hs256: Authenticator, roles: frozenset[Role], grants: list[str]
) -> None:
    """A person's ids beside their names (their manager, reports, whom they rate) and an analyst's scores by those
    pseudonyms, in one token, would name scores: such a token is refused whatever else it holds."""
    role_names = sorted(role.value for role in roles)
    would_be = Principal("someone", roles, "E000012", frozenset(Grant(grant) for grant in grants))
    token = jwt.encode(claims(roles=role_names, grants=grants), TEST_SECRET, algorithm="HS256")
    if policy.is_pseudonymous(would_be):
        with pytest.raises(AuthenticationError, match="must not name an employee"):
            hs256.authenticate(bearer(token))
        # The same roles naming nobody are the analyst's token as it should be.
        anonymous = jwt.encode(
            claims(roles=role_names, grants=grants, employee_no=None), TEST_SECRET, algorithm="HS256"
        )
        assert hs256.authenticate(bearer(anonymous)).roles == roles
    else:
        assert hs256.authenticate(bearer(token)).employee_number == "E000012"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_header_is_the_anonymous_principal(hs256: Authenticator, header: str | None) -> None:
    """No token is not an error: it is ANONYMOUS, which the app lets do almost nothing."""
    assert hs256.authenticate(header) is ANONYMOUS


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic dXNlcjpwYXNz", "unsupported scheme"),
        ("Bearer", "invalid token"),
        ("Bearer not-a-jwt", "invalid token"),
        ("Bearer " + "a" * 10_000, "invalid token"),
    ],
)
def test_malformed_headers_are_refused(hs256: Authenticator, header: str, reason: str) -> None:
    """A header that is not a bearer JWT gets a short reason."""
    assert refusal(hs256, header) == reason


def test_bearer_scheme_is_case_insensitive(hs256: Authenticator) -> None:
    """RFC 7235: the auth scheme is case-insensitive."""
    token = issue_token(hs256.settings, role=Role.HR_ADMIN)
    assert hs256.authenticate(f"bearer {token}").has(Role.HR_ADMIN)


def test_expired_token_is_refused(hs256: Authenticator) -> None:
    """Past `exp` plus the leeway, the token is expired."""
    token = issue_token(hs256.settings, role=Role.HR_ADMIN, ttl=-120)
    assert refusal(hs256, bearer(token)) == "token expired"


def test_leeway_absorbs_clock_skew() -> None:
    """A token expired 10 s ago passes with 30 s of leeway and fails with none."""
    token = issue_token(make_settings(), role=Role.HR_ADMIN, ttl=-10)
    assert Authenticator(make_settings(jwt_leeway_seconds=30)).authenticate(bearer(token)).has(Role.HR_ADMIN)
    assert refusal(Authenticator(make_settings(jwt_leeway_seconds=0)), bearer(token)) == "token expired"


def test_token_not_yet_valid_is_refused(hs256: Authenticator) -> None:
    """`nbf` in the future beyond the leeway: not yet valid."""
    token = jwt.encode(claims(nbf=now() + dt.timedelta(minutes=5)), TEST_SECRET, algorithm="HS256")
    assert refusal(hs256, bearer(token)) == "token not yet valid"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "someone-else"}, "invalid issuer"),
        ({"aud": "another-api"}, "invalid audience"),
        ({"iss": None}, "invalid claims"),
        ({"aud": None}, "invalid claims"),
        ({"exp": None}, "invalid claims"),
        ({"sub": None}, "invalid claims"),
        ({"roles": []}, "invalid claims"),
        ({"roles": "hr_admin"}, "invalid claims"),
        ({"roles": ["ceo"]}, "unknown role"),
        ({"roles": ["employee", "root"]}, "unknown role"),
        ({"grants": ["everything"]}, "unknown grant"),
        ({"employee_no": 12}, "invalid claims"),
    ],
)
def test_bad_claims_are_refused(hs256: Authenticator, overrides: dict[str, Any], reason: str) -> None:
    """Issuer, audience, expiry and subject are required and checked; roles and grants must be known."""
    token = jwt.encode(claims(**overrides), TEST_SECRET, algorithm="HS256")
    assert refusal(hs256, bearer(token)) == reason


def test_wrong_secret_is_an_invalid_token(hs256: Authenticator) -> None:
    """A signature made with another key: invalid, and the reason does not say more."""
    token = jwt.encode(claims(), "another-secret-that-is-long-enough-to-use!", algorithm="HS256")
    assert refusal(hs256, bearer(token)) == "invalid token"


def test_unsigned_token_is_refused(hs256: Authenticator) -> None:
    """alg=none never passes."""
    token = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    assert refusal(hs256, bearer(token)) == "invalid token"


def test_algorithm_not_accepted_is_refused(tmp_path: Path) -> None:
    """With only RS256 accepted, an HS256 token is refused even though the secret would verify it."""
    private = rsa_key()
    path = write_jwks(tmp_path / "jwks.json", jwk(private.public_key(), "idp-1", "RS256"))
    authenticator = Authenticator(make_settings(jwt_algorithms=("RS256",), jwks_file=path))
    token = jwt.encode(claims(), TEST_SECRET, algorithm="HS256")
    assert refusal(authenticator, bearer(token)) == "invalid token"


def test_only_asymmetric_algorithms_without_a_key_set_refuse_to_start() -> None:
    """RS256 accepted but no JWKS configured: nothing could verify a token, so the hub does not start."""
    with pytest.raises(AuthConfigurationError):
        Authenticator(make_settings(jwt_algorithms=("RS256",)))


# --- Key sets -----------------------------------------------------------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(public_key: Any, kid: str, algorithm: str) -> dict[str, Any]:
    kind = RSAAlgorithm if algorithm.startswith("RS") else ECAlgorithm
    key: dict[str, Any] = json.loads(kind.to_jwk(public_key))
    return {**key, "kid": kid, "alg": algorithm, "use": "sig"}


def write_jwks(path: Path, *keys: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(keys)}), encoding="utf-8")
    return path


def jwks_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"demo": False, "jwt_secret": None, **overrides}
    return Settings(**values)


def test_rs256_with_a_jwks_file(tmp_path: Path) -> None:
    """An identity provider's RS256 token verifies against its public key from a JWKS file."""
    private = rsa_key()
    path = write_jwks(tmp_path / "jwks.json", jwk(private.public_key(), "idp-1", "RS256"))
    authenticator = Authenticator(jwks_settings(jwks_file=path))
    token = jwt.encode(
        claims(roles=["payroll"], sub="payroll-system"), private, algorithm="RS256", headers={"kid": "idp-1"}
    )
    principal = authenticator.authenticate(bearer(token))
    assert (principal.subject, principal.roles) == ("payroll-system", frozenset({Role.PAYROLL}))


def test_es256_with_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    """With several keys in the set (a rotation), the token's `kid` picks the one."""
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    path = write_jwks(
        tmp_path / "jwks.json", jwk(old.public_key(), "old", "ES256"), jwk(new.public_key(), "new", "ES256")
    )
    authenticator = Authenticator(jwks_settings(jwks_file=path))
    token = jwt.encode(claims(roles=["training"]), new, algorithm="ES256", headers={"kid": "new"})
    assert authenticator.authenticate(bearer(token)).roles == {Role.TRAINING}
    signed_by_other = jwt.encode(claims(), new, algorithm="ES256", headers={"kid": "old"})
    assert refusal(authenticator, bearer(signed_by_other)) == "invalid token"


def test_unknown_kid_is_refused(tmp_path: Path) -> None:
    """A key id that is not in the set names no key."""
    private = rsa_key()
    path = write_jwks(tmp_path / "jwks.json", jwk(private.public_key(), "idp-1", "RS256"))
    token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": "idp-9"})
    assert refusal(Authenticator(jwks_settings(jwks_file=path)), bearer(token)) == "unknown signing key"


def test_public_key_used_as_hmac_secret_is_refused(tmp_path: Path) -> None:
    """Algorithm confusion: an HS256 token MACed with the published RSA key (PEM) does not pass."""
    private = rsa_key()
    public = private.public_key()
    path = write_jwks(tmp_path / "jwks.json", jwk(public, "idp-1", "RS256"))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "idp-1"}
    body = claims(exp=int((now() + dt.timedelta(minutes=5)).timestamp()))
    signing_input = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(body).encode())
    forged = signing_input + b"." + b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
    assert refusal(Authenticator(jwks_settings(jwks_file=path)), bearer(forged.decode())) == "invalid token"


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b"{}"
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    handler = type("Handler", (_JwksHandler,), {"hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_rs256_with_a_jwks_url_fetches_once_and_caches(jwks_server: tuple[str, type[_JwksHandler]]) -> None:
    """Keys from the provider's URL are fetched on first use and cached for the next tokens."""
    url, handler = jwks_server
    private = rsa_key()
    handler.body = json.dumps({"keys": [jwk(private.public_key(), "idp-1", "RS256")]}).encode()
    authenticator = Authenticator(jwks_settings(jwks_url=url))
    assert authenticator.may_block
    for subject in ("a", "b", "c"):
        token = jwt.encode(claims(sub=subject), private, algorithm="RS256", headers={"kid": "idp-1"})
        assert authenticator.authenticate(bearer(token)).subject == subject
    assert handler.hits == 1


# --- Configuration --------------------------------------------------------------------------------------


def test_non_demo_without_a_key_refuses_to_start() -> None:
    """Production without PERFHUB_JWT_SECRET or a JWKS: the hub does not start."""
    with pytest.raises(AuthConfigurationError, match="PERFHUB_JWT_SECRET"):
        Authenticator(Settings(demo=False, jwt_secret=None))


def test_short_secret_refuses_to_start() -> None:
    """An HS256 secret shorter than 32 bytes is guessable: refused at start."""
    with pytest.raises(AuthConfigurationError, match="32 bytes"):
        Authenticator(make_settings(jwt_secret="short"))


def test_unreadable_jwks_file_refuses_to_start(tmp_path: Path) -> None:
    """A JWKS file that is missing or not JSON is a start-up error, not a stream of 401s."""
    (tmp_path / "bad.json").write_text("not json", encoding="utf-8")
    for path in (tmp_path / "missing.json", tmp_path / "bad.json"):
        with pytest.raises(AuthConfigurationError, match="JWKS"):
            Authenticator(jwks_settings(jwks_file=path))


def test_demo_secret_file_is_created_private_and_shared(tmp_path: Path) -> None:
    """In demo mode without a secret, one is made beside the SQLite file (0600) and every process reads it."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'perfhub.db'}", demo=True, jwt_secret=None)
    serving = Authenticator(settings)  # `perfhub serve` makes the file
    path = secret_file_path(settings)
    assert path == tmp_path / "perfhub.db.jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = issue_token(settings, role=Role.MANAGER, employee_number="E000001")  # `perfhub token`, later
    assert serving.authenticate(bearer(token)).employee_number == "E000001"
    assert Authenticator(settings).authenticate(bearer(token)).has(Role.MANAGER)
    assert path.read_bytes() == path.read_bytes().strip() + b"\n"


def test_issue_token_without_a_secret_is_refused(tmp_path: Path) -> None:
    """perfhub signs HS256 only: a JWKS-only deployment cannot mint tokens with it."""
    with pytest.raises(AuthConfigurationError):
        issue_token(Settings(demo=False, jwt_secret=None), role=Role.HR_ADMIN)
