"""Feature extraction for online forecasting: slots, horizon buckets, calendar and lag features.

Pure functions and small classes, no I/O. Time is handled as absolute slot numbers
(``slot = (event_start - EPOCH) // resolution``), so the per-reading path does integer
arithmetic and ring-buffer look-ups instead of datetime work. Lag features are computed at a
forecast *origin* slot ``o`` (the last slot known when forecasting) for a *target* slot
``t = o + h``: the direct multi-horizon strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from domain.forecasting.history import SlotHistory

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
WORKDAY, SATURDAY, SUNDAY_OR_HOLIDAY = 0, 1, 2


def steps_in(span: timedelta, resolution: timedelta) -> int:
    """Number of whole slots of ``resolution`` in ``span`` (at least 1)."""
    return max(1, span // resolution)


def to_slot(event_start: datetime, resolution: timedelta) -> int:
    """Slot number of a timezone-aware ``event_start`` (floored to the resolution grid)."""
    if event_start.tzinfo is None or event_start.utcoffset() is None:
        raise ValueError("event_start must be timezone-aware")
    return (event_start - EPOCH) // resolution


def slot_start(slot: int, resolution: timedelta) -> datetime:
    """UTC start of slot number ``slot``."""
    return EPOCH + slot * resolution


_BUCKETS_OF: dict[tuple[tuple[int, ...], int, int], tuple[int, ...]] = {}


@dataclass(frozen=True, slots=True)
class HorizonBuckets:
    """Horizon buckets in steps: bucket ``b`` covers steps ``(upper[b-1], upper[b]]``.

    Step ``k`` (1-based) of a forecast is the slot starting ``(k - 1) * resolution`` after the
    forecast's ``now_start``, so its horizon (event end minus belief time) is ``k * resolution``.
    Steps past the last edge belong to the last bucket.
    """

    upper: tuple[int, ...]
    labels: tuple[str, ...]

    @classmethod
    def from_edges(cls, edges: tuple[timedelta, ...], resolution: timedelta) -> HorizonBuckets:
        upper: list[int] = []
        labels: list[str] = []
        for edge in sorted(edges):
            steps = steps_in(edge, resolution)
            if not upper or steps > upper[-1]:
                upper.append(steps)
                labels.append(_label(steps * resolution))
        return cls(tuple(upper), tuple(labels))

    def bucket_of(self, step: int) -> int:
        for index, upper in enumerate(self.upper):
            if step <= upper:
                return index
        return len(self.upper) - 1

    def buckets_of(self, first_step: int, count: int) -> tuple[int, ...]:
        """``bucket_of`` of the steps ``first_step .. first_step + count - 1`` (cached: forecasts repeat them)."""
        key = (self.upper, first_step, count)
        found = _BUCKETS_OF.get(key)
        if found is None:
            if len(_BUCKETS_OF) >= 256:
                _BUCKETS_OF.clear()
            found = _BUCKETS_OF[key] = tuple(self.bucket_of(step) for step in range(first_step, first_step + count))
        return found

    def bounds(self, bucket: int) -> tuple[int, int]:
        """``(first_step, last_step)`` of ``bucket``, inclusive."""
        first = self.upper[bucket - 1] + 1 if bucket else 1
        return first, self.upper[bucket]

    def training_step(self, bucket: int, slot: int) -> int:
        """A deterministic, well-mixed step of ``bucket`` to train on for target ``slot``.

        A multiplicative hash of the slot (Knuth) decorrelates the chosen step from the time
        of day, so each bucket's model sees all its horizons at all times of day.
        """
        first, last = self.bounds(bucket)
        width = last - first + 1
        if width == 1:
            return first
        mixed = ((slot * 2654435761 + bucket * 40503) & 0xFFFFFFFF) >> 8
        return first + mixed % width


def _label(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min"


class CalendarFeatures:
    """One-hot calendar features of a slot, in the sensor's local time.

    Keys present (value 1.0): hour of day × day type (``"wd07"``: a workday, 07:00-08:00;
    ``"nd07"``: a weekend day or public holiday) and ``"holiday"`` on public holidays. Absent
    keys mean 0, so the dicts stay sparse. The day of week beyond workday/weekend is left to
    the "same slot last week" lag. Holidays come from the ``holidays`` library for
    ``country`` (ISO code; None: no holidays).
    """

    def __init__(self, timezone: str, country: str | None, resolution: timedelta) -> None:
        self.timezone = timezone
        self.country = country
        self.resolution = resolution
        self._setup()

    def _setup(self) -> None:
        self._tz = ZoneInfo(self.timezone)
        self._holidays = holidays.country_holidays(self.country) if self.country else None
        self._day_cache: dict[date, bool] = {}
        self._slot_cache: dict[int, tuple[dict[str, float], int, int]] = {}
        self._steps_per_day = max(1, timedelta(days=1) // self.resolution)
        self._hour_keys = tuple((f"nd{h:02d}", f"wd{h:02d}") for h in range(24))

    def __getstate__(self) -> tuple[str, str | None, timedelta]:
        return self.timezone, self.country, self.resolution

    def __setstate__(self, state: tuple[str, str | None, timedelta]) -> None:
        self.timezone, self.country, self.resolution = state
        self._setup()

    def keys(self) -> list[str]:
        """Every key :meth:`of_slot` can return, in a fixed order."""
        return [key for pair in self._hour_keys for key in pair] + ["holiday"]

    def is_holiday(self, day: date) -> bool:
        cached = self._day_cache.get(day)
        if cached is None:
            if len(self._day_cache) > 4096:
                self._day_cache.clear()
            cached = self._holidays is not None and day in self._holidays
            self._day_cache[day] = cached
        return cached

    def _slot(self, slot: int) -> tuple[dict[str, float], int, int]:
        cached = self._slot_cache.get(slot)
        if cached is not None:
            return cached
        local = (EPOCH + slot * self.resolution).astimezone(self._tz)
        holiday = self.is_holiday(local.date())
        weekday = local.weekday()
        workday = weekday < 5 and not holiday
        features = {self._hour_keys[local.hour][workday]: 1.0}
        if holiday:
            features["holiday"] = 1.0
        day_class = WORKDAY if workday else (SATURDAY if weekday == 5 and not holiday else SUNDAY_OR_HOLIDAY)
        slot_of_day = (local.hour * 3600 + local.minute * 60 + local.second) // int(self.resolution.total_seconds())
        week_slot = (6 if holiday else weekday) * self._steps_per_day + slot_of_day
        if len(self._slot_cache) > 16384:
            self._slot_cache.clear()
        cached = self._slot_cache[slot] = (features, day_class, week_slot)
        return cached

    slot_info = _slot
    """``(of_slot, day_class, week_slot)`` of a slot in one look-up (the features dict is cached: do not mutate)."""

    def of_slot(self, slot: int) -> dict[str, float]:
        """Calendar features of the slot's start (a cached dict: do not mutate it)."""
        return self._slot(slot)[0]

    def day_class(self, slot: int) -> int:
        """:data:`WORKDAY`, :data:`SATURDAY` or :data:`SUNDAY_OR_HOLIDAY` of the slot's local day."""
        return self._slot(slot)[1]

    def week_slot(self, slot: int) -> int:
        """Slot of the local week (Monday 00:00 is 0); a public holiday counts as a Sunday."""
        return self._slot(slot)[2]


