"""Online forecasting models over a shared :class:`SlotHistory`.

Every model keeps learning, one reading at a time (River ``learn_one``); none retrains in
batch. A model sees:

- ``learn_one(history, slot, value, regressors, observed)``: called for each slot in time
  order after ``history`` already holds ``value``; ``observed`` is False for gap-filling
  (imputed) values, which models may use to keep a continuous state but never as targets;
- ``forecast(history, origin, targets, regressors)``: values for the target slots, using only
  what is known up to ``origin`` (the last learned slot);
- ``reset()``: after a gap longer than ``max_gap`` (the series restarts).

Values are in the unit of the readings (e.g. kW, consumption positive).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Protocol

from river import time_series

from domain.forecasting.history import SlotHistory

Regressors = Mapping[str, float]


class ForecastModel(Protocol):
    name: str

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None: ...

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]: ...

    def reset(self) -> None: ...


def _level(history: SlotHistory, origin: int, day: int) -> float:
    """Fallback value: mean of the last day up to ``origin``, else the last value, else 0."""
    level = history.mean(origin, day)
    if level != level:
        level = history.get(history.last_slot) if history.last_slot is not None else math.nan
    return level if level == level else 0.0


class LookupModel:
    """Base of the models without learned state: each forecast is read from what is known.

    A subclass gives :meth:`lookup` (the value for ``target`` known at ``origin``, NaN when
    unknown); where it is unknown the forecast falls back to "same time yesterday", then to
    the mean of the last day. Learning and resetting are no-ops: the state is the shared
    history (or profile) itself.
    """

    def __init__(self, name: str, steps_per_day: int) -> None:
        self.name = name
        self.steps_per_day = steps_per_day

    def lookup(self, history: SlotHistory, origin: int, target: int) -> float:
        raise NotImplementedError

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None:
        return None

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]:
        out = [self.lookup(history, origin, target) for target in targets]
        if all(v == v for v in out):
            return out
        day, get = self.steps_per_day, history.get
        level = _level(history, origin, day)
        for k, target in enumerate(targets):
            if out[k] != out[k]:
                yesterday = get(target - day * -((origin - target) // day))
                out[k] = yesterday if yesterday == yesterday else level
        return out

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

    def lookup(self, history: SlotHistory, origin: int, target: int) -> float:
        return history.get(target - self.period * -((origin - target) // self.period))


class _HoltWinters(time_series.HoltWinters):
    """River's HoltWinters, with the additive start fixed.

    River 0.26 initialises additive seasonal components as ratios ``y / level`` (the
    multiplicative formula); here they are differences ``y - level``, and the trend starts at 0.
    """

    def learn_one(self, y: float, x: dict | None = None) -> None:
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


class HoltWintersModel:
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

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]:
        if not self.model._initialized or self.last_slot is None or not targets:
            return self._fallback.forecast(history, origin, targets)
        last = self.last_slot
        ahead = self.model.forecast(max(targets) - last)
        return [ahead[target - last - 1] for target in targets]
