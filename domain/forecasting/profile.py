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

from domain.forecasting.features import CalendarFeatures
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

    __slots__ = ("calendar", "weeks", "quantile", "_values", "_level")

    def __init__(self, calendar: CalendarFeatures, weeks: int = 10, quantile: float = 0.5) -> None:
        if weeks < 1 or not 0.0 <= quantile <= 1.0:
            raise ValueError("weeks must be >= 1 and quantile in [0, 1]")
        self.calendar = calendar
        self.weeks = weeks
        self.quantile = quantile
        self._values: dict[int, deque[float]] = {}
        self._level: dict[int, float] = {}

    def learn(self, slot: int, value: float) -> None:
        key = self.calendar.week_slot(slot)
        recent = self._values.get(key)
        if recent is None:
            recent = self._values[key] = deque(maxlen=self.weeks)
        recent.append(value)
        self._level[key] = quantile_of_sorted(sorted(recent), self.quantile)

    @property
    def levels(self) -> dict[int, float]:
        """The profile per week slot (:meth:`value` without the calendar look-up; do not mutate)."""
        return self._level

    def value(self, slot: int) -> float:
        """The profile at ``slot``'s week slot; NaN while that week slot has no value yet."""
        return self._level.get(self.calendar.week_slot(slot), float("nan"))

    def count(self, slot: int) -> int:
        """Number of weeks behind :meth:`value` at ``slot``."""
        recent = self._values.get(self.calendar.week_slot(slot))
        return 0 if recent is None else len(recent)


class WeeklyProfileModel(LookupModel):
    """Forecast = the weekly profile of the target slot (fallbacks: see :class:`LookupModel`)."""

    def __init__(self, name: str, profile: WeeklyProfile, steps_per_day: int) -> None:
        super().__init__(name, steps_per_day)
        self.profile = profile

    def lookup(self, history: SlotHistory, origin: int, target: int) -> float:
        return self.profile.value(target)