ORIGIN_KEYS = ("y0", "y1", "m1h", "m1d", "m1w", "d1o", "w1o")
LAG_KEYS = (*ORIGIN_KEYS, "d1", "w1", "sd")


class LagFeatures:
    """Lag and rolling-mean features at an origin slot for a target ``horizon`` steps later.

    Keys (values in the unit of the series, then shifted and scaled): ``y0``/``y1`` (last two
    values at the origin), ``m1h``/``m1d``/``m1w`` (means of the last hour, day, week up to the
    origin), ``d1`` (target's slot on the most recent day known at the origin), ``d1o``
    (origin's slot a day earlier), ``w1`` (target's slot a week earlier), ``w1o`` (origin's
    slot a week earlier), ``sd`` (target's slot on the most recent "similar day" known at the
    origin: same day class, workday / Saturday / Sunday or holiday, at most a week back); plus
    ``hzn``, the horizon as a fraction of ``max_horizon``. Nothing
    after the origin is ever read. Unknown values fall back to the most local level known
    (``m1d``, else ``m1w``, else ``default``), so every key is present and finite.
    """

    __slots__ = ("day", "week", "hour", "max_horizon", "calendar")

    def __init__(self, resolution: timedelta, max_horizon: int, calendar: CalendarFeatures) -> None:
        self.calendar = calendar
        self.day = steps_in(DAY, resolution)
        self.week = steps_in(WEEK, resolution)
        self.hour = steps_in(HOUR, resolution)
        self.max_horizon = max_horizon

    def required_capacity(self) -> int:
        """Ring-buffer length that keeps every look-up of any horizon up to ``max_horizon``."""
        return self.week + self.max_horizon + self.day + 2

    def at(
        self,
        history: SlotHistory,
        origin: int,
        horizon: int,
        default: float = 0.0,
        shift: float = 0.0,
        scale: float = 1.0,
    ) -> dict[str, float]:
        """All features, as ``(value - shift) * scale`` (``hzn`` unscaled)."""
        x, level = self.at_origin(history, origin, default, shift, scale)
        self.add_target(x, history, origin, origin + horizon, level, shift, scale)
        return x

    def at_origin(
        self, history: SlotHistory, origin: int, default: float, shift: float, scale: float
    ) -> tuple[dict[str, float], float]:
        """The features that depend on the origin only, and the fallback level (unscaled)."""
        values, level = self.origin_values(history, origin, default, shift, scale)
        return dict(zip(ORIGIN_KEYS, values, strict=True)), level

    def origin_values(
        self, history: SlotHistory, origin: int, default: float, shift: float, scale: float
    ) -> tuple[list[float], float]:
        """:meth:`at_origin` as a list of values in the order of :data:`ORIGIN_KEYS`."""
        return self.scaled_origin(self.origin_raw(history, origin), default, shift, scale)

    def origin_raw(self, history: SlotHistory, origin: int) -> tuple[float, ...]:
        """The origin-only values in the order of :data:`ORIGIN_KEYS`, unscaled, NaN where unknown.
        They stay the same while the history only grows and ``history.last_slot - origin`` is at
        most ``max_horizon + day + 1`` (the ring keeps the week before the origin)."""
        get, mean = history.get, history.mean
        return (
            get(origin),
            get(origin - 1),
            mean(origin, self.hour),
            mean(origin, self.day),
            mean(origin, self.week),
            get(origin - self.day),
            get(origin - self.week),
        )

    @staticmethod
    def scaled_origin(raw: tuple[float, ...], default: float, shift: float, scale: float) -> tuple[list[float], float]:
        """:meth:`origin_raw` values as ``(value - shift) * scale``, unknown ones at the fallback
        level (``m1d``, else ``m1w``, else ``default``), and that level (unscaled)."""
        m1d, m1w = raw[3], raw[4]
        level = m1d if m1d == m1d else (m1w if m1w == m1w else default)
        return [((v if v == v else level) - shift) * scale for v in raw], level

    def add_target(
        self,
        x: dict[str, float],
        history: SlotHistory,
        origin: int,
        target: int,
        level: float,
        shift: float,
        scale: float,
    ) -> None:
        """Add the features that depend on the target too, to ``x`` (from :meth:`at_origin`)."""
        get = history.get
        day, week = self.day, self.week
        horizon = target - origin
        d1 = get(target - day * -(-horizon // day))
        w1 = get(target - week) if horizon <= week else math.nan
        sd = get(self.similar_day(origin, target))
        x["d1"] = ((d1 if d1 == d1 else level) - shift) * scale
        x["w1"] = ((w1 if w1 == w1 else level) - shift) * scale
        x["sd"] = ((sd if sd == sd else level) - shift) * scale
        x["hzn"] = horizon / self.max_horizon

    def similar_day(self, origin: int, target: int) -> int:
        """Slot of the target's time on the latest day of its class known at the origin."""
        day_class = self.calendar.day_class
        wanted = day_class(target)
        day = self.day
        candidate = target - day * -(-(target - origin) // day)
        for _ in range(7):
            if day_class(candidate) == wanted:
                return candidate
            candidate -= day
        return target - self.week
