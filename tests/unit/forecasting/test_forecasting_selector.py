"""Model selection per horizon bucket on running 1-WAPE over matured forecasts."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from domain.forecasting import ForecasterConfig, SensorForecaster
from domain.forecasting.selector import ModelSelector

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def record_and_score(selector: ModelSelector, slot: int, actual: float, good: str, bucket: int = 0) -> None:
    predictions = [[actual if name == good else actual + 5.0] for name in selector.models]
    selector.record([slot], [bucket], predictions)
    selector.score(slot, actual)


def test_selector_picks_the_model_with_the_lowest_wape_and_follows_changes():
    selector = ModelSelector(("a", "b", "c"), ("1h", "6h"), window=48, bin_width=1)
    assert selector.choices() == {"1h": "a", "6h": "a"}  # nothing matured yet: configured order
    for slot in range(100):
        record_and_score(selector, slot, 10.0, good="b")
    assert selector.choice(0) == "b"
    assert selector.running_errors()["1h"]["b"]["one_minus_wape"] == 1.0
    assert selector.running_errors()["1h"]["a"]["mae"] == 5.0
    assert selector.choice(1) == "a"  # bucket 6h saw nothing
    for slot in range(100, 200):  # the window (48 slots) forgets b's good days
        record_and_score(selector, slot, 10.0, good="c")
    assert selector.choice(0) == "c"


def test_unmatured_forecasts_for_missing_slots_are_dropped():
    selector = ModelSelector(("a", "b"), ("1h",), window=48, bin_width=1)
    selector.record([1, 2, 3], [0, 0, 0], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    selector.score(3, 1.0)  # slots 1 and 2 never arrived
    assert selector.running_errors()["1h"]["a"]["n"] == 1
    assert not selector._pending


def test_all_zero_actuals_fall_back_to_mae():
    selector = ModelSelector(("a", "b"), ("1h",), window=48, bin_width=1)
    for slot in range(10):
        selector.record([slot], [0], [[0.5], [0.1]])
        selector.score(slot, 0.0)
    assert math.isnan(selector.running_errors()["1h"]["a"]["wape"])
    assert selector.choice(0) == "b"


def test_forecaster_serves_each_bucket_with_its_best_model():
    rng = random.Random(5)
    week = [rng.uniform(0.0, 40.0) for _ in range(168)]  # a weekly profile: yesterday is a poor guess
    config = ForecasterConfig(
        resolution=HOUR, timezone="UTC", country=None, models=("naive_day", "naive_week"), combine="select"
    )
    forecaster = SensorForecaster(config)
    for i in range(24 * 7 * 4):
        forecaster.observe(START + i * HOUR, week[i % 168] + rng.gauss(0.0, 0.5))
    assert forecaster.selection() == {"1h": "naive_week", "6h": "naive_week", "24h": "naive_week", "48h": "naive_week"}
    errors = forecaster.running_errors()
    for bucket in errors.values():
        assert bucket["naive_week"]["one_minus_wape"] > bucket["naive_day"]["one_minus_wape"]
    made = forecaster.forecast(START + 24 * 7 * 4 * HOUR, 48)
    assert set(made.selected) == {"naive_week"}
    assert made.values == made.per_model["naive_week"]
