"""The weekly profile: a quantile of the same local hour-of-week over the recent weeks.

:class:`WeeklyProfile` is shared state (like :class:`~domain.forecasting.history.SlotHistory`):
the forecaster updates it with every *measured* reading after the models have learned that
reading, so a model reading the profile while it learns slot ``s`` sees what was known before
``s``. For any horizon up to a week the profile at a target slot therefore only holds values
known at the origin (the same hour-of-week occurs once a week). A public holiday counts as a
Sunday. :class:`WeeklyProfileModel` serves the profile as a forecast; the lag model uses it as
a feature. Values are in the unit of the readings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from domain.forecasting.features import DAY, CalendarFeatures
from domain.forecasting.history import SlotHistory
from domain.forecasting.models import LookupModel


def quantile_of_sorted(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (linear interpolation) of non-empty, sorted ``values``."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


class WeeklyProfile:
    """Per local week slot: the last ``weeks`` measured values and their ``quantile``."""

    __slots__ = ("calendar", "weeks", "quantile", "_values", "_level", "_level_array")

    def __init__(self, calendar: CalendarFeatures, weeks: int = 10, quantile: float = 0.5) -> None:
        if weeks < 1 or not 0.0 <= quantile <= 1.0:
            raise ValueError("weeks must be >= 1 and quantile in [0, 1]")
        self.calendar = calendar
        self.weeks = weeks
        self.quantile = quantile
        self._values: dict[int, deque[float]] = {}
        self._level: dict[int, float] = {}
        self._level_array = np.full(7 * (DAY // calendar.resolution), np.nan)  # _level by week slot (NaN: none)

    def learn(self, slot: int, value: float) -> None:
        key = self.calendar.week_slot(slot)
        recent = self._values.get(key)
        if recent is None:
            recent = self._values[key] = deque(maxlen=self.weeks)
        recent.append(value)
        self._level[key] = self._level_array[key] = quantile_of_sorted(sorted(recent), self.quantile)

    @property
    def levels(self) -> dict[int, float]:
        """The profile per week slot (:meth:`value` without the calendar look-up; do not mutate)."""
        return self._level

    @property
    def level_array(self) -> np.ndarray:
        """:attr:`levels` as an array indexed by week slot, NaN where none yet (do not mutate)."""
        return self._level_array

    def value(self, slot: int) -> float:
        """The profile at ``slot``'s week slot; NaN while that week slot has no value yet."""
        return self._level.get(self.calendar.week_slot(slot), float("nan"))

    def count(self, slot: int) -> int:
        """Number of weeks behind :meth:`value` at ``slot``."""
        recent = self._values.get(self.calendar.week_slot(slot))
        return 0 if recent is None else len(recent)


class WeeklyProfileModel(LookupModel):
    """Forecast = the weekly profile of the target slot (fallbacks: see :class:`LookupModel`).

    The week slots of the targets are computed ahead, ``reach`` slots at a time, and kept:
    consecutive forecasts overlap in all but their last target.
    """

    def __init__(self, name: str, profile: WeeklyProfile, steps_per_day: int) -> None:
        super().__init__(name, steps_per_day)
        self.profile = profile
        self._keys_first = 0
        self._keys = np.zeros(0, dtype=np.intp)  # week slot of the slots from _keys_first on

    def lookup_array(self, history: SlotHistory, origin: int, targets: Sequence[int]) -> np.ndarray:
        return self.profile.level_array.take(self._week_slots(targets))

    def known(self, history: SlotHistory, origin: int) -> bool:
        profile = self.profile
        return len(profile.levels) == len(profile.level_array)  # every week slot has its level

    def _week_slots(self, targets: Sequence[int]) -> np.ndarray:
        week_slot = self.profile.calendar.week_slot
        if not (isinstance(targets, range) and targets.step == 1):
            return np.array([week_slot(t) for t in targets], dtype=np.intp)
        offset = targets.start - self._keys_first
        if offset < 0 or offset + len(targets) > len(self._keys):
            reach = 2 * len(targets)
            self._keys_first = targets.start
            self._keys = np.array([week_slot(t) for t in range(targets.start, targets.start + reach)], dtype=np.intp)
            offset = 0
        return self._keys[offset : offset + len(targets)]
