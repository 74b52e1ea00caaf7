"""The lag model's feature rows as float matrices: the column layout and the calendar of a slot range.

A row holds the features of one (origin, target) pair in the fixed column order of
:class:`LagLayout`; rows are built many at a time with vectorised look-ups: the calendar facts of
every slot in a range come from :class:`CalendarTable` (integer arrays), the values from
:meth:`~domain.forecasting.history.SlotHistory.values_at`. Pure, no I/O.
"""

from __future__ import annotations

import numpy as np

from domain.forecasting.features import LAG_KEYS, ORIGIN_KEYS, CalendarFeatures

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
    """The calendar facts of each slot of a range, as arrays indexed by ``slot - start``, in the
    columns of a :class:`LagLayout`: ``column`` (of the slot's hour x day-type one-hot),
    ``holiday`` (1.0 on public holidays), ``anomaly`` (of the slot's local hour, as the anomaly
    features count it; -1 without them), ``week_slot`` and ``day_class`` (see
    :class:`CalendarFeatures`), and ``similar[k - 1]``: :meth:`LagFeatures.similar_day` of a
    target whose first candidate is ``k`` days back (``k`` = 1 .. ``max_days_back``). The range
    grows on demand (:meth:`cover`); a cache of the calendar, never pickled."""

    __slots__ = ("calendar", "layout", "day", "hour", "week", "max_days_back", "ahead", "start", "column",
                 "holiday", "anomaly", "week_slot", "day_class", "similar", "columns")  # fmt: skip

    def __init__(self, calendar: CalendarFeatures, layout: LagLayout, day: int, hour: int, max_days_back: int) -> None:
        self.calendar, self.layout = calendar, layout
        self.day, self.hour, self.week = day, hour, 7 * day
        self.max_days_back = max_days_back
        self.ahead = self.week  # slots beyond the highest asked for, so that the table is rebuilt once a week
        self.start = 0
        self.week_slot = self.day_class = self.column = self.anomaly = np.zeros(0, dtype=np.intp)
        self.holiday = self.similar = np.zeros(0)
        self.columns = {key: layout.calendar + i for i, key in enumerate(calendar.keys())}
        """Calendar key -> its column in the layout."""

    def reach(self, days_back: int) -> int:
        """Slots before a target that :meth:`cover` must include for its similar days."""
        return (max(days_back, self.max_days_back) + 6) * self.day

    def cover(self, low: int, high: int) -> int:
        """Make the table hold slots ``low .. high`` (and :attr:`ahead` more); returns ``start``."""
        start = self.start
        if low >= start and high < start + len(self.week_slot):
            return start
        slots = range(low, high + 1 + self.ahead)
        slot_info, key_column = self.calendar.slot_info, self.columns
        facts = np.zeros((4, len(slots)), dtype=np.intp)
        holiday = np.zeros(len(slots))
        for i, slot in enumerate(slots):
            features, day_class, week_slot = slot_info(slot)
            for key in features:
                if key == "holiday":
                    holiday[i] = 1.0
                else:
                    facts[0, i] = key_column[key]
            facts[2, i] = week_slot
            facts[3, i] = day_class
        anomaly = self.layout.anomaly
        facts[1] = anomaly + (facts[2] % self.day) // self.hour if anomaly >= 0 else -1
        self.column, self.anomaly, self.week_slot, self.day_class = facts
        self.holiday, self.start = holiday, low
        targets = np.arange(len(slots))
        similar = [self._similar(targets, targets - k * self.day) for k in range(1, self.max_days_back + 1)]
        self.similar = np.stack(similar) + low
        return low

    def _similar(self, targets: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Similar-day offsets (table indices in, slots relative to ``start`` out); where a
        candidate falls before the table the result is not used (see :meth:`reach`)."""
        candidates = first - self.day * np.arange(7)[:, None]  # (7, n)
        classes = self.day_class[np.maximum(candidates, 0)]
        matches = classes == self.day_class[targets]
        return np.where(matches.any(axis=0), first - self.day * matches.argmax(axis=0), targets - self.week)

    def similar_days(self, plan: HorizonPlan, at: np.ndarray | slice) -> np.ndarray:
        """:meth:`LagFeatures.similar_day` slots of the targets of ``plan`` at table indices ``at``
        (the table must cover ``reach(plan.max_days_back)`` slots before them)."""
        if plan.max_days_back <= self.max_days_back:
            return self.similar[plan.days_back - 1, plan.index + at.start if isinstance(at, slice) else at]
        at = np.arange(at.start, at.stop) if isinstance(at, slice) else at
        return self._similar(at, at - plan.days_back * self.day) + self.start


class HorizonPlan:
    """What the rows of targets at ``horizons`` steps after one origin share, whatever the origin:
    their order (``offsets`` from the first target, ``contiguous`` when those are 0, 1, 2, ...;
    ``index``: 0, 1, 2, ...), ``days_back`` (the target's
    slot on the latest day known at the origin is that many days back), the offsets of the
    ``d1`` and ``w1`` slots from the origin, the targets beyond a week (``w1`` unknown; None:
    none) and a row template with ``hzn`` set."""

    __slots__ = ("count", "first_step", "last_step", "offsets", "contiguous", "index", "days_back",
                 "max_days_back", "lag_offsets", "beyond_week", "template")  # fmt: skip

    def __init__(self, horizons: np.ndarray, day: int, week: int, max_horizon: int, size: int) -> None:
        self.count = len(horizons)
        self.first_step, self.last_step = int(horizons.min()), int(horizons.max())
        self.offsets = horizons - self.first_step
        self.index = np.arange(self.count)
        self.contiguous = bool((self.offsets == self.index).all())
        self.days_back = -(-horizons // day)
        self.max_days_back = int(self.days_back.max())
        self.lag_offsets = np.stack((horizons - day * self.days_back, horizons - week))
        self.beyond_week = (horizons > week) if self.last_step > week else None
        self.template = np.zeros((self.count, size))
        self.template[:, 0] = horizons / max_horizon


_PLANS: dict[tuple[int, ...], HorizonPlan] = {}


def horizon_plan(first_step: int, count: int, day: int, week: int, max_horizon: int, size: int) -> HorizonPlan:
    """The :class:`HorizonPlan` of ``count`` consecutive steps from ``first_step`` (cached:
    forecasts repeat them)."""
    key = (first_step, count, day, week, max_horizon, size)
    found = _PLANS.get(key)
    if found is None:
        if len(_PLANS) >= 64:
            _PLANS.clear()
        horizons = np.arange(first_step, first_step + count)
        found = _PLANS[key] = HorizonPlan(horizons, day, week, max_horizon, size)
    return found
