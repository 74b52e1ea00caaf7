"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright), offline.

One server with the shipped demo (``flexledger demo``: real load and prices moved in time, a
forecast and a schedule computed by the platform) serves every browser test (``conftest.py``). The tests
log in with the keyboard, read the chart's data from the page (Plotly keeps it on the chart
element), move the belief-time slider, trigger a schedule, open the API docs, and check the
session cookie's and CSRF's promises. Screenshots go to ``$FLEXLEDGER_TEST_ARTIFACTS`` (default:
``tests/e2e/artifacts``), for a person to look at. Helpers: :mod:`browser_support`.

Skips when Chromium or Playwright is missing, unless ``FLEXLEDGER_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import pytest
from browser_support import WAIT_MS, login_with_keyboard, screenshot, select_asset, trace_values, wait_for_trace

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


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
    page.wait_for_function("(old) => document.querySelector('#schedule-info dd').textContent !== old", arg=before)
    assert wait_for_trace(page, "schedule")
    screenshot(page, "device-schedule")


def test_api_docs_render_offline(page) -> None:  # the fixture checks that nothing came from elsewhere
    page.goto("/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 150
    assert page.get_by_role("button", name="Authorize").count() == 1  # the Authorization header scheme
    job = page.locator(".opblock", has=page.locator("[data-path='/api/v3_0/jobs/{job_id}']")).first
    job.locator(".opblock-summary").first.click()  # expand: the operation's description and schemas
    job.locator(".opblock-description-wrapper", has_text="A scheduling or forecasting job").wait_for()
    job.locator(".responses-wrapper", has_text="202").wait_for()
    job.scroll_into_view_if_needed()
    screenshot(page, "docs-swagger", full_page=False)
    page.goto("/redoc")
    page.wait_for_selector("[data-section-id]")
    page.get_by_text("A scheduling or forecasting job", exact=False).first.wait_for(state="attached")
    screenshot(page, "docs-redoc", full_page=False)


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
