"""The /insights page against the served hub: its persisted documents over plain HTTP, then the page itself
in the system's headless Chromium, for hr_admin and for an analyst, counting each chart's bars against what
the API answers the same token.

Set PERFHUB_UPDATE_SCREENSHOT=1 to rewrite docs/insights.png (the README's picture) from the hr_admin run.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from hub.analytics.withheld import WORDING, Withheld
from hub.persisted import NOT_FOUND, PersistedDocuments, sha256_hex
from tests.served.hub_process import ServedHub
from tests.served.people import find_people
from tests.served.test_graphiql import TIMEOUT_MS, Recorded, browser, needs_chromium

__all__ = ["browser"]  # the Chromium fixture, shared with GraphiQL's tests

DOCUMENTS = PersistedDocuments.load()
SCREENSHOT = Path(__file__).parents[2] / "docs" / "insights.png"


def persisted(name: str, **variables: object) -> dict[str, object]:
    """The body the page sends: the document's hash, no text."""
    return {
        "operationName": name,
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": DOCUMENTS.hash_by_name[name]}},
    }


def inline(name: str, **variables: object) -> dict[str, object]:
    """The same request with the document's text, as any client may send it."""
    text = DOCUMENTS.by_hash[DOCUMENTS.hash_by_name[name]]
    return {"operationName": name, "variables": variables, "query": text}


