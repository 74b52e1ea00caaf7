"""Helpers for the dashboard's browser tests: Debian's Chromium driven by Playwright, offline.

The fixtures (``demo_server``, ``browser``, ``page``) live in ``conftest.py``: one server with the
shipped demo (``flexledger demo``) plus a few real charge sessions (:data:`SESSIONS_CSV`) serves
every browser test of the session. Every wait is on a condition, bounded by :data:`WAIT_MS`;
nothing sleeps. Screenshots go to ``$FLEXLEDGER_TEST_ARTIFACTS`` (default ``tests/e2e/artifacts``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from e2e_server import REPO

from infra.demo import DEMO_EMAIL, DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
WAIT_MS = 20_000  # bound on every wait for the page
ARTIFACTS = Path(os.environ.get("FLEXLEDGER_TEST_ARTIFACTS", REPO / "tests" / "e2e" / "artifacts"))
SESSIONS_CSV = Path(__file__).parent / "fixtures" / "acn_caltech_sessions_2019-09-01.csv"
"""The first 7 sessions of ACN-Data's Caltech file ``caltech_2019-09-01_2019-12-31.csv`` (header
and rows copied unchanged from ``/work/shared/data/acn``), imported as the site below."""
SESSIONS_SITE = "Caltech sessions (ACN sample)"


def browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM} (apt-get install chromium)"


def login_with_keyboard(page) -> None:
    page.goto("/")
    page.wait_for_selector("#login-view:not([hidden])")
    page.focus("#email")
    page.keyboard.type(DEMO_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app-view:not([hidden])")
    # the first site is chosen once the account's assets are loaded, and usable once its sensors are
    page.wait_for_function("() => document.getElementById('asset-title').textContent !== 'Choose a site or device'")
    page.wait_for_function("() => document.body.dataset.loadedAsset !== undefined")


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


def screenshot(page, name: str, full_page: bool = True) -> None:
    """``full_page=False``: the viewport only (for very long pages such as the API docs)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def select_asset(page, name: str) -> None:
    """Click the asset in the tree and wait until its sensors are loaded (before that, the page has
    no device to act on)."""
    button = page.locator("#asset-tree button", has_text=name).first
    asset_id = button.get_attribute("data-asset-id")
    button.click()
    page.wait_for_function("(n) => document.getElementById('asset-title').textContent === n", arg=name)
    page.wait_for_function("(id) => document.body.dataset.loadedAsset === id", arg=asset_id)
