"""On-demand forecasts (a forecast job): train, then walk forward through the window. Pure.

A job asks for forecasts of ``[start, end)``. A fresh :class:`SensorForecaster` learns the
readings from ``train_start`` on, in time order; at each forecast time ``start + k *
frequency`` (before ``end``) it forecasts at most ``max_horizon`` ahead from what it has
learned so far (no look-ahead). Each slot of the window takes the value of the latest forecast
covering it. A forecast's belief time is the end of the latest reading learned (data time):
for a window after the data, the horizons simply grow.

Values are in the sensor's unit (power: consumption positive, production negative).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.forecasting import SensorForecaster

MAX_JOB_STEPS = 10_000
"""At most this many slots per job window (one belief event's worth)."""

Regressors = Callable[[datetime], Mapping[str, float] | None]
FutureRegressors = Callable[[datetime, int], Mapping[str, Sequence[float]] | None]


class NoDataError(ValueError):
    """Nothing to learn from before the window: no forecast can be made."""


@dataclass(frozen=True)
class JobWindow:
    """The window ``[start, end)`` (aligned to ``resolution``) and how it is forecast."""

    start: datetime
    end: datetime
    resolution: timedelta
    max_horizon: timedelta
    frequency: timedelta
    train_start: datetime

    @property
    def n_steps(self) -> int:
        return int((self.end - self.start) / self.resolution)

    def origins(self) -> list[datetime]:
        count = -(-(self.end - self.start) // self.frequency)
        return [self.start + k * self.frequency for k in range(count)]


@dataclass
class JobForecast:
    """Per slot of the window: value (``None``: no forecast) and the belief time it was made at."""

    values: list[float | None]
    belief_times: list[datetime | None]
    selection: dict[str, str]
    learned: int

    def runs(self) -> list[tuple[int, int, datetime]]:
        """Maximal runs ``(first, stop, belief time)`` of consecutive slots with one belief time."""
        runs: list[tuple[int, int, datetime]] = []
        for index, belief in enumerate(self.belief_times):
            if belief is None:
                continue
            if runs and runs[-1][1] == index and runs[-1][2] == belief:
                runs[-1] = (runs[-1][0], index + 1, belief)
            else:
                runs.append((index, index + 1, belief))
        return runs


def walk_forward(
    forecaster: SensorForecaster,
    readings: Sequence[tuple[datetime, float]],
    window: JobWindow,
    regressors: Regressors | None = None,
    future: FutureRegressors | None = None,
) -> JobForecast:
    """Forecast the window (see the module docstring); ``readings`` sorted by event start.

    Raises :class:`NoDataError` when no reading precedes the window's first forecast time.
    """
    n = window.n_steps
    if n <= 0 or n > MAX_JOB_STEPS:
        raise ValueError(f"the window must hold 1 to {MAX_JOB_STEPS} slots of {window.resolution}, not {n}")
    values: list[float | None] = [None] * n
    beliefs: list[datetime | None] = [None] * n
    usable = [(t, v) for t, v in readings if window.train_start <= t and t + window.resolution <= window.end]
    index = 0
    for origin in window.origins():
        index = _learn_until(forecaster, usable, index, origin, window.resolution, regressors)
        latest = forecaster.latest_event_start
        if latest is None:
            continue
        first = int((origin - window.start) / window.resolution)
        stop = min(n, int((origin + window.max_horizon - window.start) / window.resolution))
        steps = stop - first
        if steps <= 0:
            continue
        made = forecaster.forecast(origin, steps, future(origin, steps) if future else None, record=True)
        values[first:stop] = made.values
        beliefs[first:stop] = [latest + window.resolution] * steps
    if all(v is None for v in values):
        raise NoDataError(f"no readings to learn from between {window.train_start} and the window's first forecast")
    return JobForecast(values, beliefs, forecaster.selection(), forecaster.learned)


def _learn_until(
    forecaster: SensorForecaster,
    readings: Sequence[tuple[datetime, float]],
    index: int,
    origin: datetime,
    resolution: timedelta,
    regressors: Regressors | None,
) -> int:
    """Learn readings whose slot ends at or before ``origin``; returns the next index."""
    while index < len(readings) and readings[index][0] + resolution <= origin:
        start, value = readings[index]
        forecaster.observe(start, value, regressors(start) if regressors else None)
        index += 1
    return index