def post(hub: ServedHub, body: Mapping[str, object], token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(hub.url, json=body, headers=headers, timeout=60)


def answer(hub: ServedHub, body: Mapping[str, object], token: str) -> dict[str, Any]:
    response = post(hub, body, token)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"]
    return data


def newest_scored_cycle(hub: ServedHub, token: str) -> str:
    """The cycle the page opens on: the newest past OPEN (the page sorts by period start)."""
    cycles = answer(hub, persisted("InsightsCycles"), token)["cycles"]
    scored = sorted((c for c in cycles if c["state"] not in ("DRAFT", "OPEN")), key=lambda c: c["periodStart"])
    assert scored, cycles
    return str(scored[-1]["id"])


def test_a_registered_hash_runs_without_its_text_and_answers_as_the_text(served_to_read: ServedHub) -> None:
    for role in ("hr_admin", "analyst"):
        token = served_to_read.token(role)
        cycle = newest_scored_cycle(served_to_read, token)
        for name, variables in (("InsightsCycles", {}), ("InsightsCycle", {"cycleId": cycle})):
            by_hash = answer(served_to_read, persisted(name, **variables), token)
            assert by_hash == answer(served_to_read, inline(name, **variables), token), (role, name)
        assert by_hash["byPost"], role  # the demo's cycle has posts to draw


def test_an_unknown_hash_is_persisted_query_not_found_as_apollo_answers_it(served_to_read: ServedHub) -> None:
    token = served_to_read.token("hr_admin")
    unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex("{ cycles { id } }")}}}
    legacy = post(served_to_read, unknown, token)
    assert legacy.status_code == 200
    assert legacy.json() == {"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": NOT_FOUND}}]}
    # Apollo's clients may send a hashed query by GET, the extension in the query string.
    by_get = httpx.get(
        served_to_read.url,
        params={"extensions": json.dumps(persisted("InsightsTrends")["extensions"])},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert by_get.status_code == 200 and by_get.json()["data"]["scoreTrends"], by_get.text
    modern = post(served_to_read, unknown, token, Accept="application/graphql-response+json")
    assert modern.status_code == 404
    assert modern.json()["errors"][0]["extensions"]["code"] == NOT_FOUND
    # A hash sent with text must be that text's: nothing runs otherwise.
    mismatch = dict(inline("InsightsCycles"), extensions=persisted("InsightsTrends")["extensions"])
    refused = post(served_to_read, mismatch, token)
    assert refused.status_code == 400
    assert "data" not in refused.json()


def test_a_registered_document_keeps_every_access_rule(served_to_read: ServedHub) -> None:
    """No token: 401 before anything runs. An employee: schemeDiagnostics is refused, as it is inline. An
    analyst: the same figures withheld by hash as by text (checked above), and the page's documents grant
    nothing the text would not."""
    assert post(served_to_read, persisted("InsightsCycles"), None).status_code == 401
    hr_token = served_to_read.token("hr_admin")
    cycle = newest_scored_cycle(served_to_read, hr_token)
    post_id = answer(served_to_read, persisted("InsightsCycles"), hr_token)["posts"][0]["id"]
    staff = served_to_read.token("employee", "E000012")
    for body in (
        persisted("InsightsDiagnostics", cycleId=cycle, postId=post_id),
        inline("InsightsDiagnostics", cycleId=cycle, postId=post_id),
    ):
        result = post(served_to_read, body, staff).json()
        assert result["data"] is None or result["data"]["schemeDiagnostics"] is None, result
        assert [error["extensions"]["code"] for error in result["errors"]] == ["FORBIDDEN"], result


def bars(page: Page, chart: str) -> int:
    return page.locator(f"#{chart} svg rect.bar").count()


def expected_bars(hub: ServedHub, token: str, cycle: str, post_id: str, *, diagnostics: bool = True) -> dict[str, int]:
    """Each chart's bars from the API's own answer: a bar per grade per post, a box per department with its
    quartiles released, a bar per indicator with a released spread, a bar per cycle with a released mean."""
    data = answer(hub, persisted("InsightsCycle", cycleId=cycle), token)
    trends = answer(hub, persisted("InsightsTrends"), token)["scoreTrends"] or []
    counts = {
        "grades": sum(len(group["grades"]) for group in data["byPost"] or []),
        "spread": sum(1 for g in data["byDepartment"] or [] if g["p25"] is not None and g["p75"] is not None),
        "trend": sum(1 for c in (trends[0]["cycles"] if trends else []) if c["mean"] is not None),
    }
    if diagnostics:
        items = answer(hub, persisted("InsightsDiagnostics", cycleId=cycle, postId=post_id), token)["schemeDiagnostics"]
        counts["discrimination"] = sum(1 for d in items or [] if d["stddev"] is not None)
    return counts


def withheld_groups(hub: ServedHub, token: str, cycle: str) -> list[dict[str, Any]]:
    data = answer(hub, persisted("InsightsCycle", cycleId=cycle), token)
    return [group for group in [*(data["byPost"] or []), *(data["byDepartment"] or [])] if group["withheld"]]


def test_the_page_is_given_each_withheld_group_with_its_reason_and_the_reasons_words(
    served_to_read: ServedHub,
) -> None:
    """The page's document asks each group's `withheld` (a withheld post has no grades: no bars, only its
    size, so the reason is what the page can say); the page's configuration carries the reasons' words, as
    hub/analytics/withheld.py words them, for its legend."""
    hub = served_to_read
    # An analyst with the names grant: the pseudonymous one is not listed the groups of small cells at all.
    token = hub.token("analyst", grants=["names"])
    cycle = newest_scored_cycle(hub, token)
    data = answer(hub, persisted("InsightsCycle", cycleId=cycle), token)
    posts = data["byPost"] or []
    assert all("withheld" in group for group in [*posts, *(data["byDepartment"] or [])])
    assert all(group["withheld"] for group in posts if not group["grades"]), posts
    assert withheld_groups(hub, token, cycle), "the demo has small groups: some are withheld from an analyst"
    page = httpx.get(f"{hub.base_url}/insights", timeout=60)
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', page.text)[1]))  # type: ignore[index]
    minimum = hub.settings.min_group_size
    assert config["withheld"] == {reason.value: WORDING[reason].format(m=minimum) for reason in Withheld}
    assert config["withheld"]["SMALL_GROUP"] == f"fewer than {minimum} people"


def open_insights(browser: Browser, hub: ServedHub, token: str, *, by_link: bool) -> tuple[Page, Recorded]:
    """The page signed in by a `perfhub token --open` link (token in the fragment) or by pasting the token."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    recorded = Recorded(page)
    if by_link:
        page.goto(f"{hub.base_url}/insights#token={token}")
    else:
        page.goto(f"{hub.base_url}/insights")
        page.fill("#token", token)
        page.click("#login button")
    page.locator("body[data-ready]:not([data-ready=''])").wait_for(state="attached")
    return page, recorded


@needs_chromium
@pytest.mark.parametrize(("role", "by_link"), [("hr_admin", True), ("analyst", False)])
def test_the_page_draws_each_chart_with_the_apis_bars(
    served_to_read: ServedHub, browser: Browser, role: str, by_link: bool
) -> None:
    token = served_to_read.token(role)
    page, recorded = open_insights(browser, served_to_read, token, by_link=by_link)
    assert "token" not in page.url  # the fragment left the address bar (and the history)
    cycle = page.eval_on_selector("#cycle", "select => select.value")
    assert cycle == newest_scored_cycle(served_to_read, token)
    post_id = page.eval_on_selector("#post", "select => select.value")
    expected = expected_bars(served_to_read, token, cycle, post_id)
    assert expected["grades"] > 0 and expected["trend"] > 0, expected
    assert {chart: bars(page, chart) for chart in expected} == expected
    if role == "analyst":  # without the names grant min and max are withheld: said so, not drawn as zero
        assert "withheld" in page.locator("#spread").inner_text()
    # A withheld post draws no bar (counted above) but says why, and the legend explains each reason.
    reasons = {group["withheld"] for group in withheld_groups(served_to_read, token, cycle)}
    drawn = " ".join(page.locator(f"#{chart}").text_content() or "" for chart in ("grades", "spread"))
    for reason in reasons:
        assert f"withheld: {reason}" in drawn
        assert reason in page.locator("#withheld-legend").inner_text()
    assert recorded.off_the_hub() == []
    assert recorded.problems == []  # no script error, nothing the Content-Security-Policy refused
    if role == "hr_admin" and os.environ.get("PERFHUB_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)


@needs_chromium
def test_the_page_sends_only_hashes(served_to_read: ServedHub, browser: Browser) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    bodies: list[str] = []
    page.on(
        "request", lambda request: bodies.append(request.post_data or "") if request.url.endswith("/graphql") else None
    )
    page.goto(f"{served_to_read.base_url}/insights#token={served_to_read.token('analyst')}")
    page.locator("body[data-ready]:not([data-ready=''])").wait_for(state="attached")
    assert len(bodies) == 4  # the cycles and posts, the cycle's statistics, the trend, the post's diagnostics
    assert all('"sha256Hash"' in body and '"query"' not in body for body in bodies), bodies


@needs_chromium
def test_a_managers_page_draws_their_scope_and_says_what_it_may_not_see(
    served_to_read: ServedHub, browser: Browser
) -> None:
    """schemeDiagnostics is for hr_admin and analysts: a manager's page draws the rest and says so there."""
    token = served_to_read.token("manager", find_people(served_to_read).manager_no)
    page, recorded = open_insights(browser, served_to_read, token, by_link=True)
    cycle = page.eval_on_selector("#cycle", "select => select.value")
    post_id = page.eval_on_selector("#post", "select => select.value")
    expected = expected_bars(served_to_read, token, cycle, post_id, diagnostics=False)
    assert {chart: bars(page, chart) for chart in expected} == expected
    assert bars(page, "discrimination") == 0
    assert "not shown to you (FORBIDDEN)" in page.locator("#discrimination").inner_text()
    assert recorded.problems == []
