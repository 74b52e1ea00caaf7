"""WAPE, 1-WAPE and MAE formulas, and their running-window versions."""

from __future__ import annotations

import math

import pytest

from domain.forecasting.metrics import ErrorTotals, RunningWindowError, mae, one_minus_wape, wape


def test_wape_one_minus_wape_and_mae_formulas():
    actual, predicted = [10.0, 0.0, 5.0], [8.0, 1.0, 5.0]
    assert wape(actual, predicted) == pytest.approx(3.0 / 15.0)
    assert one_minus_wape(actual, predicted) == pytest.approx(0.8)
    assert mae(actual, predicted) == pytest.approx(1.0)


def test_negative_values_count_by_magnitude():
    # production is negative (USEF): WAPE weighs by |actual|
    assert wape([-4.0, 4.0], [-2.0, 4.0]) == pytest.approx(2.0 / 8.0)


def test_nan_pairs_are_skipped_and_zero_actuals_give_nan():
    assert mae([1.0, math.nan, 3.0], [2.0, 5.0, math.nan]) == pytest.approx(1.0)
    assert math.isnan(wape([0.0, 0.0], [1.0, 2.0]))
    assert math.isnan(mae([], []))
    with pytest.raises(ValueError):
        wape([1.0], [1.0, 2.0])


def test_error_totals_match_the_functions():
    actual, predicted = [3.0, 7.0, 0.0, 2.5], [2.0, 9.0, 1.0, 2.5]
    totals = ErrorTotals()
    for a, p in zip(actual, predicted, strict=True):
        totals.add(a, p)
    assert totals.wape == pytest.approx(wape(actual, predicted))
    assert totals.one_minus_wape == pytest.approx(one_minus_wape(actual, predicted))
    assert totals.mae == pytest.approx(mae(actual, predicted))
    assert totals.as_dict()["n"] == 4


def test_running_window_keeps_only_the_last_window():
    window = RunningWindowError(window=4, bin_width=1)
    for time in range(10):
        window.add(time, actual=float(time), predicted=0.0)
    totals = window.totals()
    assert totals.count == 4  # times 6, 7, 8, 9
    assert totals.abs_error == pytest.approx(6 + 7 + 8 + 9)
    assert totals.one_minus_wape == pytest.approx(0.0)


def test_running_window_bins_evict_whole_bins():
    window = RunningWindowError(window=24, bin_width=6)
    for time in range(48):
        window.add(time, actual=1.0, predicted=1.5)
    assert window.totals().count == 24
    assert window.totals().mae == pytest.approx(0.5)
