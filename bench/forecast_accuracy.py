"""Online forecast accuracy on the real series in ``../shared/data``: the service against baselines.

The service's forecaster runs exactly as ``streams/forecaster.py`` runs it: its config comes
from :func:`domain.forecasting.service.service_config` (a sensor registration, its
``forecasting`` attribute and its asset type, so the same value range and models), and each
reading goes through ``SensorForecaster.observe_all`` (the processor's call). No clipping or
tuning happens here. At every full hour of data it forecasts the next 48 h from what it has
learned, then learns the next readings (no look-ahead; the leakage check below proves it).

Scored on the last ``--score-days`` (default 120) of each series, on the slot whose horizon
(slot end minus forecast time) is exactly 1, 6, 24 and 48 h, for every forecast issued in the
window; 1-WAPE (higher is better). Side by side, on the same slots:

* ``service (ensemble)``: what the service stores; below it, each of its models alone;
* ``persistence`` (last value), ``seasonal naive`` (same slot a week earlier),
  ``profile median Nw`` (median of the same slot over the last N weeks: a plain
  median-by-hour-of-week profile);
* ``LightGBM direct``: one LightGBM model per horizon (objective L1, the metric's loss) on lag,
  rolling-mean, profile and calendar features, retrained every week on all data before that
  week (the model class FlexMeasures uses; bench-only dependency ``.[bench]``);
* the ENTSO-E day-ahead forecast where the data set has one.

Leakage check: for each series the service forecasts are recomputed with every value after a
cut-off time scrambled; all forecasts issued at or before the cut-off must be identical (and
the LightGBM feature rows up to the cut-off too).

    PYTHONPATH=. .venv/bin/python bench/forecast_accuracy.py          # all series, ~1-3 CPU-minutes each
    PYTHONPATH=. .venv/bin/python bench/forecast_accuracy.py --only jpl
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forecast_data import Dataset, load_datasets  # noqa: E402
from bench.forecast_lgbm import lightgbm_forecasts, lightgbm_leakage_check  # noqa: E402
from domain.forecast_events import settings_from_attributes  # noqa: E402
from domain.forecasting import ErrorTotals, ForecasterConfig, SensorForecaster  # noqa: E402
from domain.forecasting.service import service_config  # noqa: E402
from domain.registry import SensorRegistered  # noqa: E402
from infra.shared_data import shared_data_dir  # noqa: E402

EVAL_HOURS = (1, 6, 24, 48)
SERVICE = "service (ensemble)"
PROFILE_WEEKS = (4, 8)


@dataclass
class Result:
    dataset: Dataset
    rows: dict[str, list[ErrorTotals]] = field(default_factory=dict)
    readings: int = 0
    seconds: float = 0.0
    weights: dict = field(default_factory=dict)
    below_zero: int = 0
    leakage: str = ""


def service_forecaster(ds: Dataset, **overrides) -> SensorForecaster:
    """The forecaster the service would build for this series' sensor (``overrides``: exploration only)."""
    attributes = {"forecasting": {"country": ds.country}}
    sensor = SensorRegistered(
        sensor_id=1, asset_id=1, name=ds.sensor_name, unit=ds.unit,
        event_resolution_s=int(ds.resolution.total_seconds()), timezone=ds.timezone, attributes=attributes,
    )
    settings = settings_from_attributes(attributes, ds.unit)
    config = service_config(settings, sensor, ds.asset_type)
    if overrides:
        config = ForecasterConfig(**{**{f: getattr(config, f) for f in config.__slots__}, **overrides})
    return SensorForecaster(config)


def run_service(ds: Dataset, values: np.ndarray, **overrides) -> tuple[SensorForecaster, list]:
    """Feed ``values`` through the service's path; returns the forecaster and every forecast made."""
    forecaster = service_forecaster(ds, **overrides)
    made = []
    for i, value in enumerate(values.tolist()):
        forecasts = forecaster.observe_all(ds.start + i * ds.resolution, value)
        if forecasts:
            made.extend(forecasts)
    return forecaster, made


