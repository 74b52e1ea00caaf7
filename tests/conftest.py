"""Test-wide settings: strict mode for CI, and a summary of which infrastructure tests ran.

Set ``FLEXLEDGER_REQUIRE_POSTGRES=1`` (``..._KAFKA``, ``..._SHARED_DATA``) to turn skips of
tests marked ``postgres`` (``kafka``, ``shared_data``) into failures: CI does, so a missing
service fails loudly instead of passing quietly.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

STRICT_MARKERS = {
    "postgres": "FLEXLEDGER_REQUIRE_POSTGRES",
    "kafka": "FLEXLEDGER_REQUIRE_KAFKA",
    "shared_data": "FLEXLEDGER_REQUIRE_SHARED_DATA",
    "mqtt": "FLEXLEDGER_REQUIRE_MQTT",
}
REPORTED_MARKERS = ("postgres", "kafka", "shared_data", "kurrentdb", "e2e", "mqtt", "browser")
_ran: Counter[str] = Counter()
_skipped: Counter[str] = Counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call"):
        return
    for marker in REPORTED_MARKERS:
        if item.get_closest_marker(marker) is None:
            continue
        variable = STRICT_MARKERS.get(marker)
        if report.skipped and variable and os.environ.get(variable) == "1":
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped although {variable}=1: {report.longrepr}"
        if report.when == "call" and report.passed:
            _ran[marker] += 1
        elif report.skipped:
            _skipped[marker] += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("infrastructure tests")
    for marker in REPORTED_MARKERS:
        terminalreporter.write_line(f"{marker}: {_ran[marker]} passed, {_skipped[marker]} skipped")


@pytest.fixture
def shared_data():
    """The ``../shared/data`` folder, or skip with the reason."""
    from infra.shared_data import shared_data_dir

    folder = shared_data_dir()
    if folder is None:
        pytest.skip("../shared/data is absent (set FLEXLEDGER_SHARED_DATA to its path)")
    return folder
