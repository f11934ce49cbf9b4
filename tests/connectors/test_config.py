"""The systems file: the documented example parses, and every kind of mistake is refused with a located message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConfigurationError
from connectors.config import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
    ODataConfig,
    ResiliencePolicy,
    RestConfig,
    XapiConfig,
    load_systems_file,
    parse_systems,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "systems.example.toml"
ENVIRON = {
    "PERFHUB_FINANCE_TOKEN": "finance-token",
    "PERFHUB_SECURITY_KEY": "security-key",
    "PERFHUB_TICKETS_CLIENT_ID": "tickets-id",
    "PERFHUB_TICKETS_CLIENT_SECRET": "tickets-secret",
    "PERFHUB_LRS_KEY": "lrs-key",
    "PERFHUB_LRS_SECRET": "lrs-secret",
    "PERFHUB_PAYROLL_USER": "payroll-user",
    "PERFHUB_PAYROLL_PASSWORD": "payroll-password",
}
MINIMAL: dict[str, Any] = {
    "systems": {
        "finance": {
            "kind": "rest",
            "base_url": "https://finance.test",
            "auth": {"type": "bearer", "token_env": "FINANCE_TOKEN"},
            "metrics": {
                "voucher_error_rate": {
                    "path": "/metrics/voucher_error_rate",
                    "ids": {"param": "employees"},
                    "map": "data[].{employee: employee_no, value: value}",
                }
            },
        }
    }
}


def minimal(**changes: Any) -> dict[str, Any]:
    """The minimal file with ``changes`` applied to the finance system (dotted keys reach into tables)."""
    data = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        table = data["systems"]["finance"]
        *parents, last = dotted.split("__")
        for parent in parents:
            table = table[parent]
        table[last] = value
    return data


def refused(data: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_systems(data, environ if environ is not None else {"FINANCE_TOKEN": "t0ken"})
    return str(caught.value)


def test_the_documented_example_parses_into_typed_systems() -> None:
    """docs/systems.example.toml is the spec: every system, auth type and pagination style in it is read."""
    config = load_systems_file(EXAMPLE, ENVIRON)
    systems = config.systems
    assert set(systems) == {"finance", "security", "tickets", "training", "payroll"}
    assert systems["finance"].auth == BearerAuth(token="finance-token")
    assert systems["security"].auth == ApiKeyAuth(header="X-API-Key", key="security-key")
    assert systems["training"].auth == BasicAuth(username="lrs-key", password="lrs-secret")
    tickets_auth = systems["tickets"].auth
    assert isinstance(tickets_auth, OAuth2ClientCredentials)
    assert (tickets_auth.token_url, tickets_auth.scope, tickets_auth.client_auth) == (
        "/oauth/token",
        "stats.read",
        "basic",
    )
    finance = systems["finance"].details
    assert isinstance(finance, RestConfig)
    voucher = finance.metrics["voucher_error_rate"]
    assert (voucher.ids.param, voucher.ids.style, voucher.page.style, voucher.page.size) == (
        "employees",
        "csv",
        "page",
        200,
    )
    assert voucher.has_more == "meta.page < meta.pages"
    security = systems["security"].details
    assert isinstance(security, RestConfig)
    assert security.metrics["patrol_completion_rate"].page.next == "next_cursor"
    tickets = systems["tickets"].details
    assert isinstance(tickets, RestConfig)
    assert tickets.metrics["work_order_response_hours"].params == {"metric": "work_order_response_hours"}
    assert systems["training"].details == XapiConfig(
        verb="http://adlnet.gov/expapi/verbs/completed", account_home_page="https://hr.example.com"
    )
    assert systems["payroll"].details == ODataConfig(entity_set="EmpCompensation", ids_per_request=100)
    assert systems["payroll"].policy == ResiliencePolicy(concurrency=4, breaker_failures=5)


def test_defaults_merge_and_a_system_overrides_them_with_the_same_keys() -> None:
    """[defaults] applies to every system; a key in the system's own table wins for that system."""
    data = minimal(timeout=12.5, retries=0)
    data["defaults"] = {"timeout": 2, "concurrency": 9}
    policy = parse_systems(data, {"FINANCE_TOKEN": "t"}).systems["finance"].policy
    assert (policy.timeout, policy.retries, policy.concurrency, policy.backoff) == (12.5, 0, 9, 0.2)


def test_secrets_never_show_in_a_repr() -> None:
    """A logged config must not leak credentials."""
    config = load_systems_file(EXAMPLE, ENVIRON)
    text = repr(config)
    assert not any(secret in text for secret in ("finance-token", "security-key", "tickets-secret", "lrs-secret"))


def test_a_missing_environment_variable_names_the_system_and_key() -> None:
    """An unset secret variable is refused at startup, not at the first request."""
    message = refused(MINIMAL, environ={})
    assert "systems.finance.auth.token_env" in message
    assert "FINANCE_TOKEN" in message


