"""The webhook settings: read from the environment, and refused when they could not work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.config import Settings


def test_the_worker_and_its_schedule_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhooks is True  # perfhub serve delivers unless told not to
    monkeypatch.setenv("PERFHUB_WEBHOOKS", "false")
    monkeypatch.setenv("PERFHUB_WEBHOOK_RETRY_SECONDS", "[0.5, 3]")
    settings = Settings()
    assert (settings.webhooks, settings.webhook_retry_seconds) == (False, (0.5, 3.0))


@pytest.mark.parametrize(
    "values",
    [
        {"webhook_retry_seconds": ()},  # no try at all
        {"webhook_retry_seconds": (1.0, -1.0)},
        {"webhook_timeout_seconds": 10.0, "webhook_lease_seconds": 10.0},  # a slow POST would outlive its lease
    ],
)
def test_settings_that_could_not_work_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)  # type: ignore[arg-type]
