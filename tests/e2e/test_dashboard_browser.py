"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright), offline.

One server with the shipped demo (``flexledger demo``: real load and prices moved in time, a
forecast and a schedule computed by the platform) serves every test of this module. The tests
log in with the keyboard, read the chart's data from the page (Plotly keeps it on the chart
element), move the belief-time slider, trigger a schedule, open the API docs, and check the
session cookie's and CSRF's promises. Screenshots go to ``$FLEXLEDGER_TEST_ARTIFACTS`` (default:
``tests/e2e/artifacts``), for a person to look at.

Skips when Chromium or Playwright is missing, unless ``FLEXLEDGER_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import REPO, SETTINGS, ServerProcess

from infra.demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
WAIT_MS = 30_000  # bound on every wait for the page
ARTIFACTS = Path(os.environ.get("FLEXLEDGER_TEST_ARTIFACTS", REPO / "tests" / "e2e" / "artifacts"))


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM} (apt-get install chromium)"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[ServerProcess]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("FLEXLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {missing}")
        pytest.skip(missing)
    home = tmp_path_factory.mktemp("demo-home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLEXLEDGER_")},
        **{f"FLEXLEDGER_{k.upper()}": str(v) for k, v in SETTINGS.items()},
        "FLEXLEDGER_HOME": str(home),
    }
    subprocess.run([sys.executable, "-m", "infra.cli", "demo"], cwd=REPO, env=env, check=True, timeout=600)
    server = ServerProcess(home).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(demo_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, demo_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=demo_server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        yield page
    finally:
        context.close()


def login_with_keyboard(page) -> None:
    page.goto("/")
    page.wait_for_selector("#login-view:not([hidden])")
    page.focus("#email")
    page.keyboard.type(DEMO_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app-view:not([hidden])")


def trace_values(page, name_prefix: str) -> list:
    """The y values of the chart's trace whose name starts with ``name_prefix`` ([] when absent)."""
    return page.evaluate(
        """(prefix) => {
            const trace = (document.getElementById('chart').data || []).find((t) => t.name.startsWith(prefix));
            return trace ? Array.from(trace.y) : [];
        }""",
        name_prefix,
    )


def wait_for_trace(page, name_prefix: str) -> list:
    page.wait_for_function(
        """(prefix) => (document.getElementById('chart').data || [])
            .some((t) => t.name.startsWith(prefix) && Array.from(t.y).some((v) => v !== null))""",
        arg=name_prefix,
    )
    return [v for v in trace_values(page, name_prefix) if v is not None]


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def select_asset(page, name: str) -> None:
    page.locator("#asset-tree button", has_text=name).click()
    page.wait_for_function("(n) => document.getElementById('asset-title').textContent === n", arg=name)


def test_site_shows_readings_prices_and_forecast_and_the_slider_changes_the_forecast(page) -> None:
    login_with_keyboard(page)
    assert page.locator("#asset-title").inner_text() == "Caltech garage (demo)"
    assert max(wait_for_trace(page, "latest beliefs")) > 0  # kW of real charging load
    assert wait_for_trace(page, "prices")
    believed_late = wait_for_trace(page, "forecast believed")
    screenshot(page, "site-latest-belief")

    label_before = page.locator("#belief-label").inner_text()
    page.locator("#belief-time").fill("35")  # back in time: only forecasts made before then count
    page.wait_for_function(
        "(before) => document.getElementById('belief-label').textContent !== before", arg=label_before
    )
    page.wait_for_function(
        """(label) => (document.getElementById('chart').data || []).some((t) => t.name.includes(label))""",
        arg=page.locator("#belief-label").inner_text()[:10],
    )
    believed_early = [v for v in trace_values(page, "forecast believed") if v is not None]
    assert believed_early != believed_late
    screenshot(page, "site-earlier-belief")


def test_device_shows_its_schedule_and_a_triggered_schedule_appears(page) -> None:
    login_with_keyboard(page)
    select_asset(page, "EVSE CA-303")
    assert wait_for_trace(page, "schedule")
    before = page.locator("#schedule-info dd").first.inner_text()
    page.get_by_role("button", name="Schedule this device").click()
    page.wait_for_function("() => /computed|failed/.test(document.getElementById('status').textContent)")
    status = page.locator("#status").inner_text()
    assert "computed" in status, (status, page.locator("#start-date").input_value())
    page.wait_for_function(
        "(old) => document.querySelector('#schedule-info dd').textContent !== old", arg=before
    )
    assert wait_for_trace(page, "schedule")
    screenshot(page, "device-schedule")


def test_api_docs_render_offline(page) -> None:
    page.goto("/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20
    assert page.get_by_role("button", name="Authorize").count() + page.locator(".opblock").count() > 0
    screenshot(page, "docs-swagger")
    page.goto("/redoc")
    page.wait_for_selector("[data-section-id]")
    screenshot(page, "docs-redoc")


def test_session_cookie_is_http_only_and_writes_need_the_csrf_token(page) -> None:
    login_with_keyboard(page)
    assert "flexledger_session" not in page.evaluate("document.cookie")
    cookie = next(c for c in page.context.cookies() if c["name"] == "flexledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    status = page.evaluate(
        """() => fetch('/api/v3_0/assets/1', {method: 'PATCH', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({name: 'renamed'})}).then((r) => r.json())"""
    )
    assert status["status"] == "CSRF_FAILED"
    assert page.locator("#asset-title").inner_text() == "Caltech garage (demo)"


def test_works_at_390_px_wide(browser, demo_server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=demo_server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        login_with_keyboard(page)
        wait_for_trace(page, "latest beliefs")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "site-390px")
    finally:
        context.close()