def leakage_check(ds: Dataset) -> str:
    """Forecasts issued up to a cut-off do not change when the data after it change."""
    n = min(len(ds.values), int(timedelta(weeks=5) / ds.resolution))
    cut = int(timedelta(weeks=4) / ds.resolution)
    original = ds.values[:n].copy()
    scrambled = original.copy()
    rng = np.random.default_rng(1)
    scrambled[cut:] = rng.permutation(scrambled[cut:]) * 3.0 + 1.0
    cut_time = ds.start + cut * ds.resolution
    first = [f for f in run_service(ds, original)[1] if f.now_start <= cut_time]
    second = [f for f in run_service(ds, scrambled)[1] if f.now_start <= cut_time]
    same = len(first) == len(second) and all(a == b for a, b in zip(first, second, strict=True))
    lgbm_same = lightgbm_leakage_check(ds, cut)
    if not (same and lgbm_same):
        raise SystemExit(f"LEAKAGE in {ds.name}: service {'ok' if same else 'FAILED'}, lightgbm {lgbm_same}")
    return f"leakage check: {len(first)} service forecasts and the LightGBM features up to the cut-off unchanged"


def profile_median(values: np.ndarray, week: int, weeks: int) -> np.ndarray:
    """``out[t]`` = median of ``values[t - j * week]``, j = 1..weeks (known at any origin within a week)."""
    stack = np.full((weeks, len(values)), np.nan)
    for j in range(1, weeks + 1):
        stack[j - 1, j * week :] = values[: len(values) - j * week]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (the first week) give NaN
        return np.nanmedian(stack, axis=0)


def last_known(values: np.ndarray) -> np.ndarray:
    """``out[i]`` = the latest finite value at or before ``i`` (NaN before the first)."""
    out = values.copy()
    for i in range(1, len(out)):
        if not math.isfinite(out[i]):
            out[i] = out[i - 1]
    return out


def baselines(ds: Dataset, steps: list[int]) -> dict[str, Callable[[int, int], float]]:
    """Baseline forecasts ``f(now_index, step_column)`` built from what is known at ``now_index``."""
    values = ds.values
    week = int(timedelta(weeks=1) / ds.resolution)
    persisted = last_known(values)
    profiles = {w: profile_median(values, week, w) for w in PROFILE_WEEKS}
    lgbm = lightgbm_forecasts(ds, steps)
    out: dict[str, Callable[[int, int], float]] = {
        "persistence": lambda now, c: persisted[now - 1],
        "seasonal naive (week)": lambda now, c: values[now + steps[c] - 1 - week],
    }
    for w, profile in profiles.items():
        out[f"profile median {w}w"] = lambda now, c, p=profile: p[now + steps[c] - 1]
    if lgbm is not None:
        out["LightGBM direct"] = lambda now, c: lgbm[c][now]
    if ds.baseline is not None:
        out[ds.baseline_name] = lambda now, c: ds.baseline[now + steps[c] - 1]
    return out


def evaluate(ds: Dataset, score_days: float, **overrides) -> Result:
    steps = [int(timedelta(hours=h) / ds.resolution) for h in EVAL_HOURS]
    others = baselines(ds, steps)
    began = time.process_time()
    forecaster, made = run_service(ds, ds.values, **overrides)
    seconds = time.process_time() - began
    names = [SERVICE, *forecaster.config.models, *others]
    result = Result(ds, {name: [ErrorTotals() for _ in EVAL_HOURS] for name in names})
    result.readings, result.seconds = forecaster.learned, seconds
    score_from = len(ds.values) - int(timedelta(days=score_days) / ds.resolution)
    for forecast in made:
        now = int((forecast.now_start - ds.start) / ds.resolution)
        result.below_zero += sum(v < 0 for v in forecast.values)
        if now < score_from:
            continue
        for column, k in enumerate(steps):
            _score(result, forecast, others, now, column, k)
    result.weights = {label: {m: round(w, 2) for m, w in ws.items() if w > 0} for label, ws in made[-1].weights.items()}
    return result


