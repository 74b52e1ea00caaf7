"""Checkpoints (to_state / from_state), deterministic replay, and the reading contract."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.forecasting import Forecast, ForecasterConfig, SensorForecaster

START = datetime(2024, 3, 4, tzinfo=UTC)
RES = timedelta(minutes=15)


def readings(n: int, seed: int = 1) -> list[tuple[datetime, float, dict[str, float]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        hour = (i // 4) % 24
        temperature = 10 + 8 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 1)
        load = max(0.0, 30 * math.sin(math.pi * max(0, hour - 7) / 10) + rng.gauss(0, 3)) if hour >= 7 else 0.0
        out.append((START + i * RES, load, {"temperature_c": temperature}))
    return out


def config() -> ForecasterConfig:
    return ForecasterConfig(resolution=RES, timezone="Europe/Amsterdam", country="NL", value_range=(0.0, None))


def run(forecaster: SensorForecaster, data) -> list[Forecast]:
    return [made for start, value, regs in data if (made := forecaster.observe(start, value, regs)) is not None]


def test_restored_forecaster_continues_exactly_like_an_uninterrupted_one():
    data = readings(96 * 10)
    cut = 96 * 8 + 37
    uninterrupted = SensorForecaster(config())
    run(uninterrupted, data[:cut])
    checkpoint = uninterrupted.to_state()
    restored = SensorForecaster.from_state(checkpoint)
    assert run(restored, data[cut:]) == run(uninterrupted, data[cut:])
    assert restored.running_errors() == uninterrupted.running_errors()
    assert restored.selection() == uninterrupted.selection()


def test_replay_from_scratch_gives_identical_forecasts():
    data = readings(96 * 9)
    first, second = run(SensorForecaster(config()), data), run(SensorForecaster(config()), data)
    assert len(first) == 9 * 24
    assert first == second
    assert all(math.isfinite(v) and v >= 0.0 for made in first for v in made.values)


def test_state_of_another_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        SensorForecaster.from_state(__import__("pickle").dumps((0, None)))


def test_duplicates_older_readings_and_nan_are_ignored():
    forecaster = SensorForecaster(config())
    assert forecaster.learn(START, 1.0)
    assert forecaster.learn(START + RES, 2.0)
    assert not forecaster.learn(START + RES, 5.0)  # duplicate slot
    assert not forecaster.learn(START, 5.0)  # older
    assert not forecaster.learn(START + 2 * RES, math.nan)
    assert (forecaster.learned, forecaster.ignored) == (2, 3)
    assert forecaster.latest_event_start == START + RES


def test_naive_datetimes_and_forecasts_into_the_past_are_rejected():
    forecaster = SensorForecaster(config())
    with pytest.raises(ValueError, match="timezone-aware"):
        forecaster.learn(datetime(2024, 3, 4), 1.0)
    with pytest.raises(ValueError, match="no readings"):
        forecaster.forecast(START, 4)
    forecaster.learn(START, 1.0)
    with pytest.raises(ValueError, match="not after"):
        forecaster.forecast(START, 4)


def test_forecast_slots_horizons_and_local_time():
    forecaster = SensorForecaster(config())
    run(forecaster, readings(96 * 2))
    now = START + 96 * 2 * RES
    made = forecaster.forecast(now.astimezone(ZoneInfo("Europe/Amsterdam")), 8)
    assert made.now_start == now
    assert made.event_starts[0] == now and made.event_starts[-1] == now + 7 * RES
    assert len(made.values) == len(made.selected) == 8
    models = {"naive_day", "naive_week", "weekly_profile", "lag_linear", "lag_median", "holt_winters"}
    assert set(made.per_model) == models
    assert forecaster.horizon_steps == 192  # 48 h of 15 min


def test_gaps_are_bridged_and_long_gaps_restart_the_series():
    forecaster = SensorForecaster(config())
    data = readings(96 * 9)
    run(forecaster, data[: 96 * 3])
    run(forecaster, data[96 * 3 + 10 :])  # a gap of 10 slots
    assert forecaster.learned == len(data) - 10
    stale = forecaster.forecast(forecaster.latest_event_start + 5 * RES, 8)  # data 4 slots stale
    assert all(math.isfinite(v) for v in stale.values)
    later = forecaster.latest_event_start + timedelta(days=30)  # beyond max_gap (a week)
    assert forecaster.learn(later, 3.0)
    made = forecaster.forecast(later + RES, 8)
    assert all(math.isfinite(v) for v in made.values)
