"""In-process CPU cost of the forecaster per reading, and the lag models' share of it.

Feeds a synthetic hourly (or 15-minute) EV load through :meth:`SensorForecaster.observe_all`
(the service's path, the service's config for an EV load: consumption only, US holidays) and
prints CPU milliseconds per reading (``time.process_time``) for the whole forecaster and for
the lag models alone (their ``learn_one`` and ``forecast_array`` calls, timed around each call, less the cost of the
clock reads).
The machine may be shared: CPU time is the figure to compare; repeat and take the median. An
untimed run of two weeks of readings first loads (or compiles) the lag models' numba kernels
(:mod:`domain.forecasting.lag_kernels`), a one-off cost per process.

    PYTHONPATH=. .venv/bin/python bench/lag_model_speed.py                 # hourly, 4320 readings
    PYTHONPATH=. .venv/bin/python bench/lag_model_speed.py --minutes 15    # 15-minute sensor
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forecast_throughput import START, hourly_load_kw  # noqa: E402
from domain.forecasting import ForecasterConfig, SensorForecaster  # noqa: E402

LAG_MODELS = ("lag_linear", "lag_median")


def _timed(method, spent: list[float]):
    """``method``, adding the CPU seconds of each call to ``spent[0]`` and counting calls in ``spent[1]``."""
    clock = time.process_time

    def wrapper(*args, **kwargs):
        began = clock()
        try:
            return method(*args, **kwargs)
        finally:
            spent[0] += clock() - began
            spent[1] += 1

    return wrapper


def _clock_cost(calls: int = 100_000) -> float:
    """CPU seconds a timed call of a no-op adds (the two clock reads), to subtract."""
    spent = [0.0, 0]
    noop = _timed(lambda: None, spent)
    began = time.process_time()
    for _ in range(calls):
        noop()
    return min(spent[0], time.process_time() - began) / calls


def run(minutes: int, readings: int) -> tuple[float, float]:
    """CPU ms per reading: (whole forecaster, lag models)."""
    config = ForecasterConfig(resolution=timedelta(minutes=minutes), country="US", value_range=(0.0, None))
    forecaster = SensorForecaster(config)
    spent = [0.0, 0]
    for name in LAG_MODELS:
        model = forecaster.models[name]
        model.learn_one = _timed(model.learn_one, spent)
        model.forecast_array = _timed(model.forecast_array, spent)  # what the forecaster calls
    hourly = hourly_load_kw(-(-readings * minutes // 60))
    values = np.repeat(hourly, 60 // minutes)[:readings].tolist()
    step = timedelta(minutes=minutes)
    began = time.process_time()
    for i, value in enumerate(values):
        forecaster.observe_all(START + i * step, value)
    total = time.process_time() - began
    lag = max(0.0, spent[0] - spent[1] * _clock_cost())  # without the timing's own clock reads
    return total * 1000 / len(values), lag * 1000 / len(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60, help="sensor resolution in minutes (divides 60)")
    parser.add_argument("--readings", type=int, default=4320)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.minutes, 14 * 24 * 60 // args.minutes)  # warm-up: the compiled kernels
    runs = [run(args.minutes, args.readings) for _ in range(args.repeat)]
    whole = statistics.median(r[0] for r in runs)
    lag = statistics.median(r[1] for r in runs)
    print(f"{args.minutes}-minute sensor, {args.readings} readings, median of {args.repeat}:")
    print(f"  whole forecaster: {whole:.3f} CPU ms per reading  ({[round(r[0], 3) for r in runs]})")
    print(f"  lag models:       {lag:.3f} CPU ms per reading  ({[round(r[1], 3) for r in runs]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
