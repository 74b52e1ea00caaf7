"""Seasonal naive exactness, the lag model against a constant, Holt-Winters on a periodic series."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.forecasting import ForecasterConfig, SensorForecaster

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def weekly_series(hours: int) -> list[float]:
    """Hourly values repeating every week exactly (workdays differ from weekends)."""
    rng = random.Random(7)
    week = [rng.uniform(0.0, 50.0) for _ in range(168)]
    return [week[h % 168] for h in range(hours)]


def daily_series(hours: int, noise: float, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [20 + 15 * math.sin(2 * math.pi * (h % 24) / 24) + rng.gauss(0.0, noise) for h in range(hours)]


def feed(forecaster: SensorForecaster, values: list[float], resolution: timedelta = HOUR) -> None:
    for i, value in enumerate(values):
        forecaster.learn(START + i * resolution, value)


def config(**overrides) -> ForecasterConfig:
    return ForecasterConfig(resolution=HOUR, timezone="UTC", country=None, **overrides)


def test_seasonal_naive_is_exact_on_a_periodic_series():
    values = weekly_series(24 * 7 * 3)
    forecaster = SensorForecaster(config())
    learned = 24 * 7 * 2
    feed(forecaster, values[:learned])
    made = forecaster.forecast(START + learned * HOUR, 48)
    # same time last week reproduces a weekly series exactly
    assert list(made.per_model["naive_week"]) == values[learned : learned + 48]
    # same time yesterday (two days back beyond 24 h) is exact when yesterday is the same weekday profile
    daily = [v % 24.0 for v in range(24)] * 10
    forecaster = SensorForecaster(config())
    feed(forecaster, daily[:72])
    assert list(forecaster.forecast(START + 72 * HOUR, 48).per_model["naive_day"]) == daily[72:120]


def test_lag_model_learns_a_daily_pattern_better_than_a_constant():
    values = daily_series(24 * 35, noise=1.0)
    forecaster = SensorForecaster(config(models=("lag_linear",)))
    train = 24 * 28
    feed(forecaster, values[:train])
    constant = sum(values[:train]) / train
    lag_errors, constant_errors = [], []
    for i in range(train, len(values) - 24, 6):
        made = forecaster.forecast(START + i * HOUR, 24)
        actual = values[i : i + 24]
        lag_errors += [abs(a - p) for a, p in zip(actual, made.per_model["lag_linear"], strict=True)]
        constant_errors += [abs(a - constant) for a in actual]
        feed_range(forecaster, values, i, i + 6)
    assert sum(lag_errors) / len(lag_errors) < 0.3 * sum(constant_errors) / len(constant_errors)


def feed_range(forecaster: SensorForecaster, values: list[float], first: int, stop: int) -> None:
    for i in range(first, stop):
        forecaster.learn(START + i * HOUR, values[i])


def test_holt_winters_tracks_a_periodic_series():
    values = weekly_series(24 * 7 * 4)
    forecaster = SensorForecaster(config(models=("holt_winters",)))
    learned = 24 * 7 * 3
    feed(forecaster, values[:learned])
    made = forecaster.forecast(START + learned * HOUR, 48)
    assert made.per_model["holt_winters"] == pytest.approx(values[learned : learned + 48], abs=1e-6)


def test_regressors_are_used_by_the_lag_model():
    rng = random.Random(11)
    temperature = [rng.uniform(-5.0, 25.0) for _ in range(24 * 30)]
    load = [100.0 - 2.0 * t for t in temperature]  # no calendar pattern: only the regressor explains it
    forecaster = SensorForecaster(config(models=("lag_linear",)))
    train = 24 * 28
    for i in range(train):
        forecaster.learn(START + i * HOUR, load[i], {"temperature_c": temperature[i]})
    future = {"temperature_c": temperature[train : train + 24]}
    made = forecaster.forecast(START + train * HOUR, 24, future)
    errors = [abs(a - p) for a, p in zip(load[train : train + 24], made.values, strict=True)]
    assert max(errors) < 1.0


def test_lookup_models_fall_back_to_yesterday_where_they_know_nothing():
    values = daily_series(24 * 3, noise=2.0)  # Monday to Wednesday only
    forecaster = SensorForecaster(config())
    feed(forecaster, values)
    made = forecaster.forecast(START + 72 * HOUR, 48)  # Thursday and Friday: no week-old value, no profile
    assert made.per_model["naive_week"] == made.per_model["naive_day"]
    assert made.per_model["weekly_profile"] == made.per_model["naive_day"]
    assert list(made.per_model["naive_day"][:24]) == values[48:72]


def spiky_series(hours: int) -> list[float]:
    """A daily load with a rare large spike (1 hour in 20): the median and the mean part ways."""
    rng = random.Random(5)
    base = daily_series(hours, noise=1.0)
    return [b + (200.0 if rng.random() < 0.05 else 0.0) for b in base]


def test_the_l1_option_moves_the_lag_model_towards_the_median():
    values = spiky_series(24 * 42)
    train = 24 * 35
    errors = {}
    for delta in (None, 0.3):
        forecaster = SensorForecaster(config(models=("lag_linear",), lag_transform="none", lag_l1_delta=delta))
        feed(forecaster, values[:train])
        total = 0.0
        for i in range(train, len(values) - 24, 6):
            made = forecaster.forecast(START + i * HOUR, 24)
            total += sum(abs(a - p) for a, p in zip(values[i : i + 24], made.values, strict=True))
            feed_range(forecaster, values, i, i + 6)
        errors[delta] = total
    assert errors[0.3] < 0.9 * errors[None]  # the absolute error (what WAPE sums) falls


def test_online_ridge_equals_the_closed_form_ridge_regression():
    import numpy as np

    from domain.forecasting.regressors import OnlineRidge

    rng = np.random.default_rng(3)
    features = rng.normal(size=(200, 4))
    target = features @ np.array([1.5, -2.0, 0.0, 0.7]) + rng.normal(scale=0.1, size=200)
    ridge = OnlineRidge(alpha=1.0, beta=1.0)
    for row, y in zip(features, target, strict=True):
        # a feature missing from a sample counts as 0
        ridge.learn_one({f"f{i}": float(v) for i, v in enumerate(row) if v != 0.0}, float(y))
    exact = np.linalg.solve(np.eye(4) + features.T @ features, features.T @ target)
    assert list(ridge.coefficients().values()) == pytest.approx(exact.tolist(), rel=1e-9)
    probe = {"f0": 0.3, "f3": -1.0, "unseen": 5.0}
    assert ridge.predict_one(probe) == pytest.approx(0.3 * exact[0] - exact[3], rel=1e-9)
