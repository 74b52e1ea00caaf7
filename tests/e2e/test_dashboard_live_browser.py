"""The dashboard's live views in headless Chromium: the stream, commands, schedules' unmet targets, sessions.

Served by the session's demo server (``conftest.py``: the shipped demo plus seven real ACN-Data
charge sessions). The page subscribes to ``GET /api/v3_0/streams/events`` with its session
cookie; these tests post through the public API (as a device or another client would) and wait
for the page to show the change without a reload. Every wait is on a condition, bounded by
``WAIT_MS``; nothing sleeps. Screenshots: ``tests/e2e/artifacts`` (see :mod:`browser_support`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from browser_support import SESSIONS_SITE, login_with_keyboard, screenshot, select_asset, wait_for_trace

from infra.demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
LIVE = "#live-status[data-mode='live']"


def api_token(url: str) -> str:
    response = httpx.post(
        f"{url}/api/requestAuthToken", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["auth_token"]


def test_a_reading_posted_through_the_api_appears_without_a_reload(page, demo_server) -> None:
    login_with_keyboard(page)
    page.wait_for_selector(LIVE)
    wait_for_trace(page, "latest beliefs")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    sensor_id = int(page.locator("#sensor-select").input_value())
    shown_from = datetime.fromisoformat(page.locator("#start-date").input_value()).replace(tzinfo=UTC)
    at = shown_from + timedelta(hours=2)  # inside the window the chart shows
    response = httpx.post(
        f"{demo_server.url}/api/v3_0/sensors/{sensor_id}/data",
        json={"values": [987.6], "start": at.isoformat(), "duration": "PT15M", "unit": "kW"},
        headers={"Authorization": api_token(demo_server.url)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    page.wait_for_function(
        """() => (document.getElementById('chart').data || [])
            .some((t) => t.name.startsWith('latest beliefs') && Array.from(t.y).includes(987.6))"""
    )
    assert page.evaluate("window.__sameDocument === true")
    screenshot(page, "live-reading")


def test_a_sent_command_shows_its_lifecycle_until_the_device_acknowledges(page) -> None:
    login_with_keyboard(page)
    page.wait_for_selector(LIVE)
    select_asset(page, "EVSE CA-313")
    page.locator("#command-action").select_option("set_power")
    page.locator("#command-power").fill("4.2")
    page.get_by_role("button", name="Send command").click()
    page.wait_for_function(
        "() => /acknowledged|rejected|failed|expired/.test(document.getElementById('command-outcome').textContent)"
    )
    assert "set power 4.2 kW on EVSE CA-313 → acknowledged" in page.locator("#command-outcome").inner_text()
    row = page.locator("#commands-table tbody tr", has_text="set power 4.2 kW")
    row.locator("td.state.acknowledged").wait_for()
    lifecycle = row.locator("td").nth(3).inner_text()
    assert lifecycle.startswith("requested") and "dispatched" in lifecycle and "acknowledged" in lifecycle, lifecycle
    screenshot(page, "device-command-acknowledged")


def test_a_command_to_a_site_without_a_device_says_why_it_failed(page) -> None:
    login_with_keyboard(page)
    page.locator("#command-action").select_option("stop_charging")
    page.get_by_role("button", name="Send command").click()
    page.wait_for_selector("#command-outcome.bad")
    outcome = page.locator("#command-outcome").inner_text()
    assert "Could not send stop charging on Caltech garage (demo)" in outcome and "simulated" in outcome, outcome


def test_an_unreachable_target_is_listed_as_unmet_with_the_solver_notes(page) -> None:
    login_with_keyboard(page)
    select_asset(page, "EVSE CA-319")
    page.locator("#soc-start").fill("0")
    page.locator("#soc-target").fill("60")
    page.locator("#soc-target-time").fill("01:00")  # 60 kWh within an hour at 6.6 kW: cannot be met
    page.get_by_role("button", name="Schedule this device").click()
    page.wait_for_function("() => /computed|failed/.test(document.getElementById('status').textContent)")
    assert "computed" in page.locator("#status").inner_text()
    page.wait_for_function("() => /soc/i.test(document.querySelector('#unmet-table tbody').textContent)")
    row = page.locator("#unmet-table tbody tr").first.locator("td")
    assert "kWh" in row.nth(2).inner_text()
    assert "infeasible-relaxed" in page.locator("#schedule-info").inner_text()  # the solver's own word
    assert page.locator("#solver-notes li").count() >= 1  # its notes, or "none"
    assert wait_for_trace(page, "schedule")
    screenshot(page, "device-unmet-target")


def test_a_sites_charge_sessions_are_listed_newest_first(page) -> None:
    login_with_keyboard(page)
    select_asset(page, SESSIONS_SITE)
    page.wait_for_function("() => /no sensors/.test(document.getElementById('status').textContent)")
    page.wait_for_function(
        "() => document.querySelectorAll('#sessions-table tbody td.empty').length === 0"
        " && document.querySelectorAll('#sessions-table tbody tr').length === 7"
    )
    rows = page.locator("#sessions-table tbody tr")
    first, last = rows.first.locator("td"), rows.last.locator("td")
    # the sample's last arrival: CA-303 at 2019-09-01 17:52:33-07:00, 3.942 kWh; the first: CA-311, 0.747 kWh
    assert first.nth(0).inner_text() == "CA-303" and first.nth(1).inner_text() == "2019-09-02 00:52:33"
    assert first.nth(3).inner_text() == "3.94"
    assert last.nth(0).inner_text() == "CA-311" and last.nth(3).inner_text() == "0.75"
    screenshot(page, "site-charge-sessions")


def test_the_page_polls_when_the_stream_is_refused(page) -> None:
    page.route("**/api/v3_0/streams/events*", lambda route: route.fulfill(status=503, body="unavailable"))
    login_with_keyboard(page)
    page.wait_for_selector("#live-status[data-mode='polling']")
    assert page.locator("#live-status").inner_text() == "Polling every 15 s"
