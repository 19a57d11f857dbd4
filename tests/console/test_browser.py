"""The console in a real browser: Debian's Chromium, driven by Playwright, against a real
`da serve` on a free port, as a person would use it.

Screenshots of every page land in `test-artifacts/console/` (at phone and laptop widths).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from registry import Settings
from registry.access.tokens import create_token
from registry.database import open_registry
from registry.interchange.starter import load_starter_pack
from tests.served import served

CHROMIUM = os.environ.get("DA_TEST_CHROMIUM", "/usr/bin/chromium")
# The flags this machine needs: no sandbox as root, and no background calls to Google's
# hosts (the closed network refuses them, many at a time).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("DA_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
NARROW_LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("console")
    registry = open_registry(Settings(data_dir=data))
    conn = registry.conn
    load_starter_pack(registry, actor="setup")
    tokens = {role: create_token(conn, f"{role}-person", role) for role in ("admin", "analyst")}
    tokens["orders"] = create_token(conn, "orders-person", "analyst", tables=["orders"])
    conn.close()
    with served(data) as url:
        yield url, tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def person(browser: Browser, server: tuple[str, dict[str, str]]) -> Iterator[Page]:
    """A fresh browser tab; after the test, no request may have left for another host."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    hosts: set[str] = set()
    # data: and blob: URLs (inline images) never leave the browser
    page.on(
        "request",
        lambda request: (
            None
            if urlparse(request.url).scheme in ("data", "blob")
            else hosts.add(urlparse(request.url).netloc)
        ),
    )
    yield page
    context.close()
    assert hosts <= {urlparse(server[0]).netloc}, f"requests left for {hosts}"