def _score(result: Result, forecast, others: dict, now: int, column: int, k: int) -> None:
    values = result.dataset.values
    target = now + k - 1
    if target >= len(values) or not math.isfinite(values[target]):
        return
    predictions = {name: f(now, column) for name, f in others.items()}
    if not all(math.isfinite(p) for p in predictions.values()):
        return  # every row is scored on the same slots
    actual = float(values[target])
    result.rows[SERVICE][column].add(actual, forecast.values[k - 1])
    for name, predicted in forecast.per_model.items():
        result.rows[name][column].add(actual, predicted[k - 1])
    for name, predicted in predictions.items():
        result.rows[name][column].add(actual, float(predicted))


def _fmt(value: float) -> str:
    return f"{value:6.3f}" if math.isfinite(value) else "   n/a"


def print_result(result: Result) -> None:
    ds = result.dataset
    print(f"\n## {ds.name} ({ds.resolution}, {len(ds.values)} slots, unit {ds.unit}, range {ds.range_note})")
    print(f"{'model':<24} | 1-WAPE " + " ".join(f"{h:>5}h" for h in EVAL_HOURS))
    for name, totals in result.rows.items():
        print(f"{name:<24} |        " + " ".join(_fmt(t.one_minus_wape) for t in totals))
    service = result.rows[SERVICE]
    print(f"scored forecasts per horizon: {service[0].count}; negative values served: {result.below_zero}")
    print(f"final ensemble weights: {result.weights}")
    print(f"service forecaster: {result.readings / result.seconds:,.0f} readings/s (process CPU time)")
    print(result.leakage)


def print_summary(results: list[Result]) -> None:
    """The goal of issue #17 per series and horizon, as a Markdown table (the README's)."""
    print("\n## Summary: 1-WAPE per series and horizon; goal: >= LightGBM + 0.03 and >= the profile median")
    print("| series | h | service | LightGBM | profile median | persistence | seasonal naive | goal (LightGBM + 0.03) "
          "| vs profile |")
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results:
        rows = result.rows
        for c, hours in enumerate(EVAL_HOURS):
            service = rows[SERVICE][c].one_minus_wape
            profile = max(rows[f"profile median {w}w"][c].one_minus_wape for w in PROFILE_WEEKS)
            lgbm = rows["LightGBM direct"][c].one_minus_wape if "LightGBM direct" in rows else math.nan
            goal = lgbm + 0.03
            verdict = "n/a" if not math.isfinite(goal) else (
                "met" if service >= goal else f"missed by {goal - service:.3f}")
            versus = f"{'above' if service >= profile else 'BELOW'} ({service - profile:+.3f})"
            cells = [service, lgbm, profile, rows["persistence"][c].one_minus_wape,
                     rows["seasonal naive (week)"][c].one_minus_wape]
            print(f"| {result.dataset.name} | {hours} h | " + " | ".join(_fmt(v).strip() for v in cells)
                  + f" | {verdict} | {versus} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score-days", type=float, default=120.0, help="score the last days (default 120)")
    parser.add_argument("--only", default="", help="run the series whose short name contains this text")
    parser.add_argument("--no-leakage-check", action="store_true")
    args = parser.parse_args(argv)
    data = shared_data_dir()
    if data is None:
        print("shared data folder not found (set FLEXLEDGER_SHARED_DATA): skipping all data sets")
        return 0
    load = os.getloadavg()
    print(f"# flexledger online forecast accuracy, {datetime.now(UTC):%Y-%m-%d}: service config, strictly online"
          f" (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"scored: forecasts issued in the last {args.score_days:g} days of each series")
    results = []
    for short, loader in load_datasets(data):
        if args.only.lower() not in short:
            continue
        ds = loader()
        results.append(evaluate(ds, args.score_days))
        if not args.no_leakage_check:
            results[-1].leakage = leakage_check(ds)
        print_result(results[-1])
    print_summary(results)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
