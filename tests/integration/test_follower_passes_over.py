"""The embedded deployment does not hand processors the forecaster's output they ignore.

With a forecasting sensor, the forecaster, the scheduler, the charge sessions and virtual meters
projections are handed the measured readings only (the regional energies projection the
forecasts too: ``forecasted_kwh``); every processor's checkpoint still reaches the head once
idle, ``flexledger projections status`` shows lag 0, and a restart hands nothing again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_embedded_restart import status_rows, wait_until
from test_forecasting_support import START, ForecastHarness

from streams.forecast_inputs import is_own_forecast


def test_processors_are_handed_only_what_they_apply_and_idle_checkpoints_reach_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ForecastHarness(tmp_path) as harness:
        harness.post_days(START, 3)
        harness.settle()
        platform, head = harness.platform, harness.head()
        handed = {name: loop.applied for name, loop in platform.runner.loops.items()}
        wait_until(lambda: all(p.checkpoint() >= head for p in platform.processors), "checkpoints at the head")
        events = platform.store.read_all(0, 1_000_000)
    readings = [e for e in events if e.type == "SensorDataRecorded" and not is_own_forecast(e)]
    forecasts = [e for e in events if e.type == "SensorDataRecorded" and is_own_forecast(e)]
    made = [e for e in events if e.type == "ForecastMade"]
    assert len(readings) == 3 and len(forecasts) == len(made) == 3 * 24
    measured_only = ("forecaster", "scheduler", "projection.charge_sessions", "projection.myems_virtual_meters")
    assert {name: handed[name] for name in measured_only} == dict.fromkeys(measured_only, len(readings))
    assert handed["projection.regional_energies"] == handed["projection.readings"] == len(readings) + len(forecasts)
    assert handed["projection.forecast_models"] == len(made)

    rows = status_rows(tmp_path, monkeypatch)
    assert all(lag == 0 and checkpoint == head for checkpoint, _, lag in rows.values()), rows
    with ForecastHarness(tmp_path, seed_world=False) as restarted:
        loops = restarted.platform.runner.loops
        assert all(loop.position == head for loop in loops.values())
        assert restarted.head() == head and all(loop.applied == 0 for loop in loops.values()), "handed again"
