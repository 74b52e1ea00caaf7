"""Online forecasting models over a shared :class:`SlotHistory`.

Every model keeps learning, one reading at a time (River ``learn_one``); none retrains in
batch. A model sees:

- ``learn_one(history, slot, value, regressors, observed)``: called for each slot in time
  order after ``history`` already holds ``value``; ``observed`` is False for gap-filling
  (imputed) values, which models may use to keep a continuous state but never as targets;
- ``forecast_array(history, origin, targets, regressors)``: values for the target slots as a
  numpy array, using only what is known up to ``origin`` (the last learned slot); the
  forecaster assembles one models x steps array per forecast (``forecast``, from
  :class:`ListForecast`, gives them as a list);
- ``reset()``: after a gap longer than ``max_gap`` (the series restarts).

Values are in the unit of the readings (e.g. kW, consumption positive).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Protocol

import numpy as np
from river import time_series

from domain.forecasting.ensemble_kernels import add_level_and_trend
from domain.forecasting.history import SlotHistory

Regressors = Mapping[str, float]


class ForecastModel(Protocol):
    name: str

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None: ...

    def forecast_array(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> np.ndarray: ...

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]: ...

    def reset(self) -> None: ...


class ListForecast:
    """Base of the models: :meth:`forecast` is their ``forecast_array`` as a list."""

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]:
        """The values for the ``targets`` known at ``origin``, as a list (the forecaster reads
        ``forecast_array``)."""
        return self.forecast_array(history, origin, targets, regressors).tolist()


def _level(history: SlotHistory, origin: int, day: int) -> float:
    """Fallback value: mean of the last day up to ``origin``, else the last value, else 0."""
    level = history.mean(origin, day)
    if level != level:
        level = history.get(history.last_slot) if history.last_slot is not None else math.nan
    return level if level == level else 0.0


_SEASONAL_OFFSETS: dict[tuple[int, int, int, int], np.ndarray] = {}


def seasonal_offsets(origin: int, targets: range, period: int) -> np.ndarray:
    """:func:`seasonal_sources` minus ``origin`` (in ``(-period, 0]``), for a range of targets (cached)."""
    key = (period, targets.start - origin, len(targets), targets.step)
    offsets = _SEASONAL_OFFSETS.get(key)
    if offsets is None:
        if len(_SEASONAL_OFFSETS) >= 256:
            _SEASONAL_OFFSETS.clear()
        ahead = np.arange(targets.start - origin, targets.stop - origin, targets.step, dtype=np.int64)
        offsets = _SEASONAL_OFFSETS[key] = ahead - period * -((-ahead) // period)
        offsets.flags.writeable = False
    return offsets


def seasonal_sources(origin: int, targets: Sequence[int], period: int) -> np.ndarray:
    """Per target: its slot a whole number of ``period`` earlier, the latest at or before ``origin``."""
    if isinstance(targets, range):
        return origin + seasonal_offsets(origin, targets, period)
    slots = np.asarray(targets, dtype=np.int64).reshape(-1)
    return slots - period * -((origin - slots) // period)


class LookupModel(ListForecast):
    """Base of the models without learned state: each forecast is read from what is known.

    A subclass gives :meth:`lookup_array` (the values for the targets known at ``origin``, NaN
    where unknown); where one is unknown the forecast falls back to "same time yesterday",
    then to the mean of the last day. Learning and resetting are no-ops: the state is the
    shared history (or the profile) itself.
    """

    def __init__(self, name: str, steps_per_day: int) -> None:
        self.name = name
        self.steps_per_day = steps_per_day

    def lookup_array(self, history: SlotHistory, origin: int, targets: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def known(self, history: SlotHistory, origin: int) -> bool:
        """True when :meth:`lookup_array` at ``origin`` is known to hold no NaN (no check needed)."""
        return False

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None:
        return None

    def forecast_array(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> np.ndarray:
        """:meth:`forecast` as a numpy array (what the forecaster reads)."""
        out = self.lookup_array(history, origin, targets)
        # no NaN: known so, or the sum is a number (of finite values, a sum is NaN only with a NaN)
        if self.known(history, origin) or not math.isnan(np.add.reduce(out)):
            return out
        unknown = np.isnan(out)
        day = self.steps_per_day
        yesterday = history.values_at(seasonal_sources(origin, targets, day))
        fallback = np.where(np.isnan(yesterday), _level(history, origin, day), yesterday)
        return np.where(unknown, fallback, out)

    def reset(self) -> None:
        return None


class SeasonalNaive(LookupModel):
    """Same slot one ``period`` earlier (the most recent period known at the origin).

    ``period`` = one day gives "same time yesterday" (for horizons over a day: the day before);
    one week gives "same time last week".
    """

    def __init__(self, name: str, period: int, steps_per_day: int) -> None:
        super().__init__(name, steps_per_day)
        self.period = period

    def lookup_array(self, history: SlotHistory, origin: int, targets: Sequence[int]) -> np.ndarray:
        if origin == history.last_slot and self.period <= history.capacity and isinstance(targets, range):
            return history.recent_values(seasonal_offsets(origin, targets, self.period))  # all in the ring
        return history.values_at(seasonal_sources(origin, targets, self.period))

    def known(self, history: SlotHistory, origin: int) -> bool:
        return origin == history.last_slot and history.all_known(origin - self.period + 1)


class _HoltWinters(time_series.HoltWinters):
    """River's HoltWinters, with the additive start fixed.

    River 0.26 initialises additive seasonal components as ratios ``y / level`` (the
    multiplicative formula); here they are differences ``y - level``, and the trend starts at 0.
    """

    def learn_one(self, y: float, x: dict | None = None) -> None:
        level, trend, season = self.level, self.trend, self.season
        if self._initialized and not self.multiplicative and trend and season:
            # River's three updates (level, trend, season), inlined: the same expressions in order
            s = self.seasonality
            alpha, beta, gamma = level.alpha, trend.beta, season.gamma
            level.append(alpha * (y - season[-s]) + (1 - alpha) * (level[-1] + trend[-1]))
            trend.append(beta * (level[-1] - level[-2]) + (1 - beta) * trend[-1])
            season.append(gamma * (y - level[-2] - trend[-2]) + (1 - gamma) * season[-s])
            return
        if self._initialized or self.multiplicative:
            super().learn_one(y, x)
            return
        self._first_values.append(y)
        if len(self._first_values) < max(2, self.seasonality):
            return
        level = statistics.fmean(self._first_values)
        self.level.append(level)
        if self.trend is not None:
            self.trend.append(0.0)
        if self.season is not None:
            self.season.extend(value - level for value in self._first_values)
        self._first_values = []
        self._initialized = True


_STEPS_AHEAD: dict[tuple[int, int], np.ndarray] = {}


def _steps_ahead(start: int, count: int) -> np.ndarray:
    """``start + 1 .. start + count`` as floats (cached, read-only)."""
    found = _STEPS_AHEAD.get((start, count))
    if found is None:
        if len(_STEPS_AHEAD) >= 256:
            _STEPS_AHEAD.clear()
        found = _STEPS_AHEAD[(start, count)] = np.arange(start + 1, start + 1 + count, dtype=float)
        found.flags.writeable = False
    return found


class HoltWintersModel(ListForecast):
    """Additive Holt-Winters (River ``time_series.HoltWinters``) on the continuous series.

    It learns every slot, imputed gap values included, because its state assumes no gaps.
    Until its first season has been seen it forecasts "same time yesterday".
    """

    def __init__(
        self,
        name: str,
        seasonality: int,
        steps_per_day: int,
        alpha: float = 0.1,
        beta: float = 0.001,
        gamma: float = 0.3,
    ) -> None:
        self.name = name
        self.params = {"alpha": alpha, "beta": beta, "gamma": gamma, "seasonality": seasonality}
        self._fallback = SeasonalNaive(name, steps_per_day, steps_per_day)
        self.reset()

    def reset(self) -> None:
        self.model = _HoltWinters(**self.params)
        self.last_slot: int | None = None

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None:
        self.model.learn_one(value)
        self.last_slot = slot

    def forecast_array(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> np.ndarray:
        """River's ``forecast`` (level + h * trend + season, h steps after the last learned slot),
        the same operations per step: the season's values, then one compiled call
        (:func:`~domain.forecasting.ensemble_kernels.add_level_and_trend`)."""
        model = self.model
        if not model._initialized or self.last_slot is None or not len(targets):
            return self._fallback.forecast_array(history, origin, targets)
        season, seasonality = model.season, model.seasonality
        first = len(season) - seasonality  # River's season[-seasonality + h % seasonality]
        if isinstance(targets, range) and targets.step == 1 and targets.start > self.last_slot:
            start, n = targets.start - self.last_slot - 1, len(targets)
            steps = _steps_ahead(start, n)  # h + 1 (exact as floats)
            if start + n <= seasonality:  # within one season: a run of the deque
                seasonal = np.fromiter(islice(season, first + start, first + start + n), float, n)
            else:
                seasonal = np.fromiter(season, float, len(season))[first + (steps.astype(np.int64) - 1) % seasonality]
        else:
            ahead = np.asarray(targets, dtype=np.int64).reshape(-1) - (self.last_slot + 1)
            steps = (ahead + 1).astype(float)
            seasonal = np.fromiter(season, float, len(season))[first + ahead % seasonality]
        add_level_and_trend(seasonal, model.level[-1], model.trend[-1] if model.trend else 0.0, steps)
        return seasonal
