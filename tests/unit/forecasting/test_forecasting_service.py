"""The service's forecaster: value ranges, missing readings, no look-ahead, replay, ensemble weights.

Series are small synthetic ones (a daily/weekly EV-like load) so the tests stay fast; the
behaviour on the real data is measured by ``bench/forecast_accuracy.py``.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.forecast_events import ForecastSettingsError, settings_from_attributes
from domain.forecasting import ForecasterConfig, SensorForecaster
from domain.forecasting.ensemble import error_weights
from domain.forecasting.metrics import ErrorTotals
from domain.forecasting.service import service_config
from domain.forecasting.value_range import default_value_range
from domain.registry import SensorRegistered

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def ev_load(hours: int, seed: int = 2, trend: float = 0.0) -> list[float]:
    """Hourly load (kW >= 0): sessions on workday mornings, spiky, zero at night."""
    rng = random.Random(seed)
    out = []
    for h in range(hours):
        hour, weekday = h % 24, (h // 24) % 7
        busy = 8 <= hour < 17 and weekday < 5
        base = 40.0 * math.sin(math.pi * (hour - 8) / 9) if busy else 0.0
        value = base + rng.expovariate(0.2) * (rng.random() < 0.3) - trend * h
        out.append(max(0.0, value))
    return out


def sensor(name: str = "EV charging load", unit: str = "kW", attributes: dict | None = None) -> SensorRegistered:
    attributes = {"forecasting": {}} if attributes is None else attributes
    return SensorRegistered(
        sensor_id=1, asset_id=1, name=name, unit=unit, event_resolution_s=3600, timezone="UTC", attributes=attributes
    )


def service_forecaster(registered: SensorRegistered, asset_type: str | None = "charging station") -> SensorForecaster:
    settings = settings_from_attributes(registered.attributes, registered.unit)
    return SensorForecaster(service_config(settings, registered, asset_type))


def feed(forecaster: SensorForecaster, values: list[float], skip: set[int] = frozenset()) -> list:
    made = []
    for i, value in enumerate(values):
        if i not in skip:
            made.extend(forecaster.observe_all(START + i * HOUR, value) or [])
    return made


# -- value ranges ---------------------------------------------------------------------------


def test_value_range_comes_from_the_sensor_and_asset_type():
    assert default_value_range("kW", "EV charging load", "charging station") == (0.0, None)
    assert default_value_range("MW", "load", None) == (0.0, None)
    assert default_value_range("kW", "PV output", "solar park") == (None, 0.0)
    assert default_value_range("kW", "grid connection", "building") == (None, None)
    assert default_value_range("kW", "charging", "battery") == (None, None)  # flows both ways
    assert default_value_range("EUR/MWh", "day-ahead load price", None) == (None, None)


def test_value_range_is_settable_in_the_forecasting_attribute():
    assert settings_from_attributes({"forecasting": {"value-range": [0, 22]}}, "kW").value_range == (0.0, 22.0)
    assert settings_from_attributes({"forecasting": {"min": -5}}, "kW").value_range == (-5.0, None)
    assert settings_from_attributes({"forecasting": {}}, "kW").value_range is None
    for bad in ({"value-range": [3, 1]}, {"value-range": [0]}, {"min": "0"}, {"value-range": [0, 1], "max": 2}):
        with pytest.raises(ForecastSettingsError):
            settings_from_attributes({"forecasting": bad}, "kW")
    key_open = settings_from_attributes({"forecasting": {}}, "kW").key()
    assert settings_from_attributes({"forecasting": {"min": 0}}, "kW").key() != key_open  # a change rebuilds


def test_a_consumption_only_sensor_is_never_forecast_below_zero():
    values = ev_load(24 * 12, trend=0.08)  # a falling load: the unbounded models go negative
    forecaster = service_forecaster(sensor())
    assert forecaster.config.value_range == (0.0, None)
    made = feed(forecaster, values)
    assert made and all(v >= 0.0 for f in made for v in f.values)
    assert all(v >= 0.0 for f in made for values in f.per_model.values() for v in values)
    unbounded = feed(service_forecaster(sensor(name="net meter"), asset_type="building"), values)
    assert any(v < 0.0 for f in unbounded for v in f.values)  # the check above can fail


def test_a_range_set_in_the_attribute_wins_over_the_type():
    registered = sensor(attributes={"forecasting": {"value-range": [2.0, 30.0]}})
    made = feed(service_forecaster(registered), ev_load(24 * 10))
    assert all(2.0 <= v <= 30.0 for f in made for v in f.values)


# -- missing readings, look-ahead, replay ---------------------------------------------------


def test_missing_readings_do_not_silence_the_forecaster():
    values = ev_load(24 * 9)
    skip = {24 * 8 + 3, 24 * 8 + 10, 24 * 8 + 11, 24 * 8 + 12}
    made = feed(service_forecaster(sensor()), values, skip)
    times = [f.now_start for f in made]
    # a forecast at every hour of data, also where the reading of the hour before is missing
    assert times == [START + (i + 1) * HOUR for i in range(len(values))]
    late = next(f for f in made if f.now_start == START + (24 * 8 + 12) * HOUR)
    assert len(late.values) == 48  # a full horizon, from what was known (the reading of hour 9)


def test_a_forecast_does_not_change_when_later_data_change():
    values = ev_load(24 * 9)
    cut = 24 * 8
    changed = values[:cut] + [3.0 * v + 7.0 for v in reversed(values[cut:])]
    first = [f for f in feed(service_forecaster(sensor()), values) if f.now_start <= START + cut * HOUR]
    second = [f for f in feed(service_forecaster(sensor()), changed) if f.now_start <= START + cut * HOUR]
    assert len(first) == cut and first == second


def test_replay_and_checkpoints_give_identical_forecasts():
    values = ev_load(24 * 9)
    straight = feed(service_forecaster(sensor()), values)
    forecaster, resumed = service_forecaster(sensor()), []
    for i, value in enumerate(values):
        if i % 53 == 0:  # checkpoint and restore at arbitrary points, as the processor does per batch
            forecaster = SensorForecaster.from_state(forecaster.to_state())
        resumed.extend(forecaster.observe_all(START + i * HOUR, value) or [])
    assert resumed == straight


# -- the ensemble -----------------------------------------------------------------------------


def test_error_weights_favour_the_model_with_the_lower_recent_error():
    good, bad, unknown = ErrorTotals(10.0, 100.0, 10), ErrorTotals(20.0, 100.0, 10), ErrorTotals()
    weights = error_weights([good, bad, unknown], power=2.0, top=3)
    assert weights[0] == pytest.approx(0.8) and weights[1] == pytest.approx(0.2) and weights[2] == 0.0
    assert error_weights([unknown, unknown]) == [0.5, 0.5]
    assert error_weights([good, bad, ErrorTotals(30.0, 100.0, 10)], top=2)[2] == 0.0


def test_ensemble_weights_follow_a_regime_change():
    rng = random.Random(4)
    week = [rng.uniform(0.0, 40.0) for _ in range(168)]
    day = [rng.uniform(0.0, 40.0) for _ in range(24)]
    config = ForecasterConfig(
        resolution=HOUR, timezone="UTC", country=None, models=("naive_day", "naive_week"),
        selection_window=timedelta(days=7),
    )
    forecaster = SensorForecaster(config)
    hours = 24 * 7 * 4
    feed(forecaster, [week[h % 168] for h in range(hours)])
    before = forecaster.running_errors()["24h"]
    assert before["naive_week"]["weight"] > 0.99  # a weekly pattern: last week is right, yesterday is not
    for h in range(hours, hours + 24 * 7):  # from now on every day is the same
        forecaster.observe_all(START + h * HOUR, day[h % 24])
    after = forecaster.running_errors()["24h"]
    assert after["naive_day"]["weight"] > 0.99
    assert after["ensemble"]["one_minus_wape"] > after["naive_week"]["one_minus_wape"]
