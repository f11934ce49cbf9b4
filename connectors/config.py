"""The systems file: which business systems feed the hub, how to reach them and how hard to try.

The format is documented by ``docs/systems.example.toml``. Parsing is strict on purpose: a typo in a
key would otherwise silently fall back to a default (or drop a metric) and only show up as wrong
numbers in an appraisal. Secrets are read from the environment variables that ``*_env`` keys name;
a secret written into the file itself is refused, and no error message ever contains a secret.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar, get_args, get_type_hints
from urllib.parse import urlsplit

from connectors.base import ConfigurationError
from connectors.config_reader import TableReader

Kind = Literal["rest", "xapi", "odata"]
IdsStyle = Literal["csv", "repeat"]
PageStyle = Literal["page", "offset", "cursor", "link", "none"]
ClientAuth = Literal["basic", "body"]
VerbFilter = Literal["lrs", "local"]

DEFAULT_MAX_PAGES = 1000
"""A server that always says "there is more" must not keep a request busy forever."""


N = TypeVar("N", int, float)


def _setting(default: N, minimum: int, *, above: bool = False) -> N:
    """A resilience setting: its default, and the least value a systems file may give it (``above``: it must be
    more than ``minimum``). The setting's type (``int`` or ``float``) is its annotation's."""
    return field(default=default, metadata={"minimum": minimum, "above": above})


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """How long to wait, how often to retry, how much to run at once and how long to trust an answer."""

    timeout: float = _setting(5.0, 0, above=True)
    retries: int = _setting(3, 0)
    backoff: float = _setting(0.2, 0)
    max_backoff: float = _setting(10.0, 0)
    concurrency: int = _setting(4, 1)
    cache_ttl: float = _setting(300.0, 0)
    stale_ttl: float = _setting(86400.0, 0)
    """Seconds after an answer stops being fresh during which it may still be served, flagged stale."""
    breaker_failures: int = _setting(5, 1)
    breaker_reset: float = _setting(30.0, 0)


_FLOAT_SETTINGS = frozenset(name for name, hint in get_type_hints(ResiliencePolicy).items() if hint is float)


@dataclass(frozen=True, slots=True)
class NoAuth:
    pass


@dataclass(frozen=True, slots=True)
class BearerAuth:
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    header: str
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OAuth2ClientCredentials:
    token_url: str
    """Relative to the system's base URL, or absolute (an identity provider elsewhere)."""
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    client_auth: ClientAuth = "basic"
    """How the client authenticates at the token endpoint: HTTP Basic (RFC 6749's must-support) or form body."""


Auth: TypeAlias = NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2ClientCredentials


@dataclass(frozen=True, slots=True)
class IdsParam:
    param: str
    style: IdsStyle = "csv"


@dataclass(frozen=True, slots=True)
class PeriodParams:
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Pagination:
    style: PageStyle = "none"
    param: str | None = None
    """page: the page number; offset: the offset; cursor: the cursor."""
    size_param: str | None = None
    size: int | None = None
    start: int = 1
    """page style only: the number of the first page."""
    next: str | None = None
    """cursor style only: JMESPath from a body to the next cursor (null or "" ends)."""
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True, slots=True)
class RestMetric:
    name: str
    path: str
    ids: IdsParam
    map: str
    """JMESPath from one response body to a list of ``{employee, value}``."""
    period: PeriodParams | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    page: Pagination = Pagination()
    has_more: str | None = None
    """page and offset styles: JMESPath to a boolean; without it a short or empty page ends."""


@dataclass(frozen=True, slots=True)
class RestConfig:
    metrics: Mapping[str, RestMetric]


@dataclass(frozen=True, slots=True)
class XapiConfig:
    verb: str
    account_home_page: str | None = None
    """Learners are account agents of this homePage, named by employee number (None: no accounts)."""
    page_size: int = 0
    """The ``limit`` asked for; 0 leaves the page size to the LRS (its largest)."""
    verb_filter: VerbFilter = "lrs"
    """lrs: the LRS filters by ``verb``; local: the parameter is not sent and the hub drops other verbs."""
    mbox_domain: str | None = None
    """Learners are also ``mailto:<employee no>@<domain>`` (compared without regard to letter case)."""
    mbox_template: str | None = None
    """Learners are also this ``mailto:`` IRI with ``{employee_no}`` replaced."""


@dataclass(frozen=True, slots=True)
class ODataConfig:
    entity_set: str
    ids_per_request: int = 40


@dataclass(frozen=True, slots=True)
class SystemConfig:
    name: str
    kind: Kind
    base_url: str
    auth: Auth
    policy: ResiliencePolicy
    details: RestConfig | XapiConfig | ODataConfig


