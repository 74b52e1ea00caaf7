"""The numpy core of the forecaster equals the plain-Python arithmetic it replaced, float for float.

Selector ring against the per-target dict, error table against one RunningWindowError per
cell, Holt-Winters and the look-up models against River and the history, the ensemble against
sum() in model order; and an hourly checkpoint (the selector's fast path, gaps, a restart)
against learning straight through.
"""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.forecasting import ForecasterConfig, RunningWindowError, SensorForecaster
from domain.forecasting.ensemble import combine, error_weights, table_weights, table_weights_of
from domain.forecasting.history import SlotHistory
from domain.forecasting.metrics import ErrorTotals, WindowedErrorTable
from domain.forecasting.models import HoltWintersModel, SeasonalNaive
from domain.forecasting.selector import ModelSelector

START = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
STEP_BUCKETS = (0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)  # a 12-step horizon, buckets 1, 3, 4, 4 steps wide
LABELS = ("1", "4", "8", "12")


def test_error_table_equals_one_running_window_per_bucket_and_model():
    rng = random.Random(3)
    table = WindowedErrorTable(buckets=3, models=2, window=10, bin_width=3)
    cells = [[RunningWindowError(10, 3) for _ in range(2)] for _ in range(3)]
    for time in range(400):
        if rng.random() < 0.2:
            continue  # no observation at all
        sums = np.zeros((3, 4))
        for bucket in range(3):
            if rng.random() < 0.3:
                continue  # this bucket had nothing to score
            count = rng.randint(1, 4)
            errors = [rng.uniform(0.0, 9.0) * count for _ in range(2)]
            actual = rng.uniform(0.0, 20.0) * count
            sums[bucket] = [*errors, actual, count]
            for model in range(2):
                cells[bucket][model].add_sums(time, errors[model], actual, count)
        table.add(time, sums)
        for bucket in range(3):
            expected = [cell.totals() for cell in cells[bucket]]
            assert table.totals(bucket) == expected  # exact: same additions in the same order


def _same(a, b) -> bool:
    """Equal, nested, with NaN equal to NaN."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


def _record_forecast(selectors, first: int, steps: int, rng: random.Random) -> None:
    predictions = [[rng.uniform(0.0, 10.0) for _ in range(steps)] for _ in range(3)]
    for selector in selectors:
        selector.record(range(first, first + steps), STEP_BUCKETS[:steps], predictions)


def _run_selectors(ad_hoc: bool, seed: int) -> tuple[ModelSelector, ModelSelector]:
    rng = random.Random(seed)
    ring = ModelSelector(("a", "b", "c"), LABELS, window=48, bin_width=6, step_buckets=STEP_BUCKETS)
    plain = ModelSelector(("a", "b", "c"), LABELS, window=48, bin_width=6)  # no step buckets: the dict only
    selectors = (ring, plain)
    slot = 100
    for _ in range(300):
        roll = rng.random()
        if roll < 0.1:  # readings missing: the missed forecasts (at most a horizon of them), then the reading
            gap = rng.randint(1, 15)
            for skipped in range(slot + 1, min(slot + gap, slot + 12) + 1):
                _record_forecast(selectors, skipped, 12, rng)
            slot += gap
        elif roll < 0.15 and ad_hoc:  # an ad-hoc recorded forecast, shorter, from the next forecast's slot
            _record_forecast(selectors, slot + 1, rng.randint(1, 12), rng)
        actual = rng.choice([0.0, rng.uniform(0.0, 10.0)])
        for selector in selectors:
            selector.score(slot, actual)
        _record_forecast(selectors, slot + 1, 12, rng)
        slot += 1
        yield ring, plain


def test_selector_ring_scores_exactly_as_the_per_target_dict():
    for ring, plain in _run_selectors(ad_hoc=False, seed=11):
        assert _same(ring.running_errors(), plain.running_errors())  # same additions, same order
        assert ring.choices() == plain.choices()
    assert ring.scored > 200 and not ring._pending and plain._pending


def test_selector_ring_with_ad_hoc_forecasts_agrees_up_to_rounding():
    # a second forecast from the same slot waits in the dict and is added after the ring's cells
    for ring, plain in _run_selectors(ad_hoc=True, seed=12):
        for label, models in plain.running_errors().items():
            for model, figures in models.items():
                for key, value in figures.items():
                    got = ring.running_errors()[label][model][key]
                    assert got == value or math.isclose(got, value, rel_tol=1e-12) or (got != got and value != value)
    assert ring._pending


def test_selector_state_keeps_what_is_still_to_be_scored():
    rng = random.Random(5)
    selector = ModelSelector(("a", "b", "c"), LABELS, window=48, bin_width=6, step_buckets=STEP_BUCKETS)
    for slot in range(40):
        selector.score(slot, rng.uniform(0.0, 5.0))
        _record_forecast([selector], slot + 1, 12, rng)
    copy = pickle.loads(pickle.dumps(selector))
    for slot in range(40, 80):
        actual = rng.uniform(0.0, 5.0)
        for s in (selector, copy):
            s.score(slot, actual)
        _record_forecast([selector, copy], slot + 1, 12, rng)
    assert _same(copy.running_errors(), selector.running_errors())


def _combined(weights: np.ndarray, predictions: np.ndarray, low: float = math.nan, high: float = math.nan) -> list:
    """``combine`` with one weight row per step (``weights`` models x steps): the ensemble's row."""
    table = np.vstack([predictions, np.zeros((1, predictions.shape[1]))])
    combine(np.ascontiguousarray(weights.T), np.arange(predictions.shape[1]), table, low, high)
    return table[-1].tolist()


