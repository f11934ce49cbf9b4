"""Settings from the environment (prefix ``PERFHUB_``): one immutable Settings object per process."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.appraisal import GradeBands


class Introspection(StrEnum):
    """Who may ask ``__schema`` / ``__type``."""

    OFF = "false"
    """Nobody."""
    TOKEN = "true"
    """Callers with a valid token; an anonymous caller gets 401."""
    PUBLIC = "public"
    """Anyone, without a token too (a public schema)."""


_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
"""The async driver of each database URL scheme given without one."""

_BOOLEAN_WORDS = {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false", "off": "false"}


class Settings(BaseSettings):
    """Everything a deployment can configure; the defaults are the embedded demo."""

    model_config = SettingsConfigDict(env_prefix="PERFHUB_", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./perfhub.db"
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///FILE`` or ``postgresql+asyncpg://USER@HOST/DB``; the plain
    ``sqlite:///FILE`` and ``postgresql://...`` (or ``postgres://``) people type get those drivers."""
    # How long anything waits for the database before answering DATABASE_UNAVAILABLE: without these a
    # network partition holds every request (and /readyz) until it heals.
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """Opening a connection to the database server (PostgreSQL)."""
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    """Waiting for a free connection when the pool is exhausted."""
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    """One statement: PostgreSQL's ``statement_timeout``, with the client giving up a moment later on a silent
    connection; on SQLite, how long a statement waits for a lock."""
    database_connections: int = Field(default=32, ge=1)
    """The connections the served hub keeps to PostgreSQL, in all: each of its ``workers`` processes pools its
    share (at least 4), and runs as many GraphQL requests at once, a query reading through one (``hub.db.lease``).
    No overflow connections beyond it: one is opened for a single checkout and closed at its checkin, which under
    load churns a connection per request."""
    operation_queue_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a GraphQL request over HTTP waits for its turn when its process already runs as many as it has
    pooled connections (PostgreSQL; ``hub.admission``); then 503 ``SERVER_BUSY`` with ``Retry-After``."""
    workers: int = Field(default=1, ge=1)
    """Processes serving HTTP (``perfhub serve --workers N``), each with its own event loop, pool and worker
    process; about one per core."""
    worker_process: bool = True
    """Score cycles and import metric values for API callers in a worker process, so that the event loop
    keeps answering everyone else; false runs them in the hub's own process (an in-memory SQLite always does)."""
    read_statement_timeout_seconds: float = Field(default=10.0, gt=0)
    """One statement of a query or a subscription over the API (PostgreSQL; the served hub's connections'
    own statement_timeout): a read that would run longer is cancelled and answered DATABASE_UNAVAILABLE, so
    that an expensive query cannot hold the database for the full statement timeout, which mutations keep."""
    read_database_url: str | None = None
    """A read replica of the database (same URL forms as ``database_url``): analysts' queries read from it, so that
    their aggregations do not load the primary; their audit entries, and everyone else, still use the primary. Its
    connections are read-only (a write there fails rather than diverging from the primary). Unset: the primary."""
    analyst_statement_timeout_seconds: float = Field(default=5.0, gt=0)
    """One statement of an analyst's query (PostgreSQL, at most the statement timeout): past it the statement is
    cancelled and the field answers STATEMENT_TIMEOUT, so that an ad-hoc question cannot hold the database."""
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
    insights_target_distribution: tuple[float, float, float, float, float] = (0.10, 0.20, 0.40, 0.20, 0.10)
    """The share of results grades S, A, B, C and D should take, drawn by /insights beside each post's grades
    (the hub stores no target: calibration takes one per call), e.g. '[0.1,0.2,0.4,0.2,0.1]'."""
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
    """Tokens per second refilled into each person's bucket (0 turns the limit off); an operation takes one
    token per ``rate_limit_cost_unit`` of its estimated cost, at least one."""
    rate_limit_burst: int = 60
    """Tokens a person's bucket holds: what they may spend at once before the sustained rate applies."""
    rate_limit_cost_unit: int = Field(default=1000, gt=0)
    """The estimated cost one token pays for: a query of cost 40,000 takes 40 tokens, one of cost 300 one."""
    rate_limit_redis_url: str | None = None
    """``redis://HOST:PORT/DB`` to keep the rate-limit buckets in Redis, shared by every hub process; in
    process when unset (each process then allows the rate)."""
    refusal_delay_seconds: float = Field(default=1.0, ge=0)
    """How long a request refused 429 (rate limit, failed authentications) waits for its answer: a flood
    that waits for each answer is slowed to one request per connection and delay. 0: answer at once."""
    auth_failures_per_minute: int = 30
    """Failed authentications a client address may make per minute (burst as much); past it, 429 without
    the token being looked at. 0 turns the limit off."""
    max_subscriptions: int = 5
    """Live subscriptions one person (or system principal) may hold in a process; 0: no limit."""
    max_subscriptions_per_process: int = 1000
    """Live subscriptions one hub process holds at most, whoever asks; 0: no limit."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """``perfhub serve``: a connection whose request headers are not complete within this is closed
    (a fresh connection, or an idle keep-alive one); trickled headers cannot hold a connection open."""
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    """A request body must have arrived in full within this once its headers have; else 408."""
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
    persisted_documents: Path | None = None
    """A folder of the portals' GraphQL documents (``*.graphql``, one operation or more each), registered at start-up
    by the SHA-256 of their text beside the insights page's own (``hub/persisted.py``): a client may send the hash
    instead of the text, and a registered document is parsed and validated once per process, not per request."""
    persisted_only: bool = False
    """Production's safelist: run only registered documents. Any other text is refused before it is parsed
    (400 ``PERSISTED_QUERY_NOT_IN_LIST``; a client's attempt to register one automatically, Apollo's APQ, 400
    ``PERSISTED_QUERY_NOT_SUPPORTED``), introspection and GraphiQL's queries included. False: a request carrying
    a hash and its text registers that text in the process (automatic persisted queries, as Apollo does)."""
    compiled_plans: bool = True
    """Answer the registered documents of the portal page's shape by a compiled plan (``schema/compiled.py``), which
    builds the response from the loaded rows without graphql-core's per-field execution and falls back to the
    executor wherever the answer would be anything but plain data. False: every document runs through the executor."""
    persisted_learned_max: int = Field(default=1000, ge=0)
    """How many documents a process keeps of those clients registered automatically (least recently used go)."""
    introspection: Introspection = Introspection.TOKEN
    """Who may introspect: ``true`` (callers with a token; GraphiQL's docs load once a token is in its
    Headers tab), ``public`` (anyone) or ``false`` (nobody). Introspection is depth- and cost-limited and
    rate-limited like any query either way."""

    # Results out.
    event_poll_seconds: float = 1.0
    """How often a hub process looks for new result events in the outbox when no notification came."""
    events_redis_url: str | None = None
    """``redis://HOST:PORT/DB``: hub processes also wake each other through a Redis channel when they commit new
    result events (PUBLISH after the commit, the outbox watcher SUBSCRIBEs); the one way for several processes
    on SQLite, which has no LISTEN/NOTIFY. A lost message, or Redis away, only delays events until the poll.
    The process's outbox watcher (``outbox_watcher``, on by default) publishes and listens: off, neither."""
    events_redis_channel: str = "perfhub:outbox"
    """The Redis channel of new result events: the same for every process on one database, another for each
    deployment sharing the Redis."""
    outbox_watcher: bool = True
    """One watcher of the outbox per process that idle subscriptions wait on (``hub.events.watcher``); false:
    each subscription polls the outbox itself every ``event_poll_seconds`` (the in-process tests, whose
    statement counts must not see the watcher's reads)."""
    subscription_buffer: int = Field(default=10_000, ge=1)
    """How many of the newest result events a hub process keeps for its live subscriptions (one log shared by
    all of them, read once per page: ``hub.events.fanout``). A subscription further behind reads the outbox
    itself, a page of 1,000 at a time, until it is back within it."""
    subscription_stall_seconds: float = Field(default=30.0, gt=0)
    """A subscription behind everything the process keeps that has not taken an event for this long (its client
    stopped reading the socket) is ended: SUBSCRIBER_TOO_SLOW with lastCursor, close code 4413."""
    webhooks: bool = True
    """Run the webhook delivery worker in ``perfhub serve`` (false: endpoints can still be managed, and another
    hub process on the same database delivers)."""
    webhook_retry_seconds: tuple[Annotated[float, Field(ge=0)], ...] = Field(
        default=(5, 30, 120, 600, 1800, 7200, 18000, 36000), min_length=1
    )
    """The delay before each retry of a failed webhook delivery (jittered by up to -20%); after the last one the
    delivery is DEAD. The default retries for about 15 hours, e.g. PERFHUB_WEBHOOK_RETRY_SECONDS='[1,10,60]'."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a webhook receiver may take to answer; longer counts as a failed attempt."""
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a hub process holds a delivery it is posting; past it (the process died) another one retries it.
    Must exceed the timeout."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    """How often the webhook worker looks for new events and due retries when it has nothing to do."""
    webhook_max_retry_after_seconds: float = Field(default=86400.0, gt=0)
    """The longest a receiver's Retry-After (on 429 or 503) is honoured for."""
    webhook_allow_private_addresses: bool = False
    """Let webhook URLs point at loopback, private, link-local and other non-public addresses, and use plain
    http. Off, a URL must be https (also allowed in demo mode) and its host must be, and resolve to, public
    addresses only, when it is registered and before every attempt."""
    demo_consumers: bool = True
    """In demo mode with the sandbox systems, their training system takes training.need events by webhook and their
    payroll system result.published ones by subscription, and ``perfhub serve`` prints a line per event handled
    (``hub.demo.systems.consumers``)."""
    demo_webhook_targets: tuple[str, ...] = ()
    """The demo's own receivers that webhooks may post to although they are loopback: an origin
    (``http://127.0.0.1:40123``) means its receiver path only (``/webhooks/perfhub``), never another path on it.
    ``perfhub serve`` sets it to the sandbox training system it started. Ignored outside demo mode."""

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

    @model_validator(mode="after")
    def _target_distribution_is_shares(self) -> Settings:
        shares = self.insights_target_distribution
        if any(share < 0 for share in shares) or abs(sum(shares) - 1) > 1e-6:
            raise ValueError("PERFHUB_INSIGHTS_TARGET_DISTRIBUTION must be five shares from 0 that add up to 1")
        return self

    @model_validator(mode="after")
    def _webhook_lease_outlasts_a_post(self) -> Settings:
        # A lease shorter than a POST may take would let a second process post the same delivery meanwhile.
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("PERFHUB_WEBHOOK_LEASE_SECONDS must exceed PERFHUB_WEBHOOK_TIMEOUT_SECONDS")
        return self

    @field_validator("database_url", "read_database_url", mode="after")
    @classmethod
    def _with_an_async_driver(cls, value: str | None) -> str | None:
        # The hub runs only on its async drivers; a URL without a driver is what users type (and what most tools
        # print), and SQLAlchemy would refuse it with a traceback about the asyncio extension.
        if value is None:
            return None
        scheme, separator, rest = value.partition("://")
        driver = _ASYNC_DRIVERS.get(scheme.lower()) if separator else None
        return f"{driver}://{rest}" if driver else value

    @field_validator("introspection", mode="before")
    @classmethod
    def _introspection_from_bool(cls, value: object) -> object:
        # Before 0.2.0 it was a boolean: what switched it on or off still does, for callers with a token.
        if isinstance(value, bool):
            return Introspection.TOKEN if value else Introspection.OFF
        if isinstance(value, str):
            word = value.strip().lower()
            return _BOOLEAN_WORDS.get(word, word)
        return value

    def bands(self) -> GradeBands:
        """The organisation's grade bands; invalid bounds fail at start-up, not at scoring time."""
        return GradeBands(*self.grade_bands)
