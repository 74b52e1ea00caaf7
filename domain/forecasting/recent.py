"""The recent values of a series as a numpy ring: what the look-up models read, many slots at once.

:class:`RecentValues` mirrors :class:`~domain.forecasting.history.SlotHistory` (same capacity,
same values: measured, imputed, NaN where unknown): the forecaster puts every value it appends
to the history here too and clears both on a restart. Values are in the unit of the readings.
"""

from __future__ import annotations

import numpy as np


class RecentValues:
    """The last ``capacity`` slots' values (NaN: unknown), readable for many slots at once.

    The ring is stored twice, one copy after the other, so that any ``capacity`` consecutive
    slots are one run of positions (no modulo per read).
    """

    __slots__ = ("capacity", "last_slot", "known_since", "_values")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.last_slot: int | None = None
        self.known_since: int | None = None  # every slot from here to last_slot holds a value (not NaN)
        self._values = np.full(2 * capacity, np.nan)

    def put(self, slot: int, value: float) -> None:
        """Store ``value`` at ``slot``, the slot after :attr:`last_slot` (slots come in order)."""
        position = slot % self.capacity
        self._values[position] = self._values[position + self.capacity] = value
        if value != value:
            self.known_since = None
        elif self.known_since is None:
            self.known_since = slot
        self.last_slot = slot

    def clear(self) -> None:
        self._values.fill(np.nan)
        self.last_slot = None
        self.known_since = None

    def all_known(self, first_slot: int) -> bool:
        """True if every slot from ``first_slot`` to :attr:`last_slot` holds a value."""
        return self.known_since is not None and first_slot >= self.known_since

    def take_recent(self, offsets: np.ndarray) -> np.ndarray:
        """Values at ``last_slot + offsets``, for offsets in ``(-capacity, 0]`` (unchecked)."""
        return self._values.take(offsets + (self.last_slot % self.capacity + self.capacity))

    def take(self, slots: np.ndarray) -> np.ndarray:
        """Values at ``slots``; NaN for slots unknown or outside the last ``capacity`` slots."""
        last = self.last_slot
        if last is None:
            return np.full(len(slots), np.nan)
        values = self._values.take(slots % self.capacity)
        inside = (slots <= last) & (slots > last - self.capacity)
        return values if inside.all() else np.where(inside, values, np.nan)
