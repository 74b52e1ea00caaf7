"""End-to-end fixtures: a real server process per test (see :mod:`e2e_server`), and for the
browser tests one demo server and one headless Chromium per session (see :mod:`browser_support`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SESSIONS_CSV, SESSIONS_SITE, WAIT_MS, browser_missing
from e2e_server import REPO, SETTINGS, ServerProcess

from infra.demo import DEMO_ACCOUNT


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def server_factory(server_home: Path) -> Iterator[ServerProcess]:
    """A not yet started server on ``server_home`` (seed first, then ``.start()``); stopped afterwards."""
    server = ServerProcess(server_home)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """``flexledger demo`` plus ``flexledger import sessions`` of a few real sessions, then ``serve``."""
    missing = browser_missing()
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
    cli = [sys.executable, "-m", "infra.cli"]
    subprocess.run([*cli, "demo"], cwd=REPO, env=env, check=True, timeout=600)
    subprocess.run(
        [*cli, "import", "sessions", str(SESSIONS_CSV), "--account", DEMO_ACCOUNT, "--site", SESSIONS_SITE],
        cwd=REPO, env=env, check=True, timeout=300,
    )  # fmt: skip
    server = ServerProcess(home).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(demo_server):
    """Headless Chromium for one test module: Playwright's sync API keeps an event loop running in
    this thread while it is open, so it must end before modules that run ``asyncio.run`` (the
    flexmeasures-client tests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, demo_server):
    """A fresh browser context (no cookies); afterwards: no request left for another host.

    A request the page's Content-Security-Policy blocked (failure ``csp``) never left the browser."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=demo_server.url)
    local = (demo_server.url, "data:", "blob:")
    elsewhere: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(local) else elsewhere.append(r.url))
    context.on(
        "requestfailed",
        lambda r: elsewhere.remove(r.url) if "csp" in (r.failure or "") and r.url in elsewhere else None,
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        yield page
    finally:
        context.close()
    assert not elsewhere, f"the page asked other hosts: {elsewhere}"
