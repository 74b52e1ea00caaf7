"""Two weeks of real EV charging load (ACN Caltech, uncontrolled, 15 min) through the forecaster.

Needs ``../shared/data`` (skips with the reason otherwise). A sanity check on real, spiky data,
not an accuracy benchmark (that is ``bench/forecast_accuracy.py``): forecasts are finite and
non-negative, the selection is consistent with the running errors, and at 1 h ahead the lag
model beats "same time yesterday" in the second week.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from domain.forecasting import ErrorTotals, ForecasterConfig, SensorForecaster
from infra.shared_data import acn_site_sessions, uncontrolled_load_kw

pytestmark = pytest.mark.shared_data

START = datetime(2019, 6, 3, 7, tzinfo=UTC)  # Monday 00:00 in Los Angeles
RES = timedelta(minutes=15)
DAYS = 14


@pytest.fixture(scope="module")
def load_kw() -> list[float]:
    from infra.shared_data import shared_data_dir

    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent (set FLEXLEDGER_SHARED_DATA to its path)")
    sessions = acn_site_sessions(data, "caltech")
    return uncontrolled_load_kw(sessions, START, START + timedelta(days=DAYS), RES).tolist()


def test_two_weeks_of_acn_load(load_kw: list[float]):
    config = ForecasterConfig(resolution=RES, timezone="America/Los_Angeles", country="US", value_range=(0.0, None))
    forecaster = SensorForecaster(config)
    one_hour = {name: ErrorTotals() for name in config.models}
    for i, value in enumerate(load_kw):
        made = forecaster.observe(START + i * RES, value)
        if made is None:
            continue
        assert all(math.isfinite(v) and v >= 0.0 for v in made.values)
        if i >= 96 * 7 and i + 4 < len(load_kw):
            for name, values in made.per_model.items():
                one_hour[name].add(load_kw[i + 4], values[3])  # step 4: the slot ending 1 h ahead
    assert forecaster.learned == 96 * DAYS
    errors = forecaster.running_errors()
    assert forecaster.selection() == dict.fromkeys(errors, "ensemble")
    for models in errors.values():
        # the ensemble gives the model with the lowest running MAE the largest weight
        best = min(config.models, key=lambda m: models[m]["mae"])
        assert models[best]["weight"] == max(models[m]["weight"] for m in config.models)
        assert sum(models[m]["weight"] for m in config.models) == pytest.approx(1.0)
    assert one_hour["lag_linear"].one_minus_wape > one_hour["naive_day"].one_minus_wape
    assert one_hour["lag_linear"].one_minus_wape > 0.3
