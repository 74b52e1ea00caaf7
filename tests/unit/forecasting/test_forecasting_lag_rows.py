"""The lag model's float rows, ridge bank and forecasts (compiled kernels) against the scalar definitions."""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.forecasting import ForecasterConfig, SensorForecaster
from domain.forecasting.features import LAG_KEYS, to_slot
from domain.forecasting.history import SlotHistory
from domain.forecasting.lag_kernels import TRANSFORM_CODES, predict_rows
from domain.forecasting.lag_model import LagRegression
from domain.forecasting.lag_rows import ANOMALY_KEYS
from domain.forecasting.regressors import OnlineRidge, RidgeBank
from domain.forecasting.transforms import TRANSFORMS, inverse_array

START = datetime(2024, 11, 18, tzinfo=UTC)  # a Monday; US Thanksgiving (Nov 28) and Christmas follow
HOUR = timedelta(hours=1)


def ev_load(hours: int, seed: int = 2) -> list[float]:
    rng = random.Random(seed)
    out = []
    for h in range(hours):
        bell = math.exp(-((((h % 24) - 13) / 3.5) ** 2)) * (40.0 if (h // 24) % 7 < 5 else 12.0)
        out.append(max(0.0, bell + rng.uniform(-2.0, 4.0)))
    return out


def hourly_forecaster(**overrides) -> SensorForecaster:
    settings = {"resolution": HOUR, "timezone": "America/Los_Angeles", "country": "US", "value_range": (0.0, None)}
    return SensorForecaster(ForecasterConfig(**{**settings, **overrides}))


def fed(hours: int, **overrides) -> SensorForecaster:
    forecaster = hourly_forecaster(**overrides)
    for i, value in enumerate(ev_load(hours)):
        forecaster.observe_all(START + i * HOUR, value)
    return forecaster


def test_ridge_bank_equals_one_online_ridge_per_model():
    rng = np.random.default_rng(5)
    size, count = 6, 3
    bank = RidgeBank(count, size, alpha=1.0, beta=1.0)
    ridges = [OnlineRidge(1.0, 1.0) for _ in range(count)]
    for step in range(150):
        rows = rng.normal(size=(count, size)) * (rng.random(size=(count, size)) < 0.6)
        target = float(rng.normal())
        models = [0, 1, 2] if step % 3 else [step % count]  # all at once, or one
        bank.learn(models, rows[: len(models)], target)
        for model, row in zip(models, rows, strict=False):
            ridges[model].learn_one({f"f{i}": float(v) for i, v in enumerate(row)}, target)
    for model, ridge in enumerate(ridges):
        assert bank.coefficients[model] == pytest.approx(list(ridge.coefficients().values()), rel=1e-9, abs=1e-12)
        assert bank.inverse_of(model) == pytest.approx(ridge.inverse, rel=1e-9, abs=1e-12)


def test_ridge_bank_learns_towards_the_median_as_irls_on_weighted_samples():
    rng = np.random.default_rng(8)
    bank, ridge, delta = RidgeBank(1, 4), OnlineRidge(), 0.3
    for _ in range(120):
        row = rng.normal(size=4)
        target = float(row @ [1.0, -1.0, 0.5, 0.0] + (25.0 if rng.random() < 0.1 else rng.normal(scale=0.1)))
        x = {f"f{i}": float(v) for i, v in enumerate(row)}
        root = 1.0 / math.sqrt(max(abs(target - ridge.predict_one(x)), delta))
        ridge.learn_one({k: v * root for k, v in x.items()}, target * root)
        bank.learn([0], row[None, :], target, l1_delta=delta)
    assert bank.coefficients[0] == pytest.approx(list(ridge.coefficients().values()), rel=1e-9, abs=1e-12)


def test_a_pickled_ridge_bank_continues_with_the_same_floats():
    rng = np.random.default_rng(1)
    bank = RidgeBank(2, 5)
    data = [(rng.normal(size=(2, 5)), float(rng.normal())) for _ in range(60)]
    for rows, target in data[:30]:
        bank.learn([0, 1], rows, target, 0.3)
    restored = pickle.loads(pickle.dumps(bank))
    for rows, target in data[30:]:
        bank.learn([0, 1], rows, target, 0.3)
        restored.learn([0, 1], rows, target, 0.3)
    assert np.array_equal(bank.coefficients, restored.coefficients)
    assert np.array_equal(bank.inverse, restored.inverse)


def test_values_at_equals_get_inside_and_outside_the_ring():
    history = SlotHistory(capacity=30, steps_per_day=10, max_gap=100)
    for slot in range(100, 147):
        history.append(slot, float(slot % 17))
    slots = np.arange(90, 160)
    expected = [history.get(s) for s in slots]
    assert np.array_equal(history.values_at(slots), expected, equal_nan=True)
    restored = pickle.loads(pickle.dumps(history))
    assert np.array_equal(restored.values_at(slots), expected, equal_nan=True)


def _scalar_profile(model, slot: int, fallback: float) -> float:
    """The weekly profile at ``slot``, transformed and scaled as the lag model's features; ``fallback`` where none."""
    level = model.profile.value(slot)
    if level != level:
        return fallback
    return (TRANSFORMS[model.transform][0](level) - model.scaler.shift) * model.scaler.scale


def test_forecast_rows_equal_the_scalar_features_of_every_target():
    forecaster = fed(24 * 12)  # through Thanksgiving: holiday one-hots and similar days
    model = forecaster.models["lag_linear"]
    history, layout = model.own, model.layout
    origin = history.last_slot
    for targets in (range(origin + 1, origin + 49), range(origin + 30, origin + 230)):  # horizons beyond a week
        rows = model._forecast_rows(history, origin, targets, None)
        scaler = model.scaler
        for row, target in zip(rows, targets, strict=True):
            # the same floats as the row of this pair among the training rows
            assert np.array_equal(row, model._training_rows(history, (origin - 1, origin), target, None)[1])
            calendar = forecaster.calendar
            lags = model.lags.at(history, origin, target - origin, scaler.shift, scaler.shift, scaler.scale)
            named = dict(zip(layout.keys, row.tolist(), strict=True))
            assert {k: named[k] for k in (*LAG_KEYS, "hzn")} == pytest.approx(lags, rel=1e-12, abs=1e-12)
            wpo = _scalar_profile(model, origin, lags["y0"])
            assert named["wp"] == pytest.approx(_scalar_profile(model, target, lags["w1"]), rel=1e-12, abs=1e-12)
            assert named["wpo"] == pytest.approx(wpo, rel=1e-12, abs=1e-12)
            hour = (calendar.week_slot(target) % 24) // 1
            anomalies = [named[key] for key in ANOMALY_KEYS]
            assert anomalies == pytest.approx([lags["y0"] - wpo if h == hour else 0.0 for h in range(24)], abs=1e-12)
            hot = {k for k, v in named.items() if v == 1.0 and k not in (*LAG_KEYS, "hzn", "wp", "wpo", *ANOMALY_KEYS)}
            assert hot == set(calendar.of_slot(target))  # the calendar one-hots of the target


def test_similar_days_of_the_rows_equal_the_scalar_search():
    forecaster = fed(24 * 40)  # Thanksgiving and Christmas
    model = forecaster.models["lag_linear"]
    lags, scaler, last = model.lags, model.scaler, forecaster.history.last_slot
    slots = SlotHistory(capacity=24 * 60, steps_per_day=24, max_gap=24)
    for slot in range(last - 24 * 50, last + 1):
        slots.append(slot, float(slot))  # each value names its slot
    origin = last - 24 * 20
    for first_step, count in ((1, 48), (5, 300)):
        targets = range(origin + first_step, origin + first_step + count)
        rows = model._forecast_rows(slots, origin, targets, None)
        found = rows[:, model.layout.target_lags.start + 2] / scaler.scale + scaler.shift  # the sd column, unscaled
        assert np.rint(found).astype(int).tolist() == [lags.similar_day(origin, target) for target in targets]


def test_hourly_checkpoint_continues_exactly_like_straight_through():
    values = ev_load(24 * 16)
    straight = hourly_forecaster()
    cut = 24 * 9 + 5
    for i, value in enumerate(values[:cut]):
        straight.observe_all(START + i * HOUR, value)
    restored = SensorForecaster.from_state(straight.to_state())
    for i, value in enumerate(values[cut:], start=cut):
        made = straight.observe_all(START + i * HOUR, value)
        assert restored.observe_all(START + i * HOUR, value) == made


def test_rows_of_a_lag_model_without_profile_equal_the_scalar_features():
    parts = hourly_forecaster().models["lag_linear"]
    model = LagRegression("plain", parts.buckets, parts.lags, parts.calendar, transform="log1p")
    history = SlotHistory(parts.lags.required_capacity(), 24, 24 * 7)
    first = to_slot(START, HOUR)
    for slot, value in enumerate(ev_load(24 * 12), start=first):
        history.append(slot, value)
        model.learn_one(history, slot, value, None, True)
    own, layout, scaler = model.own, model.layout, model.scaler
    origin = own.last_slot
    targets = range(origin + 1, origin + 49)
    rows = model._forecast_rows(own, origin, targets, None)
    assert "wp" not in layout.keys and not set(ANOMALY_KEYS) & set(layout.keys)
    for row, target in zip(rows, targets, strict=True):
        lags = model.lags.at(own, origin, target - origin, scaler.shift, scaler.shift, scaler.scale)
        named = dict(zip(layout.keys, row.tolist(), strict=True))
        assert {k: named[k] for k in (*LAG_KEYS, "hzn")} == pytest.approx(lags, rel=1e-12, abs=1e-12)
        hot = {k for k, v in named.items() if v == 1.0 and k not in (*LAG_KEYS, "hzn")}
        assert hot == set(model.calendar.of_slot(target))
    steps = [model.buckets.bucket_of(target - origin) for target in targets]
    scaled = (rows * model.bank.coefficients[steps]).sum(axis=1) / scaler.scale + scaler.shift
    expected = inverse_array("log1p", scaled)
    assert model.forecast_array(history, origin, targets) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("transform", [None, "sqrt", "log1p"])
def test_predict_rows_equals_the_products_unscaled_and_inverse_transformed(transform):
    rng = np.random.default_rng(3)
    rows, coefficients = rng.normal(size=(40, 7)) * 3.0, rng.normal(size=(3, 7)) * 40.0
    rows[5, 2] = math.nan  # NaN gives 0.0 under a transform, as inverse_array
    models = rng.integers(0, 3, size=40)
    expected = inverse_array(transform, (rows * coefficients[models]).sum(axis=1) / 0.5 + 2.0)
    found = predict_rows(rows, coefficients, models.astype(np.int64), 2.0, 0.5, TRANSFORM_CODES[transform])
    assert np.allclose(found, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert transform is None or (found[5] == 0.0 and (found >= 0.0).all())
