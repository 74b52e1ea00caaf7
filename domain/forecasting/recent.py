"""The recent values of a series as a numpy ring: what the look-up models read, many slots at once.

:class:`RecentValues` mirrors :class:`~domain.forecasting.history.SlotHistory` (same capacity,
same values: measured, imputed, NaN where unknown): the forecaster puts every value it appends
to the history here too and clears both on a restart. Values are in the unit of the readings.
"""

from __future__ import annotations

import numpy as np


class RecentValues:
    """The last ``capacity`` slots' values (NaN: unknown), readable for many slots at once."""

    __slots__ = ("capacity", "last_slot", "_values")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.last_slot: int | None = None
        self._values = np.full(capacity, np.nan)

    def put(self, slot: int, value: float) -> None:
        """Store ``value`` at ``slot``, the slot after :attr:`last_slot` (slots come in order)."""
        self._values[slot % self.capacity] = value
        self.last_slot = slot

    def clear(self) -> None:
        self._values.fill(np.nan)
        self.last_slot = None

    def take_known(self, slots: np.ndarray) -> np.ndarray:
        """Values at ``slots``, all within the last ``capacity`` slots up to :attr:`last_slot` (unchecked)."""
        return self._values.take(slots, mode="wrap")

    def take(self, slots: np.ndarray) -> np.ndarray:
        """Values at ``slots``; NaN for slots unknown or outside the last ``capacity`` slots."""
        last = self.last_slot
        if last is None:
            return np.full(len(slots), np.nan)
        values = self._values.take(slots, mode="wrap")
        inside = (slots <= last) & (slots > last - self.capacity)
        return values if inside.all() else np.where(inside, values, np.nan)