# Elements that reach past the screen's right edge, or scroll sideways inside themselves.
WIDER_THAN_THE_SCREEN = """() => Array.from(document.querySelectorAll('body *')).filter(e => {
  const box = e.getBoundingClientRect();
  if (box.width === 0 || e.closest('.sr')) return false;
  const field = ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.tagName);  // text scrolls in a field
  const scrolls = !field && e.scrollWidth > e.clientWidth + 1
    && getComputedStyle(e).overflowX !== 'visible';
  return box.right > window.innerWidth + 1 || scrolls;
}).slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + e.textContent.slice(0, 40))"""


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of the page at laptop and at phone width; at phone width no element
    may be wider than the screen or scroll sideways inside its box (rows stack instead)."""
    folder = ARTIFACTS / "console"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(NARROW_LAPTOP)  # the audit feed's last column was cut at 1280 px
    wide = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert wide == [], f"{name}: wider than a {NARROW_LAPTOP['width']}px screen: {wide}"
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a phone"
    wide = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert wide == [], f"{name}: wider than a {PHONE['width']}px phone: {wide}"
    if size:
        page.set_viewport_size(size)


def sign_in(page: Page, url: str, token: str) -> None:
    """With the keyboard only: the token field has the focus, Enter sends the form."""
    page.goto(url + "/")
    expect(page).to_have_url(url + "/signin?next=%2F")
    expect(page.get_by_label("Token")).to_be_focused()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Registry", level=1)).to_be_visible()


def test_an_admin_reviews_and_rolls_back_mrr(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    person.goto(url + "/signin")
    shot(person, "signin")
    sign_in(person, url, tokens["admin"])
    shot(person, "registry")

    person.get_by_label("Search").fill("recurring")
    person.get_by_role("button", name="Show").click()
    first = person.locator("table.list tbody tr").first
    expect(first).to_contain_text("revenue/mrr")
    shot(person, "search")
    first.get_by_role("link", name="Monthly Recurring Revenue").click()
    expect(person.get_by_role("heading", name="Monthly Recurring Revenue", level=1)).to_be_visible()

    # An update made through the API appears in the timeline.
    changed = httpx.patch(
        f"{url}/api/admin/metrics/revenue/mrr",
        json={"unit": "EUR", "reason": "finance moved to euros"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert changed.status_code == 200
    person.reload()
    newest = person.locator("table.timeline tbody tr").first
    expect(newest).to_contain_text("v2")
    expect(newest).to_contain_text("updated")
    expect(newest).to_contain_text("finance moved to euros")
    expect(newest).to_contain_text("UTC")
    shot(person, "metric")

    # Compare versions 1 and 2.
    person.get_by_label("Compare version").select_option("1")
    person.get_by_label("with version").select_option("2")
    person.get_by_role("button", name="Compare").click()
    expect(person.get_by_role("heading", name="Version 1 beside version 2")).to_be_visible()
    unit = person.locator("table.changes tr", has_text="unit")
    expect(unit.locator("td.old")).to_have_text("USD")
    expect(unit.locator("td.new")).to_have_text("EUR")
    shot(person, "diff")

    # Roll back to version 1 with a reason; the page shows version 3.
    person.go_back()
    person.get_by_role("link", name="Roll back to v1").click()
    expect(person.get_by_role("heading", level=1)).to_contain_text("to version 1?")
    shot(person, "rollback")
    person.get_by_role("button", name="Roll back to v1").click()
    expect(person.get_by_label("Why (required; kept in the history)")).to_be_visible()
    assert "rollback" in person.url  # the browser refused the empty reason; nothing was sent
    person.get_by_label("Why (required; kept in the history)").fill("the euro switch was premature")
    person.get_by_role("button", name="Roll back to v1").click()
    expect(person.get_by_role("status")).to_contain_text("now at version 3")
    newest = person.locator("table.timeline tbody tr").first
    expect(newest).to_contain_text("rolled back to v1")
    expect(newest).to_contain_text("the euro switch was premature")
    expect(person.locator("dl.facts")).to_contain_text("USD")


def test_an_admins_stale_rollback_is_refused(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    sign_in(person, url, tokens["admin"])
    httpx.patch(  # v2, so that there is something to roll back ...
        f"{url}/api/admin/metrics/revenue/arr",
        json={"unit": "EUR"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    person.goto(url + "/metrics/revenue/arr")
    person.get_by_role("link", name="Roll back to v1").click()
    httpx.patch(  # ... and v3, made while the confirmation page is open
        f"{url}/api/admin/metrics/revenue/arr",
        json={"unit": "GBP"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    person.get_by_label("Why (required; kept in the history)").fill("undo")
    person.get_by_role("button", name="Roll back to v1").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("This changed since you loaded it")
    shot(person, "conflict")
    person.get_by_role("link", name="Load the current version").click()
    expect(person.locator("table.timeline tbody tr").first).to_contain_text("v3")


def test_an_analyst_reads_but_finds_no_roll_back(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    sign_in(person, url, tokens["analyst"])
    person.goto(url + "/metrics/revenue/mrr")
    expect(person.locator("table.timeline")).to_be_visible()
    expect(person.get_by_role("link", name="Roll back to v1")).to_have_count(0)
    expect(person.get_by_role("link", name="Audit feed")).to_have_count(0)
    person.goto(url + "/audit")
    expect(person.get_by_role("heading", level=1)).to_have_text("Not allowed")
    shot(person, "forbidden")


def test_the_other_pages_render_and_sign_out_works(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    sign_in(person, url, tokens["admin"])
    for path, heading, name in (
        ("/audit", "Audit feed", "audit"),
        ("/integrity", "Integrity", "integrity"),
        ("/columns", "Tables and columns", "tables"),
        ("/columns/subscriptions", "Table subscriptions", "columns"),
        ("/metrics/revenue/mrr/diff?from=0&to=1", "Version 0 beside version 1", "diff"),
        ("/metrics/revenue/nope", "Not found", "not-found"),
    ):
        person.goto(url + path)
        expect(person.get_by_role("heading", level=1)).to_have_text(heading)
        shot(person, name)
    person.goto(url + "/metrics/revenue/arr")  # its v1 came in the starter pack's batch
    batch = person.locator("a[href^='/audit/batches/']").first.get_attribute("href")
    person.goto(url + str(batch))
    expect(person.get_by_role("heading", level=1)).to_contain_text("Batch")
    shot(person, "batch")
    # An error page keeps the signed-in header: the navigation and who is signed in.
    person.goto(url + "/metrics/revenue/nope")
    expect(person.get_by_role("navigation", name="Main")).to_be_visible()
    expect(person.get_by_role("link", name="Sign out")).to_be_visible()
    person.goto(url + "/integrity")
    kept = person.locator("#checkpoint-now").input_value()  # as an auditor copies it
    person.get_by_label("Against a kept checkpoint (optional)").fill(kept)
    person.get_by_role("button", name="Verify").click()
    expect(person.get_by_role("status")).to_contain_text("Passed")
    expect(person.get_by_role("status")).to_contain_text("the kept checkpoint holds")
    expect(person.get_by_role("link", name="Verified at")).to_be_visible()  # the header badge
    person.get_by_role("link", name="Sign out").click()
    person.get_by_role("button", name="Sign out").click()
    expect(person).to_have_url(url + "/signin")
    person.goto(url + "/")
    expect(person).to_have_url(url + "/signin?next=%2F")


def test_it_works_with_javascript_off(browser: Browser, server: tuple[str, dict[str, str]]) -> None:
    url, tokens = server
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    sign_in(page, url, tokens["analyst"])
    page.get_by_label("Search").fill("churn")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.list tbody tr").first).to_contain_text("churn")
    context.close()


def test_the_api_docs_work_offline(person: Page, server: tuple[str, dict[str, str]]) -> None:
    """/docs renders every operation with the script the server itself serves (the fixture
    fails the test if any request leaves for another host)."""
    url, _ = server
    person.goto(url + "/docs")
    operations = person.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=20_000)
    assert operations.count() >= 30
    expect(person.get_by_text("Metrics registry", exact=False).first).to_be_visible()


def test_a_proposal_is_approved_by_another_admin_and_certification_lapses(
    browser: Browser, person: Page, server: tuple[str, dict[str, str]]
) -> None:
    """Issue 22 in a real browser: an analyst's proposal, which the analyst cannot approve;
    an admin approves it from its page; a certification shown, then lapsed by a change."""
    url, tokens = server
    proposed = httpx.post(
        f"{url}/api/proposals",
        json={
            "action": "update",
            "metric": "sales/new_customers",
            "fields": {"description": "Customers whose first contract started in the period."},
            "reason": "clearer wording",
        },
        headers={"Authorization": f"Bearer {tokens['analyst']}"},
    )
    number = proposed.json()["proposal"]["number"]
    sign_in(person, url, tokens["analyst"])
    person.get_by_role("link", name="Proposals").click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Proposals")
    shot(person, "proposals")
    person.get_by_role("link", name=f"#{number}").click()
    expect(person.get_by_text("You proposed this")).to_be_visible()
    expect(person.get_by_role("button", name="Approve and apply")).to_have_count(0)
    admin = browser.new_context(viewport=LAPTOP).new_page()
    sign_in(admin, url, tokens["admin"])
    admin.goto(f"{url}/proposals/{number}")
    expect(admin.locator("table.changes")).to_contain_text("first contract started")
    shot(admin, "proposal")
    admin.locator("#approve-reason").fill("reads better")
    admin.get_by_role("button", name="Approve and apply").click()
    expect(admin.get_by_role("status")).to_contain_text("the proposal is now approved")
    admin.goto(url + "/metrics/sales/new_customers")
    expect(admin.locator("section[aria-labelledby=definition]")).to_contain_text("first contract")
    admin.locator("#certify-note").fill("tied out to the CRM")
    admin.get_by_role("button", name="Certify this version").click()
    expect(admin.locator(".tag.certified")).to_have_text("certified v2")
    shot(admin, "metric-certified")
    httpx.patch(
        f"{url}/api/admin/metrics/sales/new_customers",
        json={"unit": "accounts"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    person.goto(url + "/metrics/sales/new_customers")
    expect(person.locator(".tag.lapsed")).to_have_text("certification lapsed (was v2)")
    admin.context.close()


def test_an_admin_subscribes_a_webhook_and_sees_its_secret_once(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    sign_in(person, url, tokens["admin"])
    person.get_by_role("link", name="Webhooks", exact=True).click()
    expect(person.get_by_role("heading", level=1)).to_have_text("Webhooks")
    person.get_by_label("URL (http or https)").fill("https://example.com/hook")
    person.get_by_label("Tables (optional").fill("subscriptions")
    person.get_by_role("button", name="Subscribe").click()
    expect(person.get_by_role("heading", level=2, name="Subscribed hook_")).to_be_visible()
    secret = person.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    shot(person, "hooks")
    person.get_by_role("link", name="Webhooks", exact=True).click()  # the list again: no secret now
    expect(person.get_by_text(secret)).to_have_count(0)
    person.get_by_role("button", name="Remove").first.click()
    expect(person.get_by_role("cell", name="removed")).to_be_visible()


def test_a_person_limited_to_orders_never_meets_mrr(
    person: Page, server: tuple[str, dict[str, str]]
) -> None:
    url, tokens = server
    sign_in(person, url, tokens["orders"])
    expect(person.get_by_role("link", name="Total Revenue")).to_be_visible()
    expect(person.get_by_role("link", name="New Customers")).to_be_visible()
    expect(person.get_by_text("Monthly Recurring Revenue")).to_have_count(0)
    expect(person.locator("a[href='/metrics/revenue/mrr']")).to_have_count(0)
    shot(person, "registry-orders-only")
    person.goto(url + "/metrics/revenue/mrr")
    expect(person.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(person.get_by_role("alert")).to_have_text("metric 'revenue/mrr' has no history")
