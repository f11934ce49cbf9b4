"""Settings from the environment (prefix ``PERFHUB_``): one immutable Settings object per process."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.appraisal import GradeBands


class Settings(BaseSettings):
    """Everything a deployment can configure; the defaults are the embedded demo."""

    model_config = SettingsConfigDict(env_prefix="PERFHUB_", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./perfhub.db"
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///FILE`` or ``postgresql+asyncpg://USER@HOST/DB``."""
    # How long anything waits for the database before answering DATABASE_UNAVAILABLE: without these a
    # network partition holds every request (and /readyz) until it heals.
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """Opening a connection to the database server (PostgreSQL)."""
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    """Waiting for a free connection when the pool is exhausted."""
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    """One statement: PostgreSQL's ``statement_timeout``, with the client giving up a moment later on a silent
    connection; on SQLite, how long a statement waits for a lock."""
    worker_process: bool = True
    """Score cycles and import metric values for API callers in a worker process, so that the event loop
    keeps answering everyone else; false runs them in the hub's own process (an in-memory SQLite always does)."""
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    """The longest /readyz waits for the database before it answers 503."""
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = True
    """Seed the demo organisation on first start when the database is empty."""
    demo_seed: int = 7
    demo_employees: int = 120
    graphiql: bool = True
    """Serve GraphiQL to browsers that GET /graphql."""
    max_page_size: int = 500
    grade_bands: tuple[float, float, float, float] = (90.0, 80.0, 70.0, 60.0)
    """The lowest total of grades S, A, B and C (below C is D), e.g. PERFHUB_GRADE_BANDS='[95,85,70,60]'."""
    log_level: str = "info"

    # Business systems (connectors).
    systems_file: Path | None = None
    """A systems file (TOML, see docs/systems.example.toml); ``perfhub serve --systems FILE`` sets it."""
    demo_systems: bool = True
    """In demo mode without a systems file, start the sandbox business systems on loopback ports."""
    connector_cache_url: str | None = None
    """``redis://HOST:PORT/DB`` to share the connectors' cache between hub processes; in process when unset."""
    connector_cache_prefix: str = "perfhub:connectors:"

    # Authentication: bearer JWTs.
    jwt_secret: SecretStr | None = None
    """HS256 secret. Unset in demo mode: a random one is kept in a 0600 file beside the SQLite database."""
    jwt_algorithms: tuple[str, ...] = ("HS256", "RS256", "ES256")
    """Accepted signature algorithms; HS* needs ``jwt_secret``, RS*/ES* need a JWKS."""
    jwks_file: Path | None = None
    """A JWKS document on disk holding the identity provider's public keys."""
    jwks_url: str | None = None
    """The identity provider's JWKS endpoint; keys are cached for ``jwks_cache_seconds``."""
    jwks_cache_seconds: int = 300
    jwt_issuer: str = "perfhub"
    """Required ``iss`` claim."""
    jwt_audience: str = "perfhub"
    """Required ``aud`` claim."""
    jwt_leeway_seconds: float = 30.0
    """Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""
    token_ttl_seconds: int = 8 * 3600
    """Lifetime of the tokens ``perfhub token`` and ``perfhub serve`` print."""
    max_token_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    """The longest lifetime of a token the hub accepts (``exp - iat``; ``exp - now`` without ``iat``): a stolen
    token is good for at most this long. ``perfhub token`` refuses to mint a longer one."""

    # Limits on abusive requests.
    rate_limit_per_second: float = 20.0
    """Sustained requests per second per principal (0 turns the limit off); per process."""
    rate_limit_burst: int = 60
    """Requests a principal may make at once before the sustained rate applies."""
    max_body_bytes: int = 1024 * 1024
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 50_000
    """Upper bound of the estimated cost of one operation (fields x list sizes, system calls weighted)."""
    cost_list_size: int = 10
    """The cost estimate's guess for a list without a ``first`` argument."""
    cost_system_field: int = 10
    """The cost of one field fed by a business system, relative to a database field's 1."""
    introspection: bool = True
    """Answer ``__schema`` / ``__type``; switch off in production if the schema is not public."""

    # Results out.
    event_poll_seconds: float = 1.0
    """How often a live subscription looks for new result events in the outbox."""

    # Privacy.
    min_group_size: int = 5
    """scoreStatistics answers no group smaller than this, so an average cannot reveal one person's score."""
    min_anonymous_raters: int = Field(default=3, ge=1)
    """Peer and subordinate ratings reach the ratee and their managers only when at least this many distinct
    raters of the role rated (per ratee and cycle): fewer, and the ratee could tell who wrote them."""
    id_key: SecretStr | None = None
    """Key (32 bytes or more) of the ids, cursors and checksums that analysts without the names grant see;
    derived from the HS256 token secret when unset, so it must be set when tokens are verified by a JWKS."""

    @model_validator(mode="after")
    def _tokens_within_their_maximum(self) -> Settings:
        # The tokens perfhub serve prints must be tokens it accepts.
        if self.token_ttl_seconds > self.max_token_ttl_seconds:
            raise ValueError("PERFHUB_TOKEN_TTL_SECONDS must not exceed PERFHUB_MAX_TOKEN_TTL_SECONDS")
        return self

    def bands(self) -> GradeBands:
        """The organisation's grade bands; invalid bounds fail at start-up, not at scoring time."""
        return GradeBands(*self.grade_bands)
