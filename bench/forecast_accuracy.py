"""Online forecast accuracy and throughput on the real data sets in ``../shared/data``.

Evaluation is strictly in time order: at every full hour of data the forecaster forecasts the
next 48 h from what it has learned so far, and only then learns the next readings (no
look-ahead). The forecasts issued in the first ``--warmup-days`` are not scored (same for
every model). Errors are 1-WAPE (higher is better) and MAE (unit of the series) of the slot
whose horizon (slot end minus forecast time) is exactly 1 h, 6 h, 24 h and 48 h.

    .venv/bin/python bench/forecast_accuracy.py            # all data sets, ~2-3 min on 2 cores
    .venv/bin/python bench/forecast_accuracy.py --quick    # the first 8 weeks of each data set

Data sets: EV charging load of the ACN Caltech and JPL garages (May-Dec 2019, sessions turned
into uncontrolled load with ``uncontrolled_load_kw``) at 15 min and 1 h; the EV meter of OPSD
household DE_KN_residential4 (hourly, 2015-10..2017-02); German load 2018 (hourly, MW) with
the ENTSO-E day-ahead forecast as a published baseline row.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.forecasting import ErrorTotals, Forecast, ForecasterConfig, SensorForecaster  # noqa: E402
from infra.shared_data import (  # noqa: E402
    acn_site_sessions,
    load_de_load_mw,
    load_household_ev_kw,
    shared_data_dir,
    uncontrolled_load_kw,
)

EVAL_HOURS = (1, 6, 24, 48)
THROUGHPUT_MODES = {"learn": "", "learn + 1-step predict": "model", "learn + forecast(now, 1)": "forecast"}
ANCHORS = {
    "FlexMeasures docs, charge points": (0.876, 0.730, 0.652, 0.637),
    "FlexMeasures docs, buildings": (0.934, 0.926, 0.924, 0.921),
}


@dataclass
class Dataset:
    """A regular series: ``values[i]`` is the mean over the slot starting ``start + i * resolution``."""

    name: str
    unit: str
    start: datetime
    resolution: timedelta
    values: np.ndarray
    timezone: str
    country: str
    value_range: tuple[float | None, float | None] = (0.0, None)
    baseline: np.ndarray | None = None
    baseline_name: str = ""


@dataclass
class Result:
    dataset: Dataset
    rows: dict[str, list[ErrorTotals]] = field(default_factory=dict)
    readings: int = 0
    seconds: float = 0.0
    selections: dict[str, str] = field(default_factory=dict)


def _acn(data: Path, site: str, resolution: timedelta) -> Dataset:
    tz = ZoneInfo("America/Los_Angeles")
    start = datetime(2019, 5, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(2020, 1, 1, tzinfo=tz).astimezone(UTC)
    load = uncontrolled_load_kw(acn_site_sessions(data, site), start, end, resolution)
    label = f"{int(resolution.total_seconds() // 60)}min"
    return Dataset(f"ACN {site} EV load {label}", "kW", start, resolution, load, tz.key, "US")


def _household(data: Path) -> Dataset:
    times, values = load_household_ev_kw(data)
    return Dataset("OPSD household res4 EV", "kW", times[0], timedelta(hours=1), values, "Europe/Berlin", "DE")


def _de_load(data: Path) -> Dataset:
    times, actual, forecast = load_de_load_mw(data)
    return Dataset(
        "DE load 2018",
        "MW",
        times[0],
        timedelta(hours=1),
        actual,
        "Europe/Berlin",
        "DE",
        baseline=forecast,
        baseline_name="ENTSO-E day-ahead",
    )


def load_datasets(data: Path) -> list[Callable[[], Dataset]]:
    """Lazy loaders, in table order."""
    return [
        lambda: _acn(data, "caltech", timedelta(minutes=15)),
        lambda: _acn(data, "caltech", timedelta(hours=1)),
        lambda: _acn(data, "jpl", timedelta(minutes=15)),
        lambda: _acn(data, "jpl", timedelta(hours=1)),
        lambda: _household(data),
        lambda: _de_load(data),
    ]


def _score(result: Result, forecast: Forecast, index: int, steps: list[int]) -> None:
    """Score the forecast made after reading ``index``: its step ``k`` is slot ``index + k``."""
    ds = result.dataset
    values = ds.values
    for column, k in enumerate(steps):
        target = index + k
        if target >= len(values) or not math.isfinite(values[target]):
            continue
        if ds.baseline is not None and not math.isfinite(ds.baseline[target]):
            continue  # every row is scored on the same slots
        actual = float(values[target])
        for name, predicted in forecast.per_model.items():
            result.rows[name][column].add(actual, predicted[k - 1])
        result.rows["auto-selected"][column].add(actual, forecast.values[k - 1])
        if ds.baseline is not None:
            result.rows[ds.baseline_name][column].add(actual, float(ds.baseline[target]))


def dataset_config(ds: Dataset, **overrides) -> ForecasterConfig:
    return ForecasterConfig(
        resolution=ds.resolution,
        timezone=ds.timezone,
        country=ds.country,
        value_range=ds.value_range,
        **overrides,
    )


def evaluate(ds: Dataset, warmup_days: float) -> Result:
    """Feed the series in order through ``observe``; score each hourly 48 h forecast after warm-up."""
    config = dataset_config(ds)
    forecaster = SensorForecaster(config)
    steps = [int(timedelta(hours=h) / ds.resolution) for h in EVAL_HOURS]
    names = [*config.models, "auto-selected"] + ([ds.baseline_name] if ds.baseline is not None else [])
    result = Result(ds, {name: [ErrorTotals() for _ in EVAL_HOURS] for name in names})
    warmup_end = ds.start + timedelta(days=warmup_days)
    began = time.process_time()
    for i, value in enumerate(ds.values.tolist()):
        event_start = ds.start + i * ds.resolution
        forecast = forecaster.observe(event_start, value)
        # the forecast starts at slot i + 1: step k (1-based) is slot index i + k
        if forecast is not None and event_start >= warmup_end:
            _score(result, forecast, i, steps)
    result.seconds = time.process_time() - began
    result.readings = forecaster.learned
    result.selections = forecaster.selection()
    return result


def lag_throughput(ds: Dataset, predict: str = "") -> float:
    """Readings/s (CPU time of this process) of a forecaster with the lag model only.

    ``predict``: "" learn only; "model" learn + the lag model's own 1-step prediction;
    "forecast" learn + the public ``SensorForecaster.forecast(now, 1)`` (selection included).
    """
    forecaster = SensorForecaster(dataset_config(ds, models=("lag_linear",)))
    model = forecaster.models["lag_linear"]
    history = forecaster.history
    values = ds.values.tolist()
    starts = [ds.start + i * ds.resolution for i in range(len(values))]
    began = time.process_time()
    for i, (event_start, value) in enumerate(zip(starts, values, strict=True)):
        if not forecaster.learn(event_start, value):
            continue
        if predict == "model":
            model.predict_one(history, history.last_slot, history.last_slot + 1)
        elif predict == "forecast":
            forecaster.forecast(starts[i] + ds.resolution, 1)
    return len(values) / (time.process_time() - began)


def _fmt(value: float, mae: bool) -> str:
    if not math.isfinite(value):
        return "    n/a"
    return f"{value:7.2f}" if mae else f"{100 * value:6.1f}%"


def print_result(result: Result) -> None:
    ds = result.dataset
    hours = " ".join(f"{h:>6}h" for h in EVAL_HOURS)
    print(f"\n## {ds.name} ({ds.resolution}, {len(ds.values)} slots, unit {ds.unit})")
    print(f"{'model':<20} | 1-WAPE {hours} | MAE ({ds.unit}) {hours}")
    for name, totals in result.rows.items():
        acc = " ".join(_fmt(t.one_minus_wape, False) for t in totals)
        err = " ".join(_fmt(t.mae, True) for t in totals)
        print(f"{name:<20} |        {acc} |          {err}")
    print(
        f"scored forecasts per horizon: {result.rows['auto-selected'][0].count}; final selection: {result.selections}"
    )
    print(
        f"full forecaster (4 models, 48 h forecast every hour, selection): "
        f"{result.readings / result.seconds:,.0f} readings/s"
    )


def print_summary(results: list[Result]) -> None:
    print("\n## Summary: auto-selected 1-WAPE at 1 h / 6 h / 24 h / 48 h")
    for result in results:
        row = result.rows["auto-selected"]
        print(f"{result.dataset.name:<36} " + " ".join(_fmt(t.one_minus_wape, False) for t in row))
    print("Anchor, FlexMeasures documentation:")
    for name, values in ANCHORS.items():
        print(f"{name:<36} " + " ".join(f"{100 * v:6.1f}%" for v in values))


def print_throughput(ds: Dataset) -> None:
    figures = {label: lag_throughput(ds, mode) for label, mode in THROUGHPUT_MODES.items()}
    text = "; ".join(f"{label} {rate:,.0f}" for label, rate in figures.items())
    print(f"lag model alone, {ds.name}, readings/s per core (process CPU time): {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the first 8 weeks of each data set")
    parser.add_argument("--warmup-days", type=float, default=14.0, help="forecasts not scored (default 14)")
    parser.add_argument("--only", default="", help="run data sets whose name contains this text")
    args = parser.parse_args(argv)
    data = shared_data_dir()
    if data is None:
        print("shared data folder not found (set FLEXLEDGER_SHARED_DATA): skipping all data sets")
        return 0
    print("# flexledger online forecast accuracy (predict, then learn; no look-ahead)")
    print(f"warm-up: forecasts issued in the first {args.warmup_days:g} days are not scored")
    results = []
    for loader in load_datasets(data):
        ds = loader()
        if args.only.lower() not in ds.name.lower():
            continue
        if args.quick:
            ds.values = ds.values[: int(timedelta(weeks=8) / ds.resolution)]
        results.append(evaluate(ds, args.warmup_days))
        print_result(results[-1])
        if ds.name.startswith("ACN caltech"):
            print_throughput(ds)
    print_summary(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
