"""Bench baseline: LightGBM direct multi-horizon model, retrained every week (bench-only dependency).

One model per evaluated horizon ``k`` (steps). A sample is an origin ``o`` (the last slot known
when forecasting; forecasts are made at every full hour, ``now = o + 1``) and the target
``t = o + k``. Features, all known at ``o``: the last values (``o``, one hour and one day
before), means of the last hour, day and week, the target's slot on the latest day known and a
week (and two) before, the median of the target's slot over the last 4 weeks, and the target's
local hour, minute, weekday and holiday flag. Objective L1 (the loss of WAPE). Trained on every
origin whose target is known before the retraining time (expanding window, at most a year),
retrained every 7 days of data from day 28 on; before the first training it forecasts nothing
(those slots are not scored).
"""

from __future__ import annotations

import math
from datetime import timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np

WEEK = timedelta(weeks=1)
FIRST_TRAINING = timedelta(days=28)
MAX_TRAINING = timedelta(days=365)
PARAMS = {
    "objective": "l1", "learning_rate": 0.07, "num_leaves": 31, "min_data_in_leaf": 20, "bagging_fraction": 0.8,
    "bagging_freq": 1, "feature_fraction": 0.9, "num_threads": 1, "verbose": -1, "seed": 1,
}


def _shift(values: np.ndarray, lag: int) -> np.ndarray:
    """``out[i] = values[i - lag]`` (NaN where out of range)."""
    out = np.full(len(values), np.nan)
    if lag < len(values):
        out[lag:] = values[: len(values) - lag]
    return out


def _rolling_mean(values: np.ndarray, width: int) -> np.ndarray:
    """``out[i]`` = mean of the finite values in ``(i - width, i]``."""
    finite = np.isfinite(values)
    cum = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    cnt = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(len(values)) + 1
    low = np.maximum(idx - width, 0)
    n = cnt[idx] - cnt[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cum[idx] - cum[low]) / np.maximum(n, 1), np.nan)


def _calendar(ds, n: int) -> np.ndarray:
    """Per slot: local hour, minute, weekday, holiday flag."""
    tz = ZoneInfo(ds.timezone)
    days = holidays.country_holidays(ds.country)
    out = np.zeros((n, 4))
    for i in range(n):
        local = (ds.start + i * ds.resolution).astimezone(tz)
        out[i] = (local.hour, local.minute, local.weekday(), float(local.date() in days))
    return out


def feature_matrix(ds, values: np.ndarray, k: int) -> np.ndarray:
    """Row ``o``: the features of origin ``o`` for target ``o + k`` (only values up to ``o``)."""
    n = len(values)
    hour, day, week = (int(timedelta(hours=1) / ds.resolution), int(timedelta(days=1) / ds.resolution),
                       int(WEEK / ds.resolution))
    day_back = day * math.ceil(k / day)
    origin_side = [values, _shift(values, hour), _shift(values, day), _rolling_mean(values, hour),
                   _rolling_mean(values, day), _rolling_mean(values, week)]
    # target-side lags are seen from the origin: value at t - L = o + k - L, with L >= k
    target_side = [_shift(values, day_back - k), _shift(values, week - k), _shift(values, 2 * week - k)]
    profile = np.nanmedian(np.stack([_shift(values, j * week - k) for j in range(1, 5)]), axis=0)
    calendar = _calendar(ds, n + k)[k:]
    return np.column_stack([*origin_side, *target_side, profile, calendar])


def _forecasts_for(ds, values: np.ndarray, k: int, lgb) -> np.ndarray:
    """``out[now]`` = the forecast made at ``now`` for slot ``now + k - 1``."""
    n = len(values)
    hour, week = int(timedelta(hours=1) / ds.resolution), int(WEEK / ds.resolution)
    x = feature_matrix(ds, values, k)
    y = np.concatenate([values[k:], np.full(k, np.nan)])
    origins = np.arange(n)
    hourly = (origins + 1) % hour == 0
    out = np.full(n + 1, np.nan)
    first = int(FIRST_TRAINING / ds.resolution)
    longest = int(MAX_TRAINING / ds.resolution)
    for retrain in range(first, n, week):  # trained at "now" = retrain, with the data in [0, retrain)
        train = hourly & (origins + k < retrain) & (origins >= retrain - longest) & np.isfinite(y)
        model = lgb.train(PARAMS, lgb.Dataset(x[train], y[train]), num_boost_round=200)
        serve = np.arange(retrain - 1, min(retrain - 1 + week, n))  # origins: now = o + 1 in [retrain, +week)
        out[serve + 1] = model.predict(x[serve])
    return out


def lightgbm_forecasts(ds, steps: list[int]) -> list[np.ndarray] | None:
    """Per step column: forecasts indexed by ``now``; None when lightgbm is not installed."""
    try:
        import lightgbm as lgb
    except ImportError:
        print("lightgbm not installed (pip install '.[bench]'): no LightGBM row")
        return None
    return [_forecasts_for(ds, ds.values, k, lgb) for k in steps]


def lightgbm_leakage_check(ds, cut: int) -> bool:
    """The feature rows of origins before ``cut`` do not change when the values from ``cut`` on change."""
    n = min(len(ds.values), cut + int(WEEK / ds.resolution))
    original = ds.values[:n].copy()
    scrambled = original.copy()
    scrambled[cut:] = scrambled[cut:][::-1] * 3.0 + 1.0
    for k in (1, int(timedelta(hours=48) / ds.resolution)):
        a, b = feature_matrix(ds, original, k)[:cut], feature_matrix(ds, scrambled, k)[:cut]
        if not np.array_equal(a, b, equal_nan=True):
            return False
    return True