def test_combine_adds_the_weighted_models_in_order_and_skips_weight_zero():
    rng = np.random.default_rng(2)
    predictions = rng.uniform(0.0, 50.0, (6, 48))
    predictions[4, 7] = math.inf  # a model of weight 0 may hold anything
    weights = rng.uniform(0.0, 1.0, (6, 48))
    weights[4] = 0.0
    expected = [sum(weights[m, k] * predictions[m, k] for m in range(6) if weights[m, k] > 0) for k in range(48)]
    assert _combined(weights, predictions) == expected


def test_combine_equals_the_numpy_sum_in_model_order_and_clips():
    rng = np.random.default_rng(3)
    predictions = rng.uniform(-20.0, 50.0, (6, 48))
    predictions[2, 5] = math.nan  # a bound replaces NaN
    weights = rng.uniform(0.0, 1.0, (6, 48))
    weights[3, ::3] = 0.0
    clipped = np.fmin(np.fmax(predictions, 0.0), 40.0)
    expected = np.fmin(np.fmax(np.add.reduce(weights * clipped, axis=0), 0.0), 40.0)  # leading axis: row after row
    assert _combined(weights, predictions, 0.0, 40.0) == expected.tolist()
    finite = np.nan_to_num(predictions)
    assert _combined(weights, finite) == np.add.reduce(weights * finite, axis=0).tolist()


def test_combine_refuses_weights_that_do_not_fit_the_table():
    table = np.zeros((4, 5))
    for weights, rows in ((np.ones((2, 2)), np.zeros(5, dtype=np.intp)), (np.ones((2, 3)), np.full(5, 2))):
        with pytest.raises(ValueError):
            combine(weights, rows, table, math.nan, math.nan)


def test_selected_forecasts_are_clipped_before_they_are_served():
    config = ForecasterConfig(
        resolution=HOUR, country=None, models=("naive_day", "naive_week"), combine="select", value_range=(1.0, 6.0)
    )
    forecaster = SensorForecaster(config)
    rng = random.Random(8)
    for i in range(24 * 9):
        forecaster.observe(START + i * HOUR, rng.choice([-3.0, rng.uniform(0.0, 9.0), 12.0]))
    made = forecaster.forecast(START + 24 * 9 * HOUR)
    per_model = [made.per_model[name] for name in made.selected]
    assert made.values == tuple(values[k] for k, values in enumerate(per_model))
    assert min(made.values) == 1.0 and max(made.values) == 6.0


def test_table_weights_equal_error_weights_per_bucket():
    rng = random.Random(4)
    for _ in range(200):
        count = rng.choice([0, 1, 5, 40])
        errors = [rng.choice([0.0, rng.uniform(0.0, 30.0)]) for _ in range(6)]
        totals = [ErrorTotals(e, 100.0, count) for e in errors]
        for power, top, min_count in ((16.0, 3, 1), (2.0, 2, 5), (1.0, 6, 0)):
            expected = error_weights(totals, min_count, power, top)
            assert table_weights([errors], [count], min_count, power, top) == [expected]


def test_table_weights_of_numpy_sums_equal_error_weights():
    rng = random.Random(7)
    for _ in range(300):
        counts = [rng.choice([1, 5, 40, 0]) if rng.random() < 0.2 else 40 for _ in range(4)]
        errors = [
            [rng.choice([0.0, 0.0, 1.0]) if rng.random() < 0.1 else rng.uniform(0.0, 30.0) for _ in range(6)]
            for _ in range(4)
        ]
        if rng.random() < 0.3:
            errors[1][2] = errors[1][4]  # a tie: model order decides
        for power, top, min_count in ((16.0, 3, 1), (2.0, 2, 5), (1.0, 6, 0)):
            expected = [
                error_weights([ErrorTotals(e, 100.0, int(c)) for e in row], min_count, power, top)
                for row, c in zip(errors, counts, strict=True)
            ]
            got = table_weights_of(np.array(errors), np.array(counts, dtype=float), min_count, power, top)
            assert got.tolist() == expected


