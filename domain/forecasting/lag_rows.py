"""The lag model's feature rows as float matrices: the column layout and the calendar of a slot range.

A row holds the features of one (origin, target) pair in the fixed column order of
:class:`LagLayout`; rows are built many at a time by one compiled call
(:func:`~domain.forecasting.lag_kernels.pair_rows`) from the calendar facts of every slot in a
range (:class:`CalendarTable`, integer arrays) and the ring of
:class:`~domain.forecasting.history.SlotHistory`. :class:`SharedRows` lets lag models with the
same features share them. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from domain.forecasting.features import LAG_KEYS, ORIGIN_KEYS, CalendarFeatures
from domain.forecasting.models import Regressors

ANOMALY_KEYS = tuple(f"a{h:02d}" for h in range(24))
"""The origin's anomaly (last value minus its weekly profile) per local hour of the target."""


class LagLayout:
    """Column of every feature of the lag model's rows, in the order ``hzn``, :data:`LAG_KEYS`,
    ``wp`` and ``wpo`` (with a profile), ``a00``..``a23`` (anomaly by hour), the calendar keys
    (:meth:`CalendarFeatures.keys`), then the regressor slots ``r0``, ``r1``, ..."""

    __slots__ = ("keys", "dense", "origin", "target_lags", "wp", "wpo", "anomaly", "calendar", "holiday", "regressor")

    def __init__(self, calendar_keys: list[str], profile: bool, anomaly_by_hour: bool, max_regressors: int) -> None:
        keys = ["hzn", *LAG_KEYS]
        self.origin = slice(1, 1 + len(ORIGIN_KEYS))
        self.target_lags = slice(self.origin.stop, len(keys))  # d1, w1, sd
        self.wp = self.wpo = self.anomaly = -1
        if profile:
            self.wp, self.wpo = len(keys), len(keys) + 1
            keys += ["wp", "wpo"]
            if anomaly_by_hour:
                self.anomaly = len(keys)
                keys += ANOMALY_KEYS
        self.dense = self.wpo + 1 if profile else len(keys)  # columns every row sets (the rest: one-hots)
        self.calendar = len(keys)
        keys += calendar_keys
        self.holiday = keys.index("holiday")
        self.regressor = len(keys)
        keys += [f"r{i}" for i in range(max_regressors)]
        self.keys = tuple(keys)

    @property
    def size(self) -> int:
        return len(self.keys)

    def as_dict(self, row: np.ndarray) -> dict[str, float]:
        """One row as a sparse dict (the dense columns, then the non-zero others), for dict regressors."""
        keys = self.keys
        x = dict(zip(keys[: self.dense], row[: self.dense].tolist(), strict=True))
        for column in np.flatnonzero(row[self.dense :]).tolist():
            x[keys[self.dense + column]] = float(row[self.dense + column])
        return x


class CalendarTable:
    """The calendar facts of each slot of a range, as ``facts`` ``(4, n)`` (intp) indexed by
    ``slot - start``: the column (of a :class:`LagLayout`) of the slot's hour x day-type
    one-hot key, its week slot and day class (see :class:`CalendarFeatures`) and 1 on public
    holidays (else 0). The range grows on demand (:meth:`cover`); a cache of the calendar,
    never pickled."""

    __slots__ = ("calendar", "ahead", "start", "facts", "columns")

    def __init__(self, calendar: CalendarFeatures, layout: LagLayout, day: int) -> None:
        self.calendar = calendar
        self.ahead = 7 * day  # slots beyond those asked for, so that the table grows once a week
        self.start = 0
        self.facts = np.zeros((4, 0), dtype=np.intp)
        self.columns = {key: layout.calendar + i for i, key in enumerate(calendar.keys())}
        """Calendar key -> its column in the layout."""

    def cover(self, low: int, high: int) -> int:
        """Make the table hold slots ``low .. high`` (and :attr:`ahead` more on either side);
        returns ``start``. Moving forward it keeps what it holds from ``low - ahead`` on and
        looks up the new slots only."""
        start, end = self.start, self.start + self.facts.shape[1]
        if low >= start and high < end:
            return start
        low, stop = low - self.ahead, high + 1 + self.ahead
        if start <= low <= end:
            self.facts = np.concatenate((self.facts[:, low - start :], self._facts(range(end, stop))), axis=1)
        else:
            self.facts = self._facts(range(low, stop))
        self.start = low
        return low

    def _facts(self, slots: range) -> np.ndarray:
        """``(4, len(slots))``: hour-key column, week slot, day class and holiday (0/1) of each slot."""
        slot_info, columns = self.calendar.slot_info, self.columns
        column, week_slot, day_class, holiday = [], [], [], []
        for slot in slots:
            features, slot_class, slot_week = slot_info(slot)
            column.append(columns[next(key for key in features if key != "holiday")])
            holiday.append(1 if "holiday" in features else 0)
            week_slot.append(slot_week)
            day_class.append(slot_class)
        return np.array((column, week_slot, day_class, holiday), dtype=np.intp).reshape(4, len(slots))


class SharedRows:
    """Feature rows (matrices, with the bucket of each row) the lag models computed lately, keyed
    by everything they depend on, so that lag models with the same features (``lag_linear`` and
    ``lag_median``: same transform, same values) compute them once per reading and forecast;
    they are read-only. Not model state: never pickled."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[tuple, Any] = {}

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        rows = self._rows.get(key)
        if rows is None:
            if len(self._rows) >= 16:
                self._rows.clear()
            rows = self._rows[key] = make()
        return rows

    def __reduce__(self) -> tuple:
        return (SharedRows, ())  # pickled empty


_BUCKET_ARRAYS: dict[tuple[int, ...], np.ndarray] = {}


def bucket_array(buckets: tuple[int, ...]) -> np.ndarray:
    """``buckets`` (bucket models, one per row) as an int64 array (cached: readings and forecasts
    repeat the same bucket sequences; do not mutate; left writable so that the compiled kernels
    see one array type whoever calls them)."""
    found = _BUCKET_ARRAYS.get(buckets)
    if found is None:
        if len(_BUCKET_ARRAYS) >= 256:
            _BUCKET_ARRAYS.clear()
        found = _BUCKET_ARRAYS[buckets] = np.array(buckets, dtype=np.int64)
    return found


def regressor_key(regressors: Sequence[Regressors | None] | None) -> tuple | None:
    if regressors is None:
        return None
    return tuple(None if r is None else tuple(sorted(r.items())) for r in regressors)
