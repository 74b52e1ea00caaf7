"""Ring buffer of one sensor's recent values, indexed by absolute slot number.

A slot number is ``(event_start - 1970-01-01T00:00Z) // resolution``. The buffer keeps the
last ``capacity`` slots; every slot in that range holds either a measured value, an imputed
value (for a gap: the value one day earlier, else the last value), or NaN (unknown: before
the first reading, or after a gap longer than ``max_gap``). Cumulative sums over the ring give
rolling means at any recent origin in O(1), so no feature is ever recomputed from scratch.
A numpy copy of the ring serves vectorised and compiled look-ups (:meth:`SlotHistory.values_at`,
:meth:`SlotHistory.recent_values`, :attr:`SlotHistory.ring`, :attr:`SlotHistory.running_sums`):
the one copy of the past values the models read many at once.
"""

from __future__ import annotations

import math

import numpy as np

NAN = math.nan


class SlotHistory:
    """Recent values per slot, with O(1) append, lookup and rolling mean."""

    __slots__ = ("capacity", "steps_per_day", "max_gap", "first_slot", "last_slot", "known_since",
                 "_values", "_cum", "_cnt", "_array", "_sums")  # fmt: skip

    def __init__(self, capacity: int, steps_per_day: int, max_gap: int) -> None:
        if capacity <= steps_per_day:
            raise ValueError("capacity must exceed one day of slots")
        self.capacity = capacity
        self.steps_per_day = steps_per_day
        self.max_gap = max_gap
        self.first_slot: int | None = None
        self.last_slot: int | None = None
        self._values = [NAN] * capacity
        self._cum = [0.0] * capacity
        self._cnt = [0] * capacity
        self.known_since: int | None = None  # every slot from here to last_slot holds a value (not NaN)
        # _values as a numpy array, twice over (position p and p + capacity) so that any
        # ``capacity`` consecutive slots are one run of positions; not pickled: rebuilt
        self._array = np.full(2 * capacity, NAN)
        self._sums = np.zeros((2, capacity))  # _cum and _cnt as numpy arrays; not pickled: rebuilt

    def __getstate__(self) -> tuple:
        return (self.capacity, self.steps_per_day, self.max_gap, self.first_slot, self.last_slot,
                self.known_since, self._values, self._cum, self._cnt)  # fmt: skip

    def __setstate__(self, state: tuple) -> None:
        (self.capacity, self.steps_per_day, self.max_gap, self.first_slot, self.last_slot,
         self.known_since, self._values, self._cum, self._cnt) = state  # fmt: skip
        self._array = np.array(self._values * 2, dtype=float)
        self._sums = np.array((self._cum, self._cnt), dtype=float)

    def _put(self, slot: int, value: float) -> None:
        cap = self.capacity
        prev = (slot - 1) % cap
        pos = slot % cap
        self._values[pos] = value
        self._array[pos] = self._array[pos + cap] = value
        if value == value:  # not NaN
            self._cum[pos] = self._cum[prev] + value
            self._cnt[pos] = self._cnt[prev] + 1
            if self.known_since is None:
                self.known_since = slot
        else:
            self._cum[pos] = self._cum[prev]
            self._cnt[pos] = self._cnt[prev]
            self.known_since = None
        self._sums[0, pos] = self._cum[pos]
        self._sums[1, pos] = self._cnt[pos]

    def append(self, slot: int, value: float) -> list[tuple[int, float]]:
        """Store ``value`` at ``slot`` (> ``last_slot``); return the imputed ``(slot, value)`` gap fill.

        A gap longer than ``max_gap`` slots clears the buffer and returns no fill (the caller
        should then reset state that assumes a continuous series).
        """
        filled: list[tuple[int, float]] = []
        last = self.last_slot
        if last is not None and slot - last - 1 > self.max_gap:
            self.clear()
            last = None
        if last is not None:
            day = self.steps_per_day
            for missing in range(last + 1, slot):
                guess = self.get(missing - day)
                if guess != guess:
                    guess = self._values[last % self.capacity]
                self._put(missing, guess)
                self.last_slot = missing
                filled.append((missing, guess))
        if last is None:
            self.first_slot = slot
        self._put(slot, value)
        self.last_slot = slot
        return filled

    def clear(self) -> None:
        self._values = [NAN] * self.capacity
        self._array.fill(NAN)
        self.first_slot = None
        self.last_slot = None
        self.known_since = None

    def get(self, slot: int) -> float:
        """Value at ``slot``, or NaN when unknown or outside the buffer."""
        last = self.last_slot
        if last is None or slot > last or slot <= last - self.capacity:
            return NAN
        return self._values[slot % self.capacity]

    @property
    def running_sums(self) -> np.ndarray:
        """``(2, capacity)`` (read-only): the running sum and count of the known values up to
        each slot of the ring (at position ``slot % capacity``), as :meth:`mean` reads them,
        for compiled look-ups (:func:`~domain.forecasting.lag_kernels.pair_rows`)."""
        return self._sums

    @property
    def ring(self) -> np.ndarray:
        """The values as a numpy array ``(2 * capacity,)`` (read-only): slot ``s`` (from
        ``last_slot - capacity + 1`` to ``last_slot``) at position ``s % capacity`` (and that
        plus ``capacity``), for compiled look-ups
        (:func:`~domain.forecasting.lag_kernels.pair_rows`)."""
        return self._array

    def values_at(self, slots: np.ndarray, low: int | None = None, high: int | None = None) -> np.ndarray:
        """:meth:`get` of each slot of an integer array, as a new float array (NaN where unknown).
        ``low`` and ``high``: bounds that every slot lies within, if the caller knows them
        (inside the ring, they save the range checks)."""
        last = self.last_slot
        if last is None:
            return np.full(np.shape(slots), NAN)
        out = self._array[slots % self.capacity]
        if low is None or high is None or low <= last - self.capacity or high > last:
            out[(slots > last) | (slots <= last - self.capacity)] = NAN
        return out

    def recent_values(self, offsets: np.ndarray) -> np.ndarray:
        """Values at ``last_slot + offsets`` as a new float array, for integer offsets in
        ``(-capacity, 0]`` (unchecked; needs a ``last_slot``)."""
        cap = self.capacity
        return self._array.take(offsets + (self.last_slot % cap + cap))

    def all_known(self, first_slot: int) -> bool:
        """True if every slot from ``first_slot`` to ``last_slot`` holds a value (none NaN)."""
        return self.known_since is not None and first_slot >= self.known_since

    def mean(self, end_slot: int, width: int) -> float:
        """Mean of the known values in slots ``(end_slot - width, end_slot]``; NaN if none."""
        last, first = self.last_slot, self.first_slot
        if last is None or first is None:
            return NAN
        end = min(end_slot, last)
        start = max(end - width, last - self.capacity + 1, first - 1)
        if end <= start:
            return NAN
        cap = self.capacity
        count = self._cnt[end % cap] - self._cnt[start % cap]
        if count <= 0:
            return NAN
        return (self._cum[end % cap] - self._cum[start % cap]) / count