@dataclass(frozen=True, slots=True)
class SystemsConfig:
    systems: Mapping[str, SystemConfig]
    defaults: ResiliencePolicy = ResiliencePolicy()


def load_systems_file(path: str | os.PathLike[str], environ: Mapping[str, str] = os.environ) -> SystemsConfig:
    """Reads and checks a systems file; every problem is a ``ConfigurationError`` that says where."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"systems file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"systems file {path} is not valid TOML: {exc}") from None
    return parse_systems(data, environ)


def parse_systems(data: Mapping[str, object], environ: Mapping[str, str]) -> SystemsConfig:
    """Checks an already decoded systems file and resolves its secrets from ``environ``."""
    root = TableReader(data, "")
    defaults_table = root.table("defaults")
    defaults = _policy(defaults_table, ResiliencePolicy()) if defaults_table is not None else ResiliencePolicy()
    if defaults_table is not None:
        defaults_table.done()
    systems_table = root.table("systems")
    root.done()
    systems: dict[str, SystemConfig] = {}
    if systems_table is not None:
        for name, table in systems_table.tables():
            systems[name] = _system(name, table, defaults, environ)
    _check_across_systems(systems)
    return SystemsConfig(systems=systems, defaults=defaults)


def _system(name: str, table: TableReader, defaults: ResiliencePolicy, environ: Mapping[str, str]) -> SystemConfig:
    kind = table.choice("kind", get_args(Kind))
    base_url = table.string("base_url")
    if urlsplit(base_url).scheme not in {"http", "https"} or not urlsplit(base_url).netloc:
        raise table.error("base_url", "must be an absolute http(s) URL")
    auth_table = table.table("auth")
    if auth_table is None:
        raise table.error("auth", 'is required (auth = { type = "none" } when the system needs none)')
    auth = _auth(auth_table, environ)
    # Per-system overrides use the same keys as [defaults], directly in the system's table.
    policy = _policy(table, defaults)
    details: RestConfig | XapiConfig | ODataConfig
    if kind == "rest":
        metrics_table = table.table("metrics")
        if metrics_table is None or not metrics_table.names():
            raise table.error("metrics", "a rest system needs at least one metric")
        details = RestConfig(metrics={metric: _metric(metric, reader) for metric, reader in metrics_table.tables()})
    elif kind == "xapi":
        details = _xapi(table)
    else:
        details = ODataConfig(
            entity_set=table.string("entity_set"), ids_per_request=table.integer("ids_per_request", 40)
        )
        if details.ids_per_request < 1:
            raise table.error("ids_per_request", "must be at least 1")
    table.done()
    return SystemConfig(name=name, kind=kind, base_url=base_url, auth=auth, policy=policy, details=details)


def _xapi(table: TableReader) -> XapiConfig:
    config = XapiConfig(
        verb=table.string("verb"),
        account_home_page=table.optional_string("account_home_page"),
        page_size=table.integer("page_size", 0),
        verb_filter=table.choice("verb_filter", get_args(VerbFilter), "lrs"),
        mbox_domain=table.optional_string("mbox_domain"),
        mbox_template=table.optional_string("mbox_template"),
    )
    if config.page_size < 0:
        raise table.error("page_size", "must be 0 (the LRS's largest page) or more")
    domain = config.mbox_domain
    if domain is not None and ("@" in domain or any(c.isspace() or not c.isprintable() for c in domain)):
        raise table.error("mbox_domain", 'must be a bare domain such as "example.com"')
    template = config.mbox_template
    if template is not None and (
        not template.lower().startswith("mailto:")
        or template.count("{employee_no}") != 1
        or "@" not in template
        or {"{", "}"} & set(template.replace("{employee_no}", ""))  # a misspelt placeholder stays literal
    ):
        raise table.error(
            "mbox_template", 'must be a mailto: IRI with one {employee_no}, e.g. "mailto:{employee_no}@x.com"'
        )
    if config.account_home_page is None and domain is None and template is None:
        # Without one of them no statement names a learner we know: every employee would have no training.
        raise table.error("account_home_page", "is required unless mbox_domain or mbox_template names the learners")
    return config


def _policy(table: TableReader, base: ResiliencePolicy) -> ResiliencePolicy:
    values: dict[str, float] = {}
    given = set(table.names())
    for setting in fields(ResiliencePolicy):
        key = setting.name
        if key not in given:
            continue
        value = table.number(key) if key in _FLOAT_SETTINGS else table.integer(key)
        minimum, above = setting.metadata["minimum"], setting.metadata["above"]
        if value < minimum or (value == minimum and above):
            raise table.error(key, f"must be {'more than' if above else 'at least'} {minimum}")
        values[key] = value
    return ResiliencePolicy(**{f.name: values.get(f.name, getattr(base, f.name)) for f in fields(base)})


# Each auth type's secrets: a literal ``token = "..."`` is refused, ``token_env = "VAR"`` is required.
_SECRETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("token",),
    "api_key": ("key",),
    "basic": ("username", "password"),
    "oauth2": ("client_id", "client_secret"),
}
_LITERAL_SECRETS = frozenset(
    {"token", "key", "api_key", "username", "password", "client_id", "client_secret", "secret"}
)


def _auth(table: TableReader, environ: Mapping[str, str]) -> Auth:
    literal = sorted(_LITERAL_SECRETS & set(table.names()))
    if literal:
        hint = f"name an environment variable with {literal[0]}_env"
        raise table.error(literal[0], f"secrets must not be written in the systems file; {hint}")
    kind = table.choice("type", tuple(_SECRETS))
    secrets = {name: _secret(table, name, environ) for name in _SECRETS[kind]}
    auth: Auth
    if kind == "none":
        auth = NoAuth()
    elif kind == "bearer":
        auth = BearerAuth(token=secrets["token"])
    elif kind == "api_key":
        auth = ApiKeyAuth(header=table.string("header", "X-API-Key"), key=secrets["key"])
    elif kind == "basic":
        auth = BasicAuth(username=secrets["username"], password=secrets["password"])
    else:
        auth = OAuth2ClientCredentials(
            token_url=table.string("token_url"),
            client_id=secrets["client_id"],
            client_secret=secrets["client_secret"],
            scope=table.optional_string("scope"),
            client_auth=table.choice("client_auth", get_args(ClientAuth), "basic"),
        )
    table.done()
    return auth


def _secret(table: TableReader, name: str, environ: Mapping[str, str]) -> str:
    variable = table.string(f"{name}_env")
    value = environ.get(variable)
    if not value:
        raise table.error(f"{name}_env", f"environment variable {variable} is not set")
    return value


def _metric(name: str, table: TableReader) -> RestMetric:
    path = table.string("path")
    if "://" in path:
        # The base URL decides the host: credentials must never follow a path to somewhere else.
        raise table.error("path", "must be relative to the system's base_url")
    ids_table = table.required_table("ids")
    ids = IdsParam(param=ids_table.string("param"), style=ids_table.choice("style", get_args(IdsStyle), "csv"))
    ids_table.done()
    period_table = table.table("period")
    period = None
    if period_table is not None:
        period = PeriodParams(start=period_table.string("start"), end=period_table.string("end"))
        period_table.done()
    params_table = table.table("params")
    params = {key: params_table.scalar(key) for key in params_table.names()} if params_table is not None else {}
    page_table = table.table("page")
    page = _pagination(page_table) if page_table is not None else Pagination()
    metric = RestMetric(
        name=name,
        path=path,
        ids=ids,
        map=table.jmespath("map"),
        period=period,
        params=params,
        page=page,
        has_more=table.optional_jmespath("has_more"),
    )
    if metric.has_more is not None and page.style not in {"page", "offset"}:
        raise table.error("has_more", "only applies to page and offset pagination")
    if page.style in {"page", "offset"} and metric.has_more is None and page.size is None:
        raise table.error("page", "needs a size or a has_more expression to know when to stop")
    table.done()
    return metric


def _pagination(table: TableReader) -> Pagination:
    style = table.choice("style", get_args(PageStyle))
    needs_param = style in {"page", "offset", "cursor"}
    page = Pagination(
        style=style,
        param=table.string("param") if needs_param else None,
        size_param=table.optional_string("size_param") if style != "none" else None,
        size=table.integer("size", None) if style != "none" else None,
        start=table.integer("start", 1) if style == "page" else 1,
        next=table.jmespath("next") if style == "cursor" else None,
        max_pages=table.integer("max_pages", DEFAULT_MAX_PAGES) if style != "none" else DEFAULT_MAX_PAGES,
    )
    if (page.size is None) != (page.size_param is None):
        raise table.error("size", "size and size_param go together")
    if page.size is not None and page.size < 1:
        raise table.error("size", "must be at least 1")
    if page.max_pages < 1:
        raise table.error("max_pages", "must be at least 1")
    table.done()
    return page


def _check_across_systems(systems: Mapping[str, SystemConfig]) -> None:
    owners: dict[str, str] = {}
    for system in systems.values():
        if isinstance(system.details, RestConfig):
            for metric in system.details.metrics:
                if metric in owners:
                    raise ConfigurationError(f"metric {metric!r} is defined by both {owners[metric]} and {system.name}")
                owners[metric] = system.name
    for kind, role in (("xapi", "training"), ("odata", "compensation")):
        named = [system.name for system in systems.values() if system.kind == kind]
        if len(named) > 1:
            raise ConfigurationError(f"only one {kind} system may feed {role} records, found {', '.join(named)}")
