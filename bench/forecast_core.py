"""In-process cost of the forecaster per reading: all of it, and all but the lag models.

Feeds the service's config for an EV load (consumption only: ``value_range=(0, None)``) the
synthetic hourly load of ``bench/forecast_throughput.py`` through
``SensorForecaster.observe_all`` (the stream processor's call), with the running errors read
once per day of data (as the processor does), and prints CPU microseconds per reading:

* ``whole``: everything the forecaster does;
* ``outside the lag models``: whole minus the time inside the lag models' ``learn_one`` and
  ``forecast_array`` (timed around each call: the selector, the look-up models, Holt-Winters, the
  ensemble, clipping, the history and profile updates and the forecast objects);
* ``lag models stubbed``: the same run with the lag models replaced by stubs that learn
  nothing and forecast a constant (what is left is the rest of the forecaster alone, without
  the lag models' pressure on the CPU caches).

The machine may be shared: CPU time is the figure, each run is repeated ``--repeat`` times and
the median printed. An untimed run of two weeks of readings first loads (or compiles) the lag
models' numba kernels (:mod:`domain.forecasting.lag_kernels`), a one-off cost per process.

    PYTHONPATH=. .venv/bin/python bench/forecast_core.py               # hourly, 180 days
    PYTHONPATH=. .venv/bin/python bench/forecast_core.py --minutes 15 --days 60
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.forecast_throughput import START, hourly_load_kw  # noqa: E402
from domain.forecasting import ForecasterConfig, SensorForecaster  # noqa: E402
from domain.forecasting.lag_model import LagRegression  # noqa: E402


class _ConstantLagStub:
    """Stands in for a lag model: learns nothing, forecasts 1.0 (an array, as the lag model's
    ``forecast_array`` does)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def learn_one(self, history, slot, value, regressors, observed) -> None:
        return None

    def forecast(self, history, origin, targets, regressors=None) -> list[float]:
        return [1.0] * len(targets)

    def forecast_array(self, history, origin, targets, regressors=None) -> np.ndarray:
        return np.ones(len(targets))

    def reset(self) -> None:
        return None


def run(minutes: int, readings: int, stub_lag: bool) -> tuple[float, float]:
    """(CPU us per reading, CPU us per reading inside the lag models)."""
    config = ForecasterConfig(resolution=timedelta(minutes=minutes), country="US", value_range=(0.0, None))
    forecaster = SensorForecaster(config)
    inside = [0.0]
    for name, model in forecaster.models.items():
        if isinstance(model, LagRegression):
            if stub_lag:
                forecaster.models[name] = _ConstantLagStub(name)
            else:
                _time_calls(model, inside)
    values = hourly_load_kw(readings)
    per_day = 24 * 60 // minutes
    resolution = timedelta(minutes=minutes)
    started = time.process_time()
    for i, value in enumerate(values):
        forecaster.observe_all(START + i * resolution, value)
        if i % per_day == 0:
            forecaster.running_errors()
    cpu = time.process_time() - started
    return cpu * 1e6 / readings, inside[0] * 1e6 / readings


def _time_calls(model: LagRegression, inside: list[float]) -> None:
    clock = time.process_time  # CPU time: a shared machine may deschedule the process mid-call
    for method in ("learn_one", "forecast_array"):  # forecast_array: what the forecaster calls
        bound = getattr(model, method)

        def timed(*args, _bound=bound, **kwargs):
            started = clock()
            try:
                return _bound(*args, **kwargs)
            finally:
                inside[0] += clock() - started

        setattr(model, method, timed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60, help="slot length in minutes (default 60)")
    parser.add_argument("--days", type=int, default=180, help="days of readings (default 180)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median; default 3)")
    args = parser.parse_args(argv)
    readings = args.days * 24 * 60 // args.minutes
    run(args.minutes, 14 * 24 * 60 // args.minutes, stub_lag=False)  # warm-up: the compiled kernels
    whole, outside, stubbed = [], [], []
    for _ in range(args.repeat):
        cpu, lag = run(args.minutes, readings, stub_lag=False)
        whole.append(cpu)
        outside.append(cpu - lag)
        stubbed.append(run(args.minutes, readings, stub_lag=True)[0])
    print(f"{readings} readings of {args.minutes} min, median of {args.repeat} runs (CPU us per reading):")
    print(f"  whole forecaster        {statistics.median(whole):8.1f}")
    print(f"  outside the lag models  {statistics.median(outside):8.1f}")
    print(f"  lag models stubbed      {statistics.median(stubbed):8.1f}")
    print(f"  load average            {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