def _history_of(values: list[float | None]) -> SlotHistory:
    history = SlotHistory(24 * 9 + 2, 24, 24 * 7)
    for slot, value in enumerate(values, start=1000):
        if value is not None:
            history.append(slot, value)
    return history


def test_recent_values_and_all_known_agree_with_get_also_when_restored():
    rng = random.Random(5)
    values = [rng.uniform(0.0, 9.0) for _ in range(24 * 12)]
    history = _history_of(values)
    history.append(history.last_slot + 1, math.nan)  # a NaN value: unknown from here
    history.append(history.last_slot + 1, 4.0)
    last = history.last_slot
    offsets = np.arange(-history.capacity + 1, 1)
    for restored in (history, pickle.loads(pickle.dumps(history))):
        expected = [restored.get(last + offset) for offset in offsets.tolist()]
        assert np.array_equal(restored.recent_values(offsets), expected, equal_nan=True)
        assert restored.all_known(last) and not restored.all_known(last - 1)
    history.append(last + 1, 2.0)
    assert history.all_known(last) and history.recent_values(np.array([0]))[0] == 2.0


def test_seasonal_naive_reads_what_the_history_holds():
    rng = random.Random(8)
    for length in (30, 24 * 8 + 5):
        values = [None if rng.random() < 0.1 else rng.uniform(0.0, 9.0) for _ in range(length)]
        values[0] = values[-1] = 1.0
        history = _history_of(values)
        origin = history.last_slot
        for period in (24, 168):
            model = SeasonalNaive("naive", period, 24)
            for targets in (range(origin + 1, origin + 49), range(origin + 5, origin + 30), [origin + 3, origin + 60]):
                got = model.forecast(history, origin, targets)
                level = history.mean(origin, 24)
                expected = []
                for target in targets:
                    value = history.get(target - period * -((origin - target) // period))
                    if value != value:
                        value = history.get(target - 24 * -((origin - target) // 24))
                    expected.append(value if value == value else level)
                assert got == expected


def test_holt_winters_forecast_array_equals_rivers_forecast():
    rng = random.Random(6)
    model = HoltWintersModel("holt_winters", 24, 24, 0.01, 0.0001, 0.3)
    for slot in range(24 * 5):
        model.learn_one(None, slot, 10 + 5 * math.sin(slot / 3) + rng.gauss(0.0, 1.0), None, True)
    last = model.last_slot
    for targets in (range(last + 1, last + 49), range(last + 3, last + 10), [last + 2, last + 30]):
        river = model.model.forecast(max(targets) - last)
        assert model.forecast(None, last, targets) == [river[t - last - 1] for t in targets]


def test_hourly_checkpoint_with_gaps_continues_exactly():
    rng = random.Random(9)
    config = ForecasterConfig(resolution=HOUR, timezone="America/Los_Angeles", country="US", value_range=(0.0, None))
    data = []
    hour = 0
    for _ in range(24 * 20):
        hour += 1 if rng.random() > 0.03 else rng.randint(2, 9)  # missing readings now and then
        if len(data) == 24 * 12:
            hour += 24 * 8  # a gap longer than max_gap: the series restarts
        data.append((START + hour * HOUR, max(0.0, 20 * math.sin(hour / 4) + rng.gauss(0.0, 3.0))))
    cut = 24 * 15 + 7
    straight = SensorForecaster(config)
    for start, value in data[:cut]:
        straight.observe_all(start, value)
    restored = SensorForecaster.from_state(straight.to_state())

    def rest(forecaster):
        out = []
        for start, value in data[cut:]:
            for made in forecaster.observe_all(start, value) or ():
                out.append((made.now_start, made.values, dict(made.per_model), dict(made.weights)))
        return out

    assert rest(restored) == rest(straight)
    assert _same(restored.running_errors(), straight.running_errors())


def test_holt_winters_learns_as_river_updates():
    from river import time_series

    from domain.forecasting.models import _HoltWinters

    rng = random.Random(10)
    ours, rivers = (_HoltWinters(alpha=0.01, beta=0.0001, gamma=0.3, seasonality=24) for _ in range(2))
    for step in range(24 * 6):
        y = 10 + 5 * math.sin(step / 3) + rng.gauss(0.0, 1.0)
        ours.learn_one(y)
        if rivers._initialized:
            time_series.HoltWinters.learn_one(rivers, y)  # River's own updates
        else:
            rivers.learn_one(y)  # the same additive start
    assert ours._initialized
    assert (list(ours.level), list(ours.trend), list(ours.season)) == (
        list(rivers.level),
        list(rivers.trend),
        list(rivers.season),
    )