def test_a_literal_secret_is_refused_without_echoing_it() -> None:
    """token = "..." in the file is an error that names the key and never repeats the secret."""
    message = refused(minimal(auth={"type": "bearer", "token": "hunter2-literal"}))
    assert "systems.finance.auth.token" in message
    assert "token_env" in message
    assert "hunter2-literal" not in message


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"colour": "blue"}, "colour"),
        ({"kind": "soap"}, "systems.finance.kind"),
        ({"auth": {"type": "kerberos"}}, "systems.finance.auth.type"),
        ({"base_url": "finance.test"}, "systems.finance.base_url"),
        ({"retries": True}, "systems.finance.retries"),
        ({"concurrency": 0}, "systems.finance.concurrency"),
        ({"timeout": "fast"}, "systems.finance.timeout"),
        ({"metrics__voucher_error_rate__colour": 1}, "colour"),
        ({"metrics__voucher_error_rate__map": "data[.{"}, "systems.finance.metrics.voucher_error_rate.map"),
        ({"metrics__voucher_error_rate__path": "https://evil.test/x"}, "voucher_error_rate.path"),
        ({"metrics__voucher_error_rate__ids": {"param": "e", "style": "tsv"}}, "voucher_error_rate.ids.style"),
        ({"metrics__voucher_error_rate__page": {"style": "scroll"}}, "voucher_error_rate.page.style"),
        ({"metrics__voucher_error_rate__page": {"style": "page", "param": "p"}}, "voucher_error_rate.page"),
        ({"metrics__voucher_error_rate__page": {"style": "cursor", "param": "c"}}, "page.next"),
        ({"metrics__voucher_error_rate__page": {"style": "link", "max_pages": 0}}, "page.max_pages"),
        (
            {"metrics__voucher_error_rate__page": {"style": "offset", "param": "o", "size": 10}},
            "page.size",
        ),
        ({"metrics__voucher_error_rate__has_more": "meta.more"}, "voucher_error_rate.has_more"),
        ({"metrics": {}}, "systems.finance.metrics"),
        ({"auth": None}, "systems.finance.auth"),
    ],
)
def test_mistakes_are_refused_with_their_location(changes: dict[str, Any], where: str) -> None:
    """Unknown keys and kinds, wrong types and impossible combinations each say where they are."""
    if changes.get("auth", "") is None:
        data = minimal()
        del data["systems"]["finance"]["auth"]
    else:
        data = minimal(**changes)
    assert where in refused(data)


def test_an_unknown_top_level_table_is_refused() -> None:
    """A misspelt [defualts] would otherwise silently leave every default in place."""
    data = minimal()
    data["defualts"] = {"timeout": 1}
    assert "defualts" in refused(data)


def test_a_metric_measured_by_two_systems_is_refused() -> None:
    """Which system answers for a metric must be unambiguous."""
    data = minimal()
    data["systems"]["finance2"] = copy.deepcopy(data["systems"]["finance"])
    message = refused(data)
    assert "voucher_error_rate" in message
    assert "finance2" in message


def test_only_one_training_system_is_allowed() -> None:
    """Training records have one source; two xAPI systems would be a guess."""
    lrs = {
        "kind": "xapi",
        "base_url": "https://lrs.test",
        "auth": {"type": "none"},
        "verb": "v",
        "account_home_page": "h",
    }
    data = minimal()
    data["systems"] |= {"lrs1": lrs, "lrs2": dict(lrs)}
    assert "xapi" in refused(data)


def test_kind_specific_keys_belong_to_their_kind() -> None:
    """An xAPI system has no metrics, a REST system no verb."""
    assert "verb" in refused(minimal(verb="completed"))


def test_an_odata_system_needs_a_positive_batch_size() -> None:
    """ids_per_request below 1 would never send a request."""
    data = {
        "systems": {
            "payroll": {
                "kind": "odata",
                "base_url": "https://payroll.test",
                "auth": {"type": "none"},
                "entity_set": "EmpCompensation",
                "ids_per_request": 0,
            }
        }
    }
    assert "systems.payroll.ids_per_request" in refused(data)


def test_oauth2_may_authenticate_the_client_in_the_form_body() -> None:
    """client_auth = "body" is for token endpoints that do not take HTTP Basic."""
    auth = {
        "type": "oauth2",
        "token_url": "https://idp.test/token",
        "client_id_env": "ID",
        "client_secret_env": "SECRET",
        "client_auth": "body",
    }
    config = parse_systems(minimal(auth=auth), {"ID": "i", "SECRET": "s"})
    assert config.systems["finance"].auth == OAuth2ClientCredentials("https://idp.test/token", "i", "s", None, "body")


def test_an_unreadable_or_invalid_file_is_a_configuration_error(tmp_path: Path) -> None:
    """The CLI reports one kind of error for every bad systems file."""
    broken = tmp_path / "systems.toml"
    broken.write_text("[systems\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_systems_file(broken, {})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_systems_file(tmp_path / "absent.toml", {})


def test_an_empty_file_means_no_systems() -> None:
    """A hub without business systems still starts."""
    assert parse_systems({}, {}).systems == {}
